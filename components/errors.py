"""How the server answers when something is wrong: never a traceback.

Callback requests get JSON ``{"error": code, "message": text}`` with a 4xx/5xx status,
which ``assets/callback_errors.js`` shows in a banner (401 sends the browser to sign in).
Page loads get a small self-contained HTML page. Database or Redis outages answer 503
"try again" with ``Retry-After``; the engine's pre-ping reconnects once the service is back.
"""

from __future__ import annotations

import html
import logging
import uuid

import flask
from sqlalchemy import exc as sa_exc
from werkzeug.exceptions import HTTPException

from components.auth import CALLBACK_PATH, BadCallbackInput, login_url
from components.context import NotSignedIn
from domain.admin.errors import AdminError
from domain.auth import AuthError
from domain.errors import BookingError
from domain.permissions import PermissionDenied
from domain.text import TextError

log = logging.getLogger(__name__)

UNAVAILABLE_MESSAGE = (
    "The database is unavailable at the moment, so nothing was read or saved. "
    "Try again in a few seconds."
)
RETRY_AFTER_SECONDS = 5


# Domain errors a callback did not turn into form feedback itself: answered with their
# message (safe to show by contract) instead of a 500. Add a domain's error type here.
CLIENT_ERRORS: dict[type[Exception], tuple[int, str]] = {
    TextError: (400, "invalid-text"),
    AuthError: (400, "refused"),
    # A booking or status change the appointment service refused (BookingError.code
    # says which rule; the message names the conflict).
    BookingError: (409, "booking-refused"),
    # A set-up change the administration services refused (AdminError.code says which
    # rule); pages normally show it next to the field it concerns.
    AdminError: (409, "admin-refused"),
}


def _outage_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [
        sa_exc.OperationalError,
        sa_exc.InterfaceError,
        sa_exc.DisconnectionError,
        sa_exc.TimeoutError,
    ]
    try:
        import redis

        errors += [redis.exceptions.ConnectionError, redis.exceptions.TimeoutError]
    except ImportError:  # pragma: no cover - redis is a dependency
        pass
    return tuple(errors)


OUTAGE_ERRORS = _outage_errors()


def is_callback_request() -> bool:
    return flask.request.path.endswith(CALLBACK_PATH)


def _json(status: int, code: str, message: str) -> flask.Response:
    response = flask.jsonify({"error": code, "message": message})
    response.status_code = status
    return response


def _page(status: int, title: str, message: str, *, retry: bool = False) -> flask.Response:
    refresh = f'<meta http-equiv="refresh" content="{RETRY_AFTER_SECONDS * 2}">' if retry else ""
    body = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">{refresh}
<title>{html.escape(title)} · Clinic scheduling</title>
<link rel="stylesheet" href="/assets/vendor/bootstrap.min.css"></head>
<body class="bg-light"><main class="container" style="max-width: 40rem; margin-top: 15vh">
<div class="card shadow-sm"><div class="card-body p-4">
<h1 class="h4">{html.escape(title)}</h1><p class="text-muted">{html.escape(message)}</p>
<a class="btn btn-primary" href="{html.escape(flask.request.full_path.rstrip("?"))}">Try again</a>
<a class="btn btn-link" href="/">Start page</a>
</div></div></main></body></html>"""
    return flask.Response(body, status=status, mimetype="text/html")


def _answer(status: int, code: str, message: str, *, retry: bool = False) -> flask.Response:
    if is_callback_request():
        response = _json(status, code, message)
    else:
        response = _page(status, _TITLES.get(status, "Something went wrong"), message, retry=retry)
    if retry:
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


_TITLES = {
    400: "That request was not understood",
    401: "Please sign in",
    403: "You don't have access to this",
    404: "Page not found",
    503: "Temporarily unavailable",
}


def install(server: flask.Flask) -> None:
    @server.errorhandler(NotSignedIn)
    def _not_signed_in(_exc: NotSignedIn) -> flask.Response:
        if is_callback_request():
            return _json(401, "signed-out", "Your session has ended. Sign in again to continue.")
        return flask.redirect(login_url(flask.request.full_path.rstrip("?")))

    @server.errorhandler(PermissionDenied)
    def _denied(exc: PermissionDenied) -> flask.Response:
        return _answer(403, "forbidden", str(exc))

    @server.errorhandler(BadCallbackInput)
    def _bad_input(exc: BadCallbackInput) -> flask.Response:
        return _answer(400, "bad-request", f"The request was not understood: {exc}")

    def _client_error(exc: Exception) -> flask.Response:
        status, code = next(v for t, v in CLIENT_ERRORS.items() if isinstance(exc, t))
        return _answer(status, code, getattr(exc, "message", None) or str(exc))

    for error in CLIENT_ERRORS:
        server.register_error_handler(error, _client_error)

    def _outage(exc: BaseException) -> flask.Response:
        # One line, no traceback: an outage is expected operations, not a bug.
        log.warning("service unavailable: %s: %s", type(exc).__name__, str(exc).splitlines()[0])
        return _answer(503, "unavailable", UNAVAILABLE_MESSAGE, retry=True)

    for error in OUTAGE_ERRORS:
        server.register_error_handler(error, _outage)

    @server.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> flask.Response | HTTPException:
        if is_callback_request():
            return _json(exc.code or 500, "http", exc.description or exc.name)
        return exc

    @server.errorhandler(Exception)
    def _unexpected(exc: Exception) -> flask.Response:
        reference = uuid.uuid4().hex[:8]
        log.exception("unexpected error (reference %s) on %s", reference, flask.request.path)
        return _answer(
            500,
            "internal",
            f"Something went wrong on our side (reference {reference}). "
            "It has been logged; try again, and tell your administrator if it persists.",
        )

    @server.after_request
    def _headers(response: flask.Response) -> flask.Response:
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        # Pages and callback answers carry patient data: keep them out of shared caches
        # and the browser's back/forward cache on shared front-desk computers.
        if not flask.request.path.startswith(("/assets/", "/_dash-component-suites/")):
            headers["Cache-Control"] = "no-store"
        return response
