"""Who may open which page and run which callback, checked over HTTP with real sessions.

The matrix tests walk every registered page and every server callback, so pages added
later are covered without editing this file: a page or callback that forgets to declare
its permission fails ``test_every_page_callback_and_route_declares_who_may_use_it``.
"""

from __future__ import annotations

import json
from datetime import timedelta

import dash
import pytest
from dash import Input, Output, html

from app import create_app
from components.auth import PUBLIC, callback_access, can_access, login_url, page_access
from data.vocabulary import ROLES
from domain.auth import UserInfo
from settings import Settings
from tests.dash_client import Answer, DashClient
from tests.factories import TEST_PASSWORD
from tests.integration.conftest import World


def _as_user(role: str) -> UserInfo:
    return UserInfo(1, 1, "Org", "Someone", "x@y.z", role, None, True, 1, None)


def _pages() -> list[dict]:
    """Registered pages with a fixed address (templated ones need real ids)."""
    return [p for p in dash.page_registry.values() if not p.get("path_template")]


def _server_callbacks(world: World) -> list[str]:
    return sorted(k for k, cb in world.app.callback_map.items() if "callback" in cb)


def test_every_page_callback_and_route_declares_who_may_use_it(access_world: World) -> None:
    policy = access_world.app.server.extensions["clinic_access"]
    assert policy.unprotected == []
    assert all(page_access(p) is not None for p in dash.page_registry.values())
    assert all(callback_access(k) is not None for k in _server_callbacks(access_world))
    server = access_world.app.server
    for rule in server.url_map.iter_rules():
        declared = hasattr(server.view_functions[rule.endpoint], "_clinic_access")
        builtin = rule.endpoint in policy.open_endpoints | policy.page_endpoints | {
            policy.callback_endpoint
        }
        assert declared or builtin, rule.rule


def test_visitors_who_are_not_signed_in_are_sent_to_sign_in(access_world: World) -> None:
    client = access_world.client()
    for page in _pages():
        answer = client.get(page["path"])
        if page_access(page) == (PUBLIC,):
            assert answer.status == 200, page["path"]
        else:
            assert answer.status == 302, page["path"]
            assert answer.headers["Location"] == login_url(page["path"])
    assert client.get("/settings?tab=x").headers["Location"] == "/login?next=/settings%3Ftab%3Dx"
    # In-app navigation after the session ended: the page is replaced by a redirect.
    routed = client.open_page("/settings").output("_pages_content.children")
    assert routed["type"] == "Location" and routed["props"]["href"] == "/login?next=/settings"
    refused = client.call("settings-staff.children", {"settings-show-inactive.value": True})
    assert refused.status == 401 and refused.json()["error"] == "signed-out"


@pytest.mark.parametrize("role", ROLES)
def test_each_role_opens_exactly_the_pages_its_permissions_allow(
    access_world: World, role: str
) -> None:
    client = access_world.signed_in(role)
    for page in _pages():
        if page["path"] == "/login":
            continue
        allowed = can_access(_as_user(role), page_access(page))
        answer = client.get(page["path"])
        assert answer.status == (200 if allowed else 403), (role, page["path"])
        routed = json.dumps(client.open_page(page["path"]).json())
        assert ('"access-denied"' not in routed) == allowed, (role, page["path"])


@pytest.mark.parametrize("role", ROLES)
def test_each_role_runs_exactly_the_callbacks_its_permissions_allow(
    access_world: World, role: str
) -> None:
    client = access_world.signed_in(role)
    anonymous = access_world.client()
    for key in _server_callbacks(access_world):
        access = callback_access(key)
        output = key.strip(".").split("...")[0]
        payload = client.payload(output)
        answer = client.post_callback(payload)
        if can_access(_as_user(role), access):
            assert answer.status not in (401, 403), (role, key, answer.text)
            assert answer.status < 500, (role, key, answer.text)
        else:
            assert answer.status == 403, (role, key, answer.text)
            assert "does not allow" in answer.json()["message"]
        if access != (PUBLIC,):
            assert anonymous.post_callback(payload).status == 401, key


