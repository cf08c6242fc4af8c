"""A front-desk journey with a recurring series, in a real browser: repeat a follow-up
weekly six times, preview it (one week is taken by someone else and cannot be booked),
book the five others together and see them listed."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from sqlalchemy import select

from data.models import Appointment, Patient
from domain.actor import Actor
from domain.appointment_views import get_upcoming_appointments
from domain.appointments import create_appointment, preview_series
from domain.availability import get_clinic_slots_range, get_practitioner_slots
from domain.catalog import list_appointment_types
from domain.series import Recurrence
from tests.conftest import DEMO_ANCHOR
from tests.e2e.conftest import login, shot

pytestmark = pytest.mark.e2e

NY = ZoneInfo("America/New_York")
SYSTEM = Actor.system(organization_id=1)
CLINIC = 2
WEEKS = 6
CONFLICT_WEEK = 3


def _open_weekly(ctx, practitioner: int, first: datetime, kind: int) -> bool:  # type: ignore[no-untyped-def]
    """Is this wall-clock time open with this practitioner six weeks running?"""
    local = first.astimezone(NY)
    for k in range(WEEKS):
        day = local.date() + timedelta(weeks=k)
        starts = {
            s.start.astimezone(NY).time()
            for s in get_practitioner_slots(
                ctx, 1, practitioner, day, clinic_id=CLINIC, appointment_type_id=kind
            )
        }
        if local.time() not in starts:
            return False
    return True


def _free_patients(ctx, days: list[date], count: int) -> list[int]:  # type: ignore[no-untyped-def]
    """Patients of the demo organization with nothing booked on any of ``days``."""
    with ctx.db.read() as s:
        ids = s.scalars(
            select(Patient.id).where(Patient.organization_id == 1).order_by(Patient.id).limit(60)
        ).all()
    free = [
        pid
        for pid in ids
        if not any(get_upcoming_appointments(ctx, 1, d, d, patient_id=pid).rows for d in days)
    ]
    assert len(free) >= count, "no free patients"
    return free[:count]


def test_front_desk_books_a_six_week_series_skipping_the_taken_week(
    page, live_server, artifacts_dir: Path, e2e_backend: str
) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    ctx = live_server.context
    follow_up = next(t.id for t in list_appointment_types(ctx, 1) if t.name == "Follow-up")
    first_day = DEMO_ANCHOR.astimezone(NY).date() + timedelta(days=7)
    slots = get_clinic_slots_range(
        ctx, 1, CLINIC, first_day, first_day, appointment_type_id=follow_up
    )[first_day]
    practitioner, first = next(
        (p, s.start)
        for s in slots
        for p in s.practitioner_ids
        if _open_weekly(ctx, p, s.start, follow_up)
    )
    days = [first_day + timedelta(weeks=k) for k in range(WEEKS)]
    patient, other = _free_patients(ctx, days, 2)
    # Someone else already has the third week's time with that practitioner.
    taken = first + timedelta(weeks=CONFLICT_WEEK - 1)
    create_appointment(
        ctx,
        1,
        patient_id=other,
        practitioner_id=practitioner,
        clinic_id=CLINIC,
        start=taken,
        appointment_type_id=follow_up,
        actor=SYSTEM,
    )
    expected = preview_series(
        ctx,
        1,
        patient_id=patient,
        practitioner_id=practitioner,
        clinic_id=CLINIC,
        first_start=first,
        appointment_type_id=follow_up,
        rule=Recurrence(interval_weeks=1, count=WEEKS),
        actor=SYSTEM,
    )
    refused = expected.occurrences[CONFLICT_WEEK - 1]
    assert not refused.ok and [o.ok for o in expected.occurrences].count(False) == 1

    login(page, "front-desk")
    page.goto(
        f"/book?clinic={CLINIC}&practitioner={practitioner}&type={follow_up}"
        f"&start={first.isoformat().replace('+', '%2B')}&patient={patient}"
    )
    page.locator("#book-start .active").wait_for()
    # The prefilled form answers several callbacks in a row (practitioner, clinic, open
    # times, the hold); a click that lands while one of them re-renders the form is lost
    # on a slow machine, so let it settle first, as a user would see it settle.
    page.wait_for_load_state("networkidle")
    page.get_by_text("Repeat (a recurring series)").click()
    page.locator("#book-repeat-count").fill(str(WEEKS))
    page.wait_for_load_state("networkidle")
    page.get_by_role("button", name="Preview").click()

    rows = page.locator("#book-preview-rows tbody tr")
    try:
        rows.nth(WEEKS - 1).wait_for()
    except PlaywrightTimeout:
        shot(page, artifacts_dir, "series-preview-missing", e2e_backend)
        said = page.locator("#book-repeat-error").inner_text()
        raise AssertionError(f"no preview of {WEEKS} rows; the form says {said!r}") from None
    assert rows.count() == WEEKS
    conflict = page.locator('#book-preview-rows tr[data-ok="no"]')
    assert conflict.count() == 1
    # The row says what the booking service says about that week, word for word.
    assert refused.message and refused.message in conflict.inner_text()
    assert refused.label in conflict.inner_text()
    box = conflict.locator("input[type=checkbox]")
    assert box.is_disabled() and not box.is_checked()
    ok_boxes = page.locator('#book-preview-rows tr[data-ok="yes"] input[type=checkbox]')
    assert ok_boxes.count() == WEEKS - 1
    assert all(b.is_checked() and b.is_enabled() for b in ok_boxes.all())
    assert "5 of 6 can be booked" in page.locator("#book-preview-summary").inner_text()
    # The table and the button under it, as the front desk sees them before booking.
    page.locator("#book-book-series").scroll_into_view_if_needed()
    shot(page, artifacts_dir, "series-preview", e2e_backend, full_page=False)

    page.get_by_role("button", name="Book selected").click()
    success = page.locator("#book-series-success")
    success.wait_for()
    assert "5 appointments booked" in success.inner_text()
    assert page.locator("#book-series-booked li").count() == WEEKS - 1
    assert refused.label in success.inner_text()  # listed under "Not booked"
    shot(page, artifacts_dir, "series-booked", e2e_backend)

    with ctx.db.read() as s:
        booked = s.scalars(
            select(Appointment)
            .where(Appointment.patient_id == patient, Appointment.series_id.is_not(None))
            .order_by(Appointment.start_at)
        ).all()
        rows_booked = [(a.series_id, a.start_at, a.status) for a in booked]
    assert len(rows_booked) == WEEKS - 1
    assert len({series for series, _start, _status in rows_booked}) == 1
    assert [start for _series, start, _status in rows_booked] == [
        o.start for o in expected.occurrences if o.number != CONFLICT_WEEK
    ]
    assert all(status == "booked" for _series, _start, status in rows_booked)
    assert not errors
