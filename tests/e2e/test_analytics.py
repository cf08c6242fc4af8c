"""A manager reviews no-shows in a real browser: the KPI cards show exactly what
``get_appointment_stats`` computes for the filters chosen on the page, the charts and the
practitioner table follow the filters, and the table downloads as CSV."""

from __future__ import annotations

import csv
from datetime import date, timedelta
from pathlib import Path

import pytest

from domain.actor import Actor
from domain.stats import AppointmentStats, get_appointment_stats
from tests.conftest import DEMO_ANCHOR
from tests.e2e.conftest import login, shot

pytestmark = pytest.mark.e2e

ORG = 1  # the demo organization (Harbor Health Partners)
TODAY = date(2026, 3, 18)  # DEMO_ANCHOR in New York
# The page's default: twelve Monday-to-Sunday weeks, the current one included.
FIRST = TODAY - timedelta(days=TODAY.weekday()) - timedelta(weeks=11)
LAST = TODAY - timedelta(days=TODAY.weekday()) + timedelta(days=6)
MANAGER = Actor(user_id=0, name="test", role="manager", organization_id=ORG)


def expected_kpis(st: AppointmentStats) -> dict[str, str]:
    """What the cards must read, formatted here independently of the page's code."""
    return {
        "total": f"{st.total:,}",
        "no-show": f"{st.no_show_rate:.2%}",
        "completion": f"{st.completion_rate:.2%}",
        "cancellation": f"{st.cancellation_rate:.2%}",
        "utilization": f"{st.utilization:.1%}",
        "per-day": f"{st.total / st.days:,.1f}",
    }


def shown_kpis(page) -> dict[str, str]:  # type: ignore[no-untyped-def]
    names = ("total", "no-show", "completion", "cancellation", "utilization", "per-day")
    return {n: page.locator(f"#an-kpi-{n}-value").inner_text().strip() for n in names}


def test_a_manager_filters_analytics_and_sees_the_statistics_of_the_filter(
    page, live_server, artifacts_dir: Path, e2e_backend: str
) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    ctx = live_server.context
    page.set_default_timeout(45_000)  # a shared, busy machine: a period's figures take seconds
    login(page, "manager", next_path="/analytics")
    page.get_by_role("heading", name="No-show analytics").wait_for()
    assert page.title() == "No-show analytics · Clinic scheduling"
    assert page.locator("#an-start").input_value() == FIRST.isoformat()
    assert page.locator("#an-end").input_value() == LAST.isoformat()

    whole = get_appointment_stats(ctx, ORG, FIRST, LAST, actor=MANAGER)
    assert whole.total > 0 and whole.overall.no_shows > 0  # the demo data has both
    page.locator("#an-kpi-total-value").wait_for()
    assert shown_kpis(page) == expected_kpis(whole)
    assert page.get_by_text(f"{whole.overall.no_shows:,} no-shows of {whole.overall.due:,} due")
    # The charts drew (plotly renders an svg per graph) and the table has every practitioner.
    for graph in ("weekly", "hours", "lead", "types", "cancellations"):
        page.locator(f"#an-{graph} .main-svg").first.wait_for()
    rows = page.locator("#an-practitioners .ag-center-cols-container .ag-row")
    assert rows.count() == min(len(whole.by_practitioner), 20)
    page.get_by_text("Per practitioner").scroll_into_view_if_needed()
    shot(page, artifacts_dir, "analytics", e2e_backend)

    # One clinic: choose it in the Clinic filter.
    clinics = whole.by_clinic.sort_values("name")
    clinic_id, clinic_name = int(clinics.iloc[-1]["clinic_id"]), str(clinics.iloc[-1]["name"])
    one = get_appointment_stats(ctx, ORG, FIRST, LAST, clinic_id=clinic_id, actor=MANAGER)
    assert 0 < one.total < whole.total
    page.locator("#an-clinic").click()
    page.get_by_role("option", name=clinic_name).click()
    page.locator("#an-kpi-total-value").filter(has_text=f"{one.total:,}").wait_for()
    assert shown_kpis(page) == expected_kpis(one)
    names = page.locator("#an-practitioners .ag-pinned-left-cols-container .ag-row")
    assert sorted(names.all_inner_texts()) == sorted(one.by_practitioner["name"].tolist())

    # The table, as the manager downloads it, is that clinic's.
    with page.expect_download() as download:
        page.get_by_role("button", name="Download CSV").click()
    path = artifacts_dir / f"analytics-{e2e_backend}.csv"
    download.value.save_as(path)
    with path.open(newline="") as f:
        table = list(csv.DictReader(f))
    assert [r["Practitioner"] for r in table] == one.by_practitioner["name"].tolist()
    assert [int(r["No-shows"]) for r in table] == one.by_practitioner["no_shows"].tolist()
    shot(page, artifacts_dir, "analytics-clinic", e2e_backend)

    # A narrow screen (a phone): the cards and charts stack, nothing is cut off.
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()  # as a phone opens it (charts drawn at phone width)
    page.locator("#an-kpi-total-value").wait_for()
    for graph in ("weekly", "hours", "lead", "types", "cancellations"):
        page.locator(f"#an-{graph} .main-svg").first.wait_for()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways ({width}px)"
    shot(page, artifacts_dir, "analytics-narrow", e2e_backend)
    assert errors == []


def test_a_period_without_appointments_says_what_to_do(
    page, live_server, artifacts_dir: Path, e2e_backend: str
) -> None:
    login(page, "manager")
    page.goto("/analytics?start=2020-01-06&end=2020-01-12")
    page.get_by_text("No appointments in this period for these filters.").wait_for()
    assert not page.locator("#an-results").is_visible()
    page.locator("#an-end").fill("2019-12-01")
    page.get_by_text("The end date is before the start date.").wait_for()
    assert DEMO_ANCHOR.year == 2026  # the period above is years before the demo data
    shot(page, artifacts_dir, "analytics-empty", e2e_backend)
