"""A coordinator looks for room: across the organization, then at one clinic."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from domain.availability import get_available_clinics, get_clinic_slots_range
from tests.conftest import DEMO_ANCHOR
from tests.e2e.conftest import login, shot

pytestmark = pytest.mark.e2e

TODAY = DEMO_ANCHOR.astimezone(ZoneInfo("America/New_York")).date()


def test_coordinator_sees_which_clinics_have_room_then_one_clinics_slots(
    page, live_server, artifacts_dir: Path, e2e_backend: str
) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    ctx = live_server.context
    login(page, "coordinator", next_path="/availability")
    page.get_by_role("heading", name="Clinic availability").wait_for()
    assert page.title() == "Clinic availability · Clinic scheduling"

    # Which clinics have room today: the domain's answer, most seats first.
    expected = sorted(get_available_clinics(ctx, 1, TODAY), key=lambda a: (-a.seats, a.name))
    day_rows = page.locator("#av-day-list tbody tr")
    day_rows.nth(len(expected) - 1).wait_for()
    assert day_rows.count() == len(expected)
    for row, clinic in zip(day_rows.all(), expected, strict=True):
        cells = row.locator("td").all_inner_texts()
        assert cells[:4] == [
            clinic.name,
            str(clinic.open_slots),
            str(clinic.seats),
            str(clinic.practitioners),
        ]
    # ... and across the next 14 days, one row per clinic.
    page.locator(".overview-grid tbody tr").first.wait_for()
    assert page.locator(".overview-grid thead th").count() == 1 + 14
    shot(page, artifacts_dir, "availability", e2e_backend)

    page.locator("#av-day-list").get_by_role("row", name="Harbor Main Clinic").get_by_role(
        "button", name="Show slots"
    ).click()
    page.locator("#av-clinic-name").get_by_text("Harbor Main Clinic").wait_for()
    slots = get_clinic_slots_range(ctx, 1, 1, TODAY, TODAY + timedelta(days=13))
    links = page.locator("#av-grid a.slot-grid-link")
    links.first.wait_for()
    assert links.count() == sum(len(v) for v in slots.values())
    first = next(s for day in slots.values() for s in day)
    local = first.start.astimezone(ZoneInfo("America/New_York"))
    link = page.locator(f'#av-grid a[title^="{local:%a %d %b %H:%M}: "]')
    assert link.inner_text().split("\n") == [
        f"{first.seats} open",
        f"{first.providers} provider{'s' if first.providers != 1 else ''}",
    ]
    href = link.get_attribute("href") or ""
    assert href.startswith("/book?clinic=1&")
    assert f"practitioner={first.practitioner_ids[0]}" in href
    shot(page, artifacts_dir, "availability-clinic", e2e_backend)

    # Back to the whole organization.
    page.get_by_role("button", name="All clinics").click()
    page.locator("#av-day-list tbody tr").first.wait_for()
    assert errors == []


def test_the_pages_fit_a_phone_screen(
    page, live_server, artifacts_dir: Path, e2e_backend: str
) -> None:
    login(page, "coordinator")
    page.set_viewport_size({"width": 390, "height": 844})
    for name, path, ready in [
        ("availability-phone", "/availability?clinic=1", "#av-grid a"),
        ("booking-phone", "/book?clinic=1&practitioner=5&type=2", "#book-start label"),
        ("calendar-phone", f"/calendar?practitioner=5&date={TODAY}", "#cal-table .cal-appt"),
    ]:
        page.goto(path)
        page.locator(ready).first.wait_for()
        # Wide grids scroll sideways inside their card; the page itself does not.
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, name
        shot(page, artifacts_dir, name, e2e_backend)
