"""The analytics page over real imported history: the Vitória 2016 file (110,527
appointments with a date but no time of day) imported with the history importer (a copy
of the run's one import, tests.conftest.VitoriaHistory), then
viewed by a manager. The page shows the data set's published no-show rate and says that
hours are unknown instead of inventing them.

Reads ../shared/data (never copied here); skipped without it outside CI. The screenshot
(tests/artifacts/analytics-vitoria-<backend>.png) is the README's docs/analytics-vitoria.png.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from data.db import Database
from data.models import Organization
from domain.actor import Actor
from domain.auth import create_user
from domain.clock import fixed_clock
from domain.context import AppContext
from domain.stats import get_appointment_stats
from settings import Settings
from tests.conftest import DEMO_ANCHOR, VITORIA_ORGANIZATION, VitoriaHistory
from tests.e2e.conftest import LiveServer, shot

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ORGANIZATION = VITORIA_ORGANIZATION
NOW = DEMO_ANCHOR
# Monday before the first appointment day (29 April) to the Sunday after the last (8 June).
START, END = date(2016, 4, 25), date(2016, 6, 12)
EMAIL, PASSWORD = "manager@vitoria.example", "a long enough password"


@pytest.fixture(scope="module")
def vitoria(
    e2e_backend: str, vitoria_history: VitoriaHistory, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    assert vitoria_history.report(e2e_backend).errors == []
    url = vitoria_history.copy(e2e_backend, "vitoria", tmp_path_factory.mktemp("vitoria"))
    db = Database(url)
    ctx = AppContext(
        settings=Settings(database_url=url, secret_key="e2e-secret"),
        db=db,
        clock=fixed_clock(NOW),
    )
    try:
        with db.read() as s:
            org_id = s.scalars(
                select(Organization.id).where(Organization.name == ORGANIZATION)
            ).one()
        create_user(
            ctx,
            actor=Actor.system(organization_id=org_id),
            organization_id=org_id,
            name="Vitória manager",
            email=EMAIL,
            role="manager",
            password=PASSWORD,
        )
        with LiveServer(ctx) as server:
            yield server
    finally:
        db.dispose()


def test_imported_history_shows_its_published_no_show_rate_without_inventing_hours(
    browser, vitoria: LiveServer, artifacts_dir: Path, e2e_backend: str
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=vitoria.url)
    page = context.new_page()
    page.set_default_timeout(60_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto("/login")
        page.get_by_label("E-mail address").fill(EMAIL)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.locator("#shell-user-name").wait_for()
        page.goto(f"/analytics?start={START}&end={END}")
        no_show = page.locator("#an-kpi-no-show-value")
        no_show.wait_for()
        assert no_show.inner_text() == "20.19%"  # the data set's published figure
        with vitoria.context.db.read() as s:
            org_id = s.scalars(
                select(Organization.id).where(Organization.name == ORGANIZATION)
            ).one()
        stats = get_appointment_stats(vitoria.context, org_id, START, END)
        assert page.locator("#an-kpi-total-value").inner_text() == f"{stats.total:,}" == "110,527"
        assert page.locator("#an-kpi-no-show-detail").inner_text() == (
            f"{stats.overall.no_shows:,} no-shows of {stats.overall.due:,} due"
        )
        # No time of day in the file: weekdays only, and the page says why.
        page.get_by_text("Times of day are not recorded for these appointments").wait_for()
        assert page.locator("#an-hours-title").inner_text() == "No-show rate by weekday"
        assert page.locator("#an-kpi-utilization-value").inner_text() == "–"  # no schedules
        page.locator("#an-practitioners .ag-row").first.wait_for()
        for graph in ("weekly", "hours", "lead", "types", "cancellations"):
            page.locator(f"#an-{graph} .main-svg").first.wait_for()
        shot(page, artifacts_dir, "analytics-vitoria", e2e_backend)
        assert errors == []
    finally:
        context.close()
