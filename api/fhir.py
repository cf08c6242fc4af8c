"""The FHIR R4 read API under ``/fhir/``: Appointment, Schedule and Slot, JSON only.

- ``GET /fhir/metadata``: the CapabilityStatement (no token needed, it holds no data);
- ``GET /fhir/<type>?<search>``: a searchset Bundle; ``GET /fhir/<type>/<id>``: one
  resource.

Every other request needs ``Authorization: Bearer <API token>`` and sees only the
token's organization. Errors are OperationOutcomes with the HTTP status: 400 bad search,
401 no or bad token, 404 unknown type or id, 405 any write, 406 a format other than JSON,
500 (with a reference that is logged) and 503 while the database is unreachable.
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

import flask
from werkzeug.exceptions import HTTPException

from components.auth import PUBLIC, TokenAccess, route_access, token_principal
from components.context import app_context
from components.errors import OUTAGE_ERRORS, RETRY_AFTER_SECONDS
from domain.api_tokens import ApiPrincipal, authenticate_api_token
from domain.fhir import service
from domain.fhir.resources import FhirError, operation_outcome

log = logging.getLogger(__name__)
FHIR_JSON = "application/fhir+json"
READ_METHODS = ("GET", "HEAD")
ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]

blueprint = flask.Blueprint("fhir", __name__, url_prefix="/fhir")


def fhir_response(resource: dict[str, Any], status: int = 200) -> flask.Response:
    body = json.dumps(resource, ensure_ascii=False, separators=(",", ":"))
    return flask.Response(body, status=status, mimetype=FHIR_JSON)


def outcome(status: int, code: str, diagnostics: str) -> flask.Response:
    return fhir_response(operation_outcome(code, diagnostics), status)


# --------------------------------------------------------------------------- auth


def _bearer() -> ApiPrincipal | None:
    scheme, _, token = flask.request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return authenticate_api_token(app_context(), token.strip(), scope="read")


def _unauthorized() -> flask.Response:
    presented = flask.request.headers.get("Authorization")
    response = outcome(
        401,
        "login",
        "This API needs a valid token: send 'Authorization: Bearer <token>' "
        "(tokens are made with `appointments create-api-token`)."
        if not presented
        else "The API token is not valid (unknown, revoked or expired).",
    )
    challenge = 'Bearer realm="fhir"'
    if presented:
        challenge += ', error="invalid_token"'
    response.headers["WWW-Authenticate"] = challenge
    return response


FHIR_TOKEN = TokenAccess("fhir-api", authenticate=_bearer, refuse=_unauthorized)


def _organization_id() -> int:
    principal: ApiPrincipal = token_principal(FHIR_TOKEN)
    return principal.organization_id


def _base() -> str:
    return flask.request.url_root.rstrip("/") + blueprint.url_prefix  # type: ignore[operator]


def _read_only() -> None:
    if flask.request.method not in READ_METHODS:
        raise FhirError(
            405, "not-supported", "This API is read-only: only GET requests are answered."
        )


# --------------------------------------------------------------------------- routes


@blueprint.route("/metadata", methods=ALL_METHODS)
@route_access(PUBLIC)
def metadata() -> flask.Response:
    _read_only()
    return fhir_response(service.metadata(_base()))


@blueprint.route("/<kind>", methods=ALL_METHODS)
@route_access(FHIR_TOKEN)
def search(kind: str) -> flask.Response:
    _read_only()
    pairs = list(flask.request.args.items(multi=True))
    return fhir_response(service.search(app_context(), _organization_id(), kind, pairs, _base()))


@blueprint.route("/<kind>/<ident>", methods=ALL_METHODS)
@route_access(FHIR_TOKEN)
def read(kind: str, ident: str) -> flask.Response:
    _read_only()
    if kind not in service.RESOURCE_TYPES:
        raise FhirError(404, "not-supported", f"This server has no {kind} resources.")
    return fhir_response(service.read(app_context(), _organization_id(), kind, ident))


@blueprint.route("/<path:rest>", methods=ALL_METHODS)
@route_access(FHIR_TOKEN)
def unknown(rest: str) -> flask.Response:
    raise FhirError(
        404, "not-supported", f"/fhir/{rest} is not an interaction this server supports."
    )


# --------------------------------------------------------------------------- errors


@blueprint.errorhandler(FhirError)
def _fhir_error(exc: FhirError) -> flask.Response:
    return outcome(exc.status, exc.code, exc.diagnostics)


@blueprint.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> flask.Response:
    code = {404: "not-found", 405: "not-supported", 413: "too-costly"}.get(exc.code or 0, "invalid")
    return outcome(exc.code or 400, code, exc.description or exc.name)


def _outage(exc: BaseException) -> flask.Response:
    log.warning("FHIR API unavailable: %s: %s", type(exc).__name__, str(exc).splitlines()[0])
    response = outcome(
        503, "transient", "The database is unavailable at the moment; try again shortly."
    )
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


@blueprint.errorhandler(Exception)
def _unexpected(exc: Exception) -> flask.Response:
    if isinstance(exc, OUTAGE_ERRORS):
        return _outage(exc)
    reference = uuid.uuid4().hex[:8]
    log.exception("unexpected FHIR API error (reference %s) on %s", reference, flask.request.path)
    return outcome(500, "exception", f"Something went wrong on our side (reference {reference}).")


def install(server: flask.Flask) -> None:
    server.register_blueprint(blueprint)
