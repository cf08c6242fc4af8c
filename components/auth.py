"""Access control for pages, callbacks and routes: declared where they are defined, checked
in one place on the server, denied by default.

Page authors write::

    from components.auth import callback
    from domain.permissions import Permission

    dash.register_page(__name__, path="/analytics", permission=Permission.VIEW_ANALYTICS)

    @callback(Output(...), Input(...), permission=Permission.VIEW_ANALYTICS)
    def refresh(n: int | None, clinic_id: int | None) -> ...: ...

``permission`` is a ``Permission``, a tuple of them (any one suffices), ``SIGNED_IN`` (any
signed-in user) or ``PUBLIC`` (the sign-in page only). Flask routes used by programs rather
than people (a calendar feed link, the FHIR API) declare a ``TokenAccess`` instead: the
request must carry a valid token of that kind, a session cookie never opens them, and a
token never opens anything else.

How it is enforced, all in ``install`` (called by ``app.create_app``):

- every request passes one ``before_request`` hook. Page loads need a session (else a
  redirect to ``/login``) and the page's permission (else the page answers 403). Callback
  requests (``/_dash-update-component``) are validated (JSON shape, known callback, inputs
  matching its declaration: 400 otherwise), then the callback's declared permission is
  checked (401 / 403 JSON). Any other Flask route must be marked with ``@route_access``; a
  token route's scheme authenticates the request (its own answer when that fails) and the
  view reads who the token stands for with ``token_principal(scheme)``;
- deny by default: a page registered without ``permission=``, a callback registered with
  plain ``dash.callback``, a route without ``@route_access`` are refused for everybody
  (and logged at start-up), so a forgotten declaration fails loudly, never open;
- the page router callback is public, and each page's layout is wrapped so that in-app
  navigation shows a sign-in redirect or a "no access" notice instead of the page;
- callbacks' arguments are checked against their type annotations (``int | None``,
  ``str``, ``list[int]``, ``Literal[...]``): a mismatch is a 400, not a crash inside the
  callback. Annotate every callback parameter.

Dash builds a "validation layout" by rendering every page once and embeds it in the HTML
sent to every visitor; ``install`` makes that render happen at start-up as nobody, so no
page can put one user's data into everybody's HTML.
"""

from __future__ import annotations

import functools
import inspect
import logging
import math
import types
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints
from urllib.parse import quote

import dash
import dash_bootstrap_components as dbc
import flask
from dash import dcc, html

from components.context import VALIDATION_RENDER, app_context, current_user, set_current_user
from domain.auth import UserInfo
from domain.permissions import ROLE_LABELS, Permission, allowed_any, parse_permission

log = logging.getLogger(__name__)

PUBLIC = "public"
SIGNED_IN = "signed_in"
TOKEN_PREFIX = "token:"
Access = tuple[str, ...]
AccessSpec = str | Permission | Iterable[str | Permission]

ROUTER_OUTPUT_MARK = "_pages_content.children"
CALLBACK_PATH = "_dash-update-component"
_ROUTE_ACCESS_ATTR = "_clinic_access"
_AUTHORIZED = "clinic_callback_authorized"
_TOKEN_PRINCIPAL = "clinic_token_principal"
# Largest integer a browser produces exactly; beyond it ids and counts are forged.
MAX_SAFE_INT = 2**53 - 1
MAX_JSON_DEPTH = 32

# Callback id (Dash's output key) -> declared access. Module-level because Dash's own
# registry of `dash.callback`s is; filled at import of the page modules.
_CALLBACK_ACCESS: dict[str, Access] = {}


class BadCallbackInput(Exception):
    """A callback request that does not match what the callback accepts (HTTP 400)."""


def normalize_access(spec: AccessSpec) -> Access:
    """``PUBLIC`` / ``SIGNED_IN`` alone, or one or more known permissions."""
    if isinstance(spec, str):
        if spec in (PUBLIC, SIGNED_IN):
            return (spec,)
        return (parse_permission(spec).value,)
    items = tuple(spec)
    if not items:
        raise ValueError("permission=() would refuse everybody; name at least one")
    return tuple(parse_permission(str(p)).value for p in items)


