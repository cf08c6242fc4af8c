"""The home page greets the organization and leads to the pages of the user's role."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import login, shot

pytestmark = pytest.mark.e2e


def test_home_shows_the_organization_and_navigation(
    page, live_server, artifacts_dir: Path, e2e_backend: str
) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    login(page, "manager")
    page.get_by_role("heading", name="Harbor Health Partners").wait_for()
    assert page.title() == "Clinic scheduling"
    assert page.get_by_text("Wednesday 18 March 2026").is_visible()
    assert page.locator("#shell-user-role").inner_text() == "Manager"
    # Bootstrap is served locally (clinic networks often have no Internet).
    navbar_bg = page.locator("nav.navbar").evaluate("e => getComputedStyle(e).backgroundColor")
    assert navbar_bg not in ("rgba(0, 0, 0, 0)", "transparent")
    shot(page, artifacts_dir, "home", e2e_backend)
    assert errors == []