def test_the_role_matrix_in_the_readme_is_the_one_in_the_code() -> None:
    from pathlib import Path

    from domain.permissions import permission_matrix_markdown

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert permission_matrix_markdown() in readme


def _fresh_app(world: World) -> dash.Dash:
    settings = Settings(database_url=world.db.url, secret_key="integration-secret")
    return create_app(settings)


def _admin(app: dash.Dash) -> DashClient:
    return DashClient.for_flask(app.server).signed_in("admin@a.test", TEST_PASSWORD)


def test_a_callback_registered_without_a_permission_is_refused_to_everyone(
    access_world: World,
) -> None:
    dash.callback(Output("forgotten-output", "children"), Input("forgotten-input", "value"))(
        lambda value: f"secret {value}"
    )
    app = _fresh_app(access_world)
    try:
        assert "forgotten-output.children" in app.server.extensions["clinic_access"].unprotected
        answer = _admin(app).call("forgotten-output.children", {"forgotten-input.value": 1})
        assert answer.status == 403
        assert "secret" not in answer.text
    finally:
        app.server.extensions["clinic"].db.dispose()


def test_a_page_registered_without_a_permission_is_refused_to_everyone(
    access_world: World,
) -> None:
    dash.register_page("tests.unguarded", path="/unguarded", layout=html.Div("secret page content"))
    try:
        app = _fresh_app(access_world)
        admin = _admin(app)
        assert admin.get("/unguarded").status == 403
        routed = admin.open_page("/unguarded")
        assert "secret page content" not in routed.text
        assert "access-denied" in routed.text
    finally:
        del dash.page_registry["tests.unguarded"]
        app.server.extensions["clinic"].db.dispose()


def test_a_route_without_declared_access_is_refused(access_world: World) -> None:
    app = _fresh_app(access_world)
    app.server.add_url_rule("/export.csv", "export", lambda: "patient,phone\n")
    try:
        assert _admin(app).get("/export.csv").status == 403
    finally:
        app.server.extensions["clinic"].db.dispose()


def test_callback_arguments_of_the_wrong_type_are_refused_before_the_callback_runs(
    access_world: World,
) -> None:
    admin = access_world.signed_in("admin")
    for value in ("yes", 1, [True], {"a": 1}):
        answer = admin.call("settings-staff.children", {"settings-show-inactive.value": value})
        assert answer.status == 400, value
        assert "include_inactive" in answer.json()["message"]
    ok = admin.call("settings-staff.children", {"settings-show-inactive.value": True})
    assert ok.status == 200


# --------------------------------------------------------------------------- sessions