def can_access(user: UserInfo | None, access: Access | None) -> bool:
    """May this signed-in user (or nobody) use something declared with ``access``? Token
    routes are never opened by a session."""
    if access is None or access[0].startswith(TOKEN_PREFIX):
        return False
    if access == (PUBLIC,):
        return True
    if user is None:
        return False
    if access == (SIGNED_IN,):
        return True
    return allowed_any(user.role, access)


# --------------------------------------------------------------------------- callbacks


def callback(*args: Any, permission: AccessSpec, **kwargs: Any) -> Callable[[Callable], Callable]:
    """``dash.callback`` with the permission the session must hold to run it."""
    access = normalize_access(permission)
    register = dash.callback(*args, **kwargs)
    callback_id = dash._callback.GLOBAL_CALLBACK_LIST[-1]["output"]
    _CALLBACK_ACCESS[callback_id] = access

    def decorate(fn: Callable) -> Callable:
        return register(_checked_arguments(fn, callback_id))

    return decorate


def callback_access(callback_id: str) -> Access | None:
    if ROUTER_OUTPUT_MARK in callback_id:
        return (PUBLIC,)
    return _CALLBACK_ACCESS.get(callback_id)


def _checked_arguments(fn: Callable, callback_id: str) -> Callable:
    signature = inspect.signature(fn)
    hints = get_type_hints(fn)
    checks = {
        name: hints[name]
        for name in signature.parameters
        if name in hints and hints[name] is not Any
    }

    @functools.wraps(fn)
    def checked(*args: Any, **kwargs: Any) -> Any:
        if flask.has_request_context() and flask.g.get(_AUTHORIZED) != callback_id:
            # Only reachable if the app was built without ``install``: refuse rather
            # than run unchecked.
            raise PermissionError(f"callback {callback_id} ran without authorization")
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise BadCallbackInput(f"wrong number of values: {exc}") from exc
        for name, value in bound.arguments.items():
            hint = checks.get(name)
            if hint is not None and not _matches(value, hint):
                raise BadCallbackInput(f"{name}: expected {_describe(hint)}")
        return fn(*args, **kwargs)

    return checked


