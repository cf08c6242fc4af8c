"""Signing in and out in a real browser; what a role cannot open stays closed."""

from __future__ import annotations

from pathlib import Path

import pytest

from domain.actor import Actor
from domain.auth import create_user, end_sessions, find_user
from tests.e2e.conftest import DEMO_LOGINS, login, logout, shot

pytestmark = pytest.mark.e2e

# A page only managers (and administrators) may open: the no-show analytics.
MANAGER_ONLY = "/analytics"


def test_front_desk_cannot_reach_a_manager_page_then_a_manager_can(
    page, live_server, artifacts_dir: Path, e2e_backend: str
) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    page.goto(MANAGER_ONLY)
    page.wait_for_url(f"**/login?next={MANAGER_ONLY}")
    page.get_by_role("heading", name="Sign in").wait_for()
    shot(page, artifacts_dir, "login", e2e_backend)

    email, _password = DEMO_LOGINS["front-desk"]
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill("not my password")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("The e-mail address or password is incorrect.").wait_for()
    assert page.get_by_label("Password").input_value() == ""
    shot(page, artifacts_dir, "login-refused", e2e_backend)

    login(page, "front-desk")
    assert page.locator("#shell-user-role").inner_text() == "Front desk"
    assert page.get_by_role("link", name="Analytics").count() == 0
    response = page.goto(MANAGER_ONLY)
    assert response is not None and response.status == 403
    page.get_by_role("heading", name="You don't have access to this page").wait_for()
    assert page.get_by_text("No-show rate").count() == 0
    shot(page, artifacts_dir, "front-desk-refused", e2e_backend)

    logout(page)
    page.goto("/")
    page.wait_for_url("**/login")

    login(page, "manager", next_path=MANAGER_ONLY)
    page.get_by_role("heading", name="No-show analytics").wait_for()
    assert page.get_by_role("link", name="Analytics").is_visible()
    page.locator("#an-kpi-no-show-value").wait_for(timeout=45_000)
    assert page.locator("#an-kpi-no-show-value").inner_text().endswith("%")
    shot(page, artifacts_dir, "manager-analytics", e2e_backend)
    assert errors == []


def test_a_staff_name_that_looks_like_html_is_shown_as_text(
    page, live_server, e2e_backend: str
) -> None:
    ctx = live_server.context
    hostile = '<img src=x onerror="window.pwned=1"> Dr <b>Bold</b> 👩‍⚕️'
    create_user(
        ctx,
        actor=Actor.system(organization_id=1),
        organization_id=1,
        name=hostile,
        email=f"hostile-{e2e_backend}@harbor.example",
        role="coordinator",
        password="a long enough password",
    )
    login(page, "admin", next_path="/settings")
    page.get_by_role("cell", name=hostile).wait_for()
    assert page.evaluate("window.pwned") is None
    assert page.locator("#settings-staff-table b").count() == 0


def test_when_the_session_ends_elsewhere_the_next_action_asks_to_sign_in_again(
    page, live_server
) -> None:
    login(page, "manager", next_path="/settings")
    page.get_by_role("cell", name="frontdesk@harbor.example").wait_for()
    manager = find_user(live_server.context, DEMO_LOGINS["manager"][0])
    assert manager is not None
    end_sessions(live_server.context, manager.id)  # e.g. signed out on another computer
    page.get_by_text("Show deactivated accounts").click()
    page.wait_for_url("**/login?next=%2Fsettings")
    page.get_by_role("heading", name="Sign in").wait_for()


def test_a_role_taken_away_mid_session_is_refused_at_the_next_action(
    page, live_server, artifacts_dir: Path, e2e_backend: str
) -> None:
    from sqlalchemy import update

    from data.models import User

    db = live_server.context.db
    email = DEMO_LOGINS["manager"][0]
    login(page, "manager", next_path="/settings")
    page.get_by_role("cell", name="frontdesk@harbor.example").wait_for()
    with db.transaction() as s:
        s.execute(update(User).where(User.email == email).values(role="front-desk"))
    try:
        page.get_by_text("Show deactivated accounts").click()
        banner = page.get_by_role("alert").filter(has_text="does not allow this")
        banner.wait_for()
        assert banner.inner_text().strip() == "Your role (Front desk) does not allow this."
        shot(page, artifacts_dir, "refused-action-banner", e2e_backend)
    finally:
        with db.transaction() as s:
            s.execute(update(User).where(User.email == email).values(role="manager"))