def test_the_session_cookie_is_http_only_and_same_site(access_world: World) -> None:
    answer = access_world.client().sign_in(World.email("manager"), TEST_PASSWORD)
    cookie = answer.headers["Set-Cookie"]
    assert cookie.startswith("clinic_session=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie

    settings = Settings(database_url=access_world.db.url, secret_key="s", cookie_secure=True)
    app = create_app(settings)
    try:
        secure = DashClient.for_flask(app.server).sign_in(World.email("manager"), TEST_PASSWORD)
        assert "Secure" in secure.headers["Set-Cookie"]
    finally:
        app.server.extensions["clinic"].db.dispose()


def test_a_forged_or_foreign_session_cookie_signs_nobody_in(access_world: World) -> None:
    from flask.sessions import SecureCookieSessionInterface

    client = access_world.client()
    admin_id = access_world.user_ids["admin@a"]
    # Signed with another key: as if someone wrote their own cookie.
    other = create_app(Settings(database_url=access_world.db.url, secret_key="not-ours"))
    serializer = SecureCookieSessionInterface().get_signing_serializer(other.server)
    forged = serializer.dumps({"uid": admin_id, "sv": 1})
    client.transport.client.set_cookie("clinic_session", forged)
    assert client.get("/settings").status == 302
    other.server.extensions["clinic"].db.dispose()


def test_signing_out_ends_the_session_and_every_copy_of_its_cookie(access_world: World) -> None:
    client = access_world.signed_in("manager")
    copy = access_world.client()
    cookie = client.transport.client.get_cookie("clinic_session")
    copy.transport.client.set_cookie("clinic_session", cookie.value)
    assert client.get("/settings").status == 200 and copy.get("/settings").status == 200
    answer = client.sign_out()
    assert answer.status == 302 and answer.headers["Location"] == "/login"
    assert client.get("/settings").status == 302
    assert client.call("settings-staff.children").status == 401
    assert copy.get("/settings").status == 302


def test_another_site_cannot_make_a_signed_in_browser_run_an_action(
    access_world: World,
) -> None:
    admin = access_world.signed_in("admin")
    payload = json.dumps(admin.payload("settings-staff.children"))
    # A cross-site form can only send "simple" content types, never application/json.
    for content_type in ("text/plain", "application/x-www-form-urlencoded"):
        answer = admin.post(
            "/_dash-update-component", data=payload, headers={"Content-Type": content_type}
        )
        assert answer.status == 400, content_type


def test_after_signing_in_the_browser_goes_back_only_to_a_page_of_this_site(
    access_world: World,
) -> None:
    for asked, landed in [
        ("/settings", "/settings"),
        ("//evil.example/phish", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
        (None, "/"),
    ]:
        answer = access_world.client().sign_in(World.email("manager"), TEST_PASSWORD, asked)
        assert answer.output("login-redirect.href") == landed, asked
    signed_in = access_world.signed_in("manager")
    assert signed_in.get("/login?next=/account").headers["Location"] == "/account"


def test_deactivating_an_account_ends_its_open_sessions(access_world: World) -> None:
    from domain.actor import Actor
    from domain.auth import create_user, deactivate_user

    ctx = access_world.app.server.extensions["clinic"]
    org_a = access_world.org_ids["a"]
    user = create_user(
        ctx,
        actor=Actor.system(organization_id=org_a),
        organization_id=org_a,
        name="Leaving Soon",
        email="leaving@a.test",
        role="coordinator",
        password=TEST_PASSWORD,
    )
    client = access_world.client().signed_in("leaving@a.test", TEST_PASSWORD)
    assert client.get("/").status == 200
    deactivate_user(ctx, Actor.system(organization_id=org_a), user.id)
    assert client.get("/").status == 302
    assert client.call("login-feedback.children").status == 200  # the sign-in page still works
    again = access_world.client().sign_in("leaving@a.test", TEST_PASSWORD)
    assert _message(again) == "The e-mail address or password is incorrect."


def test_changing_my_password_signs_out_my_other_sessions_but_not_this_one(
    access_world: World,
) -> None:
    from domain.actor import Actor
    from domain.auth import create_user

    ctx = access_world.app.server.extensions["clinic"]
    org_a = access_world.org_ids["a"]
    create_user(
        ctx,
        actor=Actor.system(organization_id=org_a),
        organization_id=org_a,
        name="Two Screens",
        email="twoscreens@a.test",
        role="front-desk",
        password=TEST_PASSWORD,
    )
    desk = access_world.client().signed_in("twoscreens@a.test", TEST_PASSWORD)
    laptop = access_world.client().signed_in("twoscreens@a.test", TEST_PASSWORD)
    answer = desk.call(
        "account-feedback.children",
        {"account-form.n_submit": 1},
        {
            "account-current.value": TEST_PASSWORD,
            "account-new.value": "a much newer passphrase",
            "account-confirm.value": "a much newer passphrase",
        },
    )
    assert "Password changed" in json.dumps(answer.output("account-feedback.children"))
    assert desk.get("/account").status == 200
    assert laptop.get("/account").status == 302
    assert _redirected(access_world.client().sign_in("twoscreens@a.test", TEST_PASSWORD)) is None
    access_world.client().signed_in("twoscreens@a.test", "a much newer passphrase")


# --------------------------------------------------------------------------- sign-in


def _message(answer: Answer) -> str:
    feedback = answer.output("login-feedback.children")
    return feedback["props"]["children"] if feedback else ""


def _redirected(answer: Answer) -> str | None:
    return answer.json()["response"].get("login-redirect", {}).get("href")


def test_failed_sign_ins_say_the_same_whether_or_not_the_account_exists(
    access_world: World,
) -> None:
    known, unknown = access_world.client(), access_world.client()
    known_msgs = [_message(known.sign_in(World.email("manager"), "wrong guess")) for _ in range(6)]
    unknown_msgs = [_message(unknown.sign_in("nobody@a.test", "wrong guess")) for _ in range(6)]
    assert known_msgs == unknown_msgs
    assert known_msgs[0] == "The e-mail address or password is incorrect."
    assert known_msgs[4].startswith("Too many failed sign-in attempts. Try again in 15 minutes")


def test_five_failures_lock_that_account_from_that_address_for_fifteen_minutes(
    access_world: World,
) -> None:
    attacker = access_world.client(remote_addr="203.0.113.7")
    for _ in range(5):
        attacker.sign_in(World.email("coordinator"), "not the password")
    locked = attacker.sign_in(World.email("coordinator"), TEST_PASSWORD)
    assert _message(locked).startswith("Too many failed sign-in attempts")
    assert _redirected(locked) is None
    # The real user at the clinic is not locked out by someone else's guessing.
    access_world.client(remote_addr="198.51.100.20").signed_in(
        World.email("coordinator"), TEST_PASSWORD
    )
    access_world.clock.advance(timedelta(minutes=15, seconds=1))
    attacker.signed_in(World.email("coordinator"), TEST_PASSWORD)


def test_behind_a_trusted_proxy_throttling_uses_the_forwarded_client_address(
    access_world: World,
) -> None:
    settings = Settings(database_url=access_world.db.url, secret_key="s", proxy_count=1)
    app = create_app(settings)
    try:
        proxy = DashClient.for_flask(app.server, remote_addr="10.0.0.1")

        def attempt(client_address: str, password: str) -> Answer:
            proxy.transport.client.environ_base["HTTP_X_FORWARDED_FOR"] = client_address
            return proxy.sign_in(World.email("admin", "b"), password)

        for _ in range(5):
            attempt("198.51.100.1", "guessing")
        assert _message(attempt("198.51.100.1", TEST_PASSWORD)).startswith("Too many")
        assert _redirected(attempt("198.51.100.2", TEST_PASSWORD)) == "/"
    finally:
        app.server.extensions["clinic"].db.dispose()


# --------------------------------------------------------------------------- isolation


def test_each_organization_sees_only_its_own_settings_and_staff(access_world: World) -> None:
    for org, other in (("a", "b"), ("b", "a")):
        admin = access_world.signed_in("admin", org)
        page = admin.open_page("/settings").text
        staff = admin.call("settings-staff.children", {"settings-show-inactive.value": True}).text
        assert f"Organization {org.upper()}" in page
        assert f"Organization {other.upper()}" not in page
        assert f"@{org}.test" in staff and f"@{other}.test" not in staff


def test_the_html_every_visitor_receives_holds_no_organization_data(access_world: World) -> None:
    manager = access_world.signed_in("manager")
    assert "Organization A" in manager.open_page("/settings").text
    # Dash embeds a render of every page in each page's HTML (its "validation layout").
    for client in (access_world.client(), manager):
        html_text = client.get("/login").text if client is not manager else manager.get("/").text
        assert "Organization A" not in html_text and "Organization B" not in html_text
        assert "@a.test" not in html_text and "@b.test" not in html_text