def _describe(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


def _matches(value: Any, hint: Any) -> bool:
    """Does a JSON value fit a callback parameter's annotation? Unknown annotations
    (TypedDicts, classes) are not checked."""
    if hint is Any or hint is object:
        return True
    if hint is None or hint is type(None):
        return value is None
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        return any(_matches(value, h) for h in get_args(hint))
    if origin is Literal:
        return any(value == v and type(value) is type(v) for v in get_args(hint))
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return type(value) is int and abs(value) <= MAX_SAFE_INT
    if hint is float:
        return type(value) in (int, float) and math.isfinite(value)
    if hint is str:
        return isinstance(value, str)
    if hint is list or origin is list:
        if not isinstance(value, list):
            return False
        (item,) = get_args(hint) or (Any,)
        return all(_matches(v, item) for v in value)
    if hint is dict or origin is dict:
        if not isinstance(value, dict):
            return False
        key_hint, item = get_args(hint) or (Any, Any)
        return all(_matches(k, key_hint) and _matches(v, item) for k, v in value.items())
    return True


# --------------------------------------------------------------------------- pages


def page_access(page: dict[str, Any]) -> Access | None:
    spec = page.get("permission")
    if spec is None:
        return None
    try:
        return normalize_access(spec)
    except ValueError:
        return None


def visible_pages(user: UserInfo | None) -> list[dict[str, Any]]:
    """Pages for navigation: listed (``nav`` not False) and open to ``user``."""
    return sorted(
        (
            p
            for p in dash.page_registry.values()
            if p.get("nav", True) and can_access(user, page_access(p))
        ),
        key=lambda p: p.get("order", 100),
    )


def safe_next(target: str | None) -> str:
    """Where to go after signing in: only a path of this site, never another host."""
    if (
        not isinstance(target, str)
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or any(ord(c) < 32 for c in target)
        or target.startswith("/login")
    ):
        return "/"
    return target


def login_url(next_path: str) -> str:
    return "/login" if next_path in ("", "/") else f"/login?next={quote(next_path, safe='/')}"


def _forbidden_notice(page: dict[str, Any], user: UserInfo) -> html.Div:
    return dbc.Alert(
        [
            html.H4("You don't have access to this page", className="alert-heading"),
            html.P(
                f"“{page.get('name', page['path'])}” is not available to the "
                f"{ROLE_LABELS.get(user.role, user.role)} role. "
                "If you need it, ask your administrator."
            ),
            dbc.Button("Back to the start page", href="/", color="primary", outline=True),
        ],
        color="warning",
        className="mt-3",
        id="access-denied",
    )


def _guarded_layout(page: dict[str, Any], layout: Any) -> Callable[..., Any]:
    @functools.wraps(layout if callable(layout) else (lambda **_kw: None))
    def guarded(**kwargs: Any) -> Any:
        def render() -> Any:
            return layout(**kwargs) if callable(layout) else layout

        if flask.g.get(VALIDATION_RENDER):
            try:
                return render()
            except Exception:  # a page that needs a user has no skeleton to offer here
                return html.Div()
        access = page_access(page)
        if access == (PUBLIC,):
            return render()
        user = current_user()
        if user is None:
            return dcc.Location(
                id="auth-redirect", href=login_url(page["relative_path"]), refresh=True
            )
        if not can_access(user, access):
            return _forbidden_notice(page, user)
        return render()

    guarded._clinic_guarded = True  # type: ignore[attr-defined]
    return guarded


def _wrap_page_layouts() -> None:
    for page in dash.page_registry.values():
        layout = page.get("layout")
        if not getattr(layout, "_clinic_guarded", False):
            page["layout"] = _guarded_layout(page, layout)


# --------------------------------------------------------------------------- routes


@dataclass(frozen=True)
class TokenAccess:
    """Access by a secret token in the request instead of a signed-in session.

    ``authenticate`` reads ``flask.request`` and returns who the token stands for (any
    object; e.g. an organization's API client) or None; ``refuse`` is the answer to a
    request without a valid token (e.g. 401 with ``WWW-Authenticate``, or a plain 404 for a
    secret link). Names must be unique.
    """

    name: str
    authenticate: Callable[[], object | None]
    refuse: Callable[[], flask.Response]


_TOKEN_SCHEMES: dict[str, TokenAccess] = {}


def token_principal(scheme: TokenAccess) -> Any:
    """Who the request's token stands for, as ``scheme.authenticate`` returned it. Only
    callable in a view declared with ``@route_access(scheme)``."""
    held = flask.g.get(_TOKEN_PRINCIPAL)
    if held is None or held[0] != scheme.name:
        # Only reachable if the app was built without ``install``: refuse, never guess.
        raise PermissionError(f"no {scheme.name} token was checked for this request")
    return held[1]


def route_access(permission: AccessSpec | TokenAccess) -> Callable[[Callable], Callable]:
    """Mark a Flask view function (a download, an export, an API) with the access it
    needs: a permission spec as for pages, or a ``TokenAccess`` scheme."""
    if isinstance(permission, TokenAccess):
        known = _TOKEN_SCHEMES.setdefault(permission.name, permission)
        if known is not permission:
            raise ValueError(f"two token schemes are named {permission.name!r}")
        access: Access = (TOKEN_PREFIX + permission.name,)
    else:
        access = normalize_access(permission)

    def mark(view: Callable) -> Callable:
        setattr(view, _ROUTE_ACCESS_ATTR, access)
        return view

    return mark


class AccessPolicy:
    """What ``install`` learnt about one app: its endpoints and callbacks."""

    def __init__(self, app: dash.Dash) -> None:
        self.app = app
        prefix = app.config.routes_pathname_prefix
        self.page_endpoints = {prefix, f"{prefix}<path:path>"}
        self.callback_endpoint = f"{prefix}{CALLBACK_PATH}"
        self.open_endpoints = {
            "static",
            "_dash_assets.static",
            f"{prefix}_dash-component-suites/<string:package_name>/<path:fingerprinted_path>",
            f"{prefix}_dash-layout",
            f"{prefix}_dash-dependencies",
            f"{prefix}_reload-hash",
            f"{prefix}_favicon.ico",
        }
        self.unprotected = sorted(
            cid
            for cid, cb in app.callback_map.items()
            if callback_access(cid) is None and "callback" in cb
        ) + sorted(p["module"] for p in dash.page_registry.values() if page_access(p) is None)
        for name in self.unprotected:
            log.error("%s declares no permission: every request to it will be refused", name)

    def page_for(self, path: str) -> dict[str, Any] | None:
        from dash._pages import _path_to_page

        page, _variables = _path_to_page(self.app.strip_relative_path(path))
        return page or None


def _json_error(status: int, code: str, message: str) -> flask.Response:
    response = flask.jsonify({"error": code, "message": message})
    response.status_code = status
    return response


def _authorize() -> Any:
    policy: AccessPolicy = flask.current_app.extensions["clinic_access"]
    endpoint = flask.request.endpoint
    if endpoint is None or endpoint in policy.open_endpoints:
        return None  # unknown URL: Flask answers 404/405
    if endpoint == policy.callback_endpoint:
        return _authorize_callback(policy)
    if endpoint in policy.page_endpoints:
        return _authorize_page(policy)
    view = flask.current_app.view_functions.get(endpoint)
    access = getattr(view, _ROUTE_ACCESS_ATTR, None)
    if access is None:
        log.error("route %s declares no access (@route_access); refused", endpoint)
        flask.abort(403)
    if access[0].startswith(TOKEN_PREFIX):
        scheme = _TOKEN_SCHEMES[access[0][len(TOKEN_PREFIX) :]]
        principal = scheme.authenticate()
        if principal is None:
            return scheme.refuse()
        setattr(flask.g, _TOKEN_PRINCIPAL, (scheme.name, principal))
        return None
    if not can_access(current_user(), access):
        if current_user() is None:
            return flask.redirect(login_url(flask.request.full_path.rstrip("?")))
        flask.abort(403)
    return None


def _authorize_page(policy: AccessPolicy) -> Any:
    request = flask.request
    page = policy.page_for(request.path)
    access = page_access(page) if page else None
    user = current_user()
    if page is not None and access == (PUBLIC,):
        if user is not None and page["path"] == "/login":
            return flask.redirect(safe_next(request.args.get("next")))
        return None
    if user is None:
        return flask.redirect(login_url(request.full_path.rstrip("?")))
    if page is not None and not can_access(user, access):
        # The app still loads (inside it the page shows why it is refused).
        return flask.make_response(policy.app.index(), 403)
    return None


def _json_depth_ok(value: Any) -> bool:
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return False
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
            stack.extend((k, depth + 1) for k in item)
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
        elif isinstance(item, str):
            if "\x00" in item:
                return False
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return False
        elif isinstance(item, bool) or item is None:
            pass
        elif isinstance(item, int):
            if abs(item) > MAX_SAFE_INT:
                return False
        elif isinstance(item, float) and not math.isfinite(item):
            return False
    return True


def _is_dependency(item: Any, declared: dict[str, Any]) -> bool:
    """One payload entry for a declared Input/State: {id, property, value} (a list of them
    for pattern-matching ALL/ALLSMALLER)."""
    wildcard = isinstance(declared["id"], str) and declared["id"].startswith("{")
    entries = item if wildcard and isinstance(item, list) else [item]
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("property"), str):
            return False
        if entry["property"] != declared["property"]:
            return False
        ident = entry.get("id")
        if not isinstance(ident, str | dict):
            return False
        if not wildcard and ident != declared["id"]:
            return False
    return True


def _is_output_entry(entry: Any, declared: Any) -> bool:
    """One payload entry for a declared Output: {id, property}, or a list of them when the
    output is pattern-matching (ALL)."""
    wildcard = declared.has_wildcard()
    if isinstance(entry, list) and not wildcard:
        return False
    for e in entry if isinstance(entry, list) else [entry]:
        if not isinstance(e, dict) or not isinstance(e.get("property"), str):
            return False
        # An output declared with allow_duplicate comes as "property@<hash>".
        if e["property"].split("@", 1)[0] != declared.component_property:
            return False
        if not (
            isinstance(e.get("id"), dict) if wildcard else e.get("id") == declared.component_id
        ):
            return False
    return True


def _outputs_match(outputs: Any, declared: Any) -> bool:
    if isinstance(declared, list | tuple):  # a multi-output callback
        return (
            isinstance(outputs, list)
            and len(outputs) == len(declared)
            and all(_is_output_entry(o, d) for o, d in zip(outputs, declared, strict=True))
        )
    return _is_output_entry(outputs, declared)


def _validate_body(policy: AccessPolicy) -> tuple[str, dict[str, Any]]:
    request = flask.request
    try:
        body = request.get_json(silent=True)
    except RecursionError:
        body = None
    if not isinstance(body, dict):
        raise BadCallbackInput("the request body must be a JSON object")
    if not _json_depth_ok(body):
        raise BadCallbackInput("the request holds values no browser sends")
    output = body.get("output")
    if not isinstance(output, str):
        raise BadCallbackInput("'output' must name a callback")
    cb = policy.app.callback_map.get(output)
    if cb is None or "callback" not in cb:
        raise BadCallbackInput("unknown callback")
    for key, declared in (("inputs", cb["inputs"]), ("state", cb["state"])):
        items = body.get(key, [])
        if not isinstance(items, list) or len(items) != len(declared):
            raise BadCallbackInput(f"'{key}' must list {len(declared)} values")
        if not all(_is_dependency(i, d) for i, d in zip(items, declared, strict=True)):
            raise BadCallbackInput(f"'{key}' does not match the callback")
    if not cb.get("no_output") and not _outputs_match(body.get("outputs"), cb["output"]):
        raise BadCallbackInput("'outputs' does not match the callback")
    changed = body.get("changedPropIds", [])
    if not isinstance(changed, list) or not all(isinstance(c, str) for c in changed):
        raise BadCallbackInput("'changedPropIds' must be a list of names")
    return output, cb


def _authorize_callback(policy: AccessPolicy) -> Any:
    output, _cb = _validate_body(policy)
    if ROUTER_OUTPUT_MARK in output:
        # Dash's own page router: its arguments are checked here, as ours are by type.
        pathname, search = (i.get("value") for i in flask.request.get_json()["inputs"][:2])
        prefix = policy.app.config.requests_pathname_prefix
        if not isinstance(pathname, str) or not isinstance(search, str | None):
            raise BadCallbackInput("the page address must be text")
        if not pathname.startswith(prefix):
            raise BadCallbackInput(f"the page address must start with {prefix}")
    access = callback_access(output)
    if access is None:
        log.error("callback %s declares no permission; refused", output)
        return _json_error(403, "forbidden", "This action is not available.")
    if access != (PUBLIC,):
        user = current_user()
        if user is None:
            return _json_error(
                401, "signed-out", "Your session has ended. Sign in again to continue."
            )
        if not can_access(user, access):
            return _json_error(
                403,
                "forbidden",
                f"Your role ({ROLE_LABELS.get(user.role, user.role)}) does not allow this.",
            )
    flask.g.setdefault(_AUTHORIZED, output)
    return None


# --------------------------------------------------------------------------- install


def _run_dash_first_request_setup(app: dash.Dash) -> None:
    """Run Dash's once-per-process setup (callback registry, page router, validation
    layout) now, as nobody, instead of inside the first visitor's request."""
    server = app.server
    with server.test_request_context("/"):
        setattr(flask.g, VALIDATION_RENDER, True)
        for hook in list(server.before_request_funcs.get(None, [])):
            if getattr(hook, "__name__", "") in ("_setup_server", "router_sync"):
                hook()


@route_access(PUBLIC)
def _logout() -> flask.Response:
    from components.errors import OUTAGE_ERRORS
    from domain.auth import end_sessions

    user = current_user() if "uid" in flask.session else None
    if user is not None:
        try:
            end_sessions(app_context(), user.id)
        except OUTAGE_ERRORS:
            # Still drop this browser's cookie; other copies end at the next sign-out.
            log.warning("database unavailable at sign-out of user %s", user.id)
    set_current_user(None)
    return flask.redirect("/login")


@route_access(PUBLIC)
def _health() -> flask.Response:
    """For load balancers and deploy scripts: 200 when the database answers (a failure
    raises and is answered 503 by components.errors)."""
    app_context().db.ping()
    return flask.jsonify({"status": "ok"})


def install(app: dash.Dash) -> AccessPolicy:
    """Wire access control into a Dash app whose pages are registered."""
    server = app.server
    _wrap_page_layouts()
    _run_dash_first_request_setup(app)
    # POST only (the navigation's sign-out form): a link on another site cannot sign out.
    server.add_url_rule("/logout", "logout", _logout, methods=["POST"])
    server.add_url_rule("/healthz", "healthz", _health, methods=["GET"])
    policy = AccessPolicy(app)
    server.extensions["clinic_access"] = policy
    server.before_request(_authorize)
    return policy
