"""A coordinator works the waitlist in a real browser: a cancellation offers the freed
seat to the patient who joined first; the coordinator books the offer, declines
another, and puts a patient on the list with the form. The booking form holds the time
it was opened on."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from data.models import Appointment, WaitlistEntry
from domain import waitlist
from domain.actor import Actor
from domain.appointments import cancel_appointment, create_appointment
from domain.availability import get_practitioner_slots
from domain.errors import BookingError
from tests.conftest import DEMO_ANCHOR
from tests.e2e.conftest import login, shot
from tests.e2e.test_scheduling import _follow_up, _free_patient

pytestmark = pytest.mark.e2e

NY = ZoneInfo("America/New_York")
TODAY = DEMO_ANCHOR.astimezone(NY).date()
DAY = TODAY + timedelta(days=2)
SYSTEM = Actor.system(organization_id=1)


def _freed_offers(ctx, how_many: int):  # type: ignore[no-untyped-def]
    """Book ``how_many`` open follow-up times on DAY, put one waiting patient for each
    on the list (time range: just that time), then cancel the bookings: each frees a
    seat offered to its waiting patient. Returns [(entry id, slot)]."""
    follow_up = _follow_up(ctx)
    practitioner = 1
    slots = get_practitioner_slots(ctx, 1, practitioner, DAY, appointment_type_id=follow_up)
    taken: tuple[int, ...] = ()
    made = []
    for slot in slots[:how_many]:
        booker, *_ = _free_patient(ctx, DAY, exclude=taken)
        waiter, *_ = _free_patient(ctx, DAY, exclude=(*taken, booker))
        taken += (booker, waiter)
        appt = create_appointment(
            ctx,
            1,
            patient_id=booker,
            practitioner_id=practitioner,
            clinic_id=slot.clinic_id,
            start=slot.start,
            appointment_type_id=follow_up,
            actor=SYSTEM,
        )
        local = slot.start.astimezone(NY)
        entry = waitlist.add_entry(
            ctx,
            1,
            SYSTEM,
            patient_id=waiter,
            appointment_type_id=follow_up,
            earliest_date=DAY,
            latest_date=DAY + timedelta(days=7),
            practitioner_id=practitioner,
            time_from=local.time(),
            time_to=(local + timedelta(minutes=20)).time(),
        )
        made.append((entry, appt))
    for _entry, appt in made:
        cancel_appointment(ctx, 1, appt.id, SYSTEM, "patient-initiated")
    return made


def test_coordinator_books_and_declines_waitlist_offers(
    page, live_server, artifacts_dir: Path, e2e_backend: str
) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    ctx = live_server.context
    (first, first_appt), (second, _second_appt) = _freed_offers(ctx, 2)

    login(page, "coordinator", next_path="/waitlist")
    page.get_by_role("heading", name="Waitlist", exact=True).wait_for()
    offers = page.locator("#waitlist-offers tbody tr")
    offers.nth(1).wait_for()
    row = page.locator("#waitlist-offers tbody tr", has_text=first.patient_name)
    local = first_appt.start_at.astimezone(NY)
    assert f"{local:%H:%M}" in row.inner_text()
    # A patient joins through the form (type-ahead as on the booking form).
    _pid, given, family = _free_patient(ctx, DAY + timedelta(days=30))
    page.get_by_label("Patient").fill(f"{family} {given}")
    page.locator("#waitlist-patient").get_by_text(f"{family}, {given} · born").click()
    page.locator("#waitlist-specialty").click()
    page.get_by_role("option").first.click()
    page.get_by_label("Afternoon (12-17)").check()
    page.get_by_role("button", name="Add to waitlist").click()
    page.locator("#waitlist-added").wait_for()
    page.locator("#waitlist-waiting tbody tr", has_text=f"{given} {family}").wait_for()
    shot(page, artifacts_dir, "waitlist", e2e_backend)

    row.get_by_role("button", name="Book offer").click()
    done = page.locator("#waitlist-done")
    done.wait_for()
    assert f"Booked {first.patient_name}" in done.inner_text()
    page.locator("#waitlist-offers tbody tr", has_text=first.patient_name).wait_for(
        state="detached"
    )
    page.locator("#waitlist-offers tbody tr", has_text=second.patient_name).get_by_role(
        "button", name="Decline"
    ).click()
    page.get_by_text("Offer declined").wait_for()
    with ctx.db.read() as s:
        booked = s.get_one(WaitlistEntry, first.id)
        assert booked.status == "booked"
        appt = s.get_one(Appointment, booked.appointment_id)
        assert (appt.patient_id, appt.start_at) == (first.patient_id, first_appt.start_at)
        assert s.get_one(WaitlistEntry, second.id).status == "waiting"
    assert errors == []


def test_the_booking_form_holds_the_time_it_was_opened_on(
    page, live_server, e2e_backend: str
) -> None:
    ctx = live_server.context
    follow_up = _follow_up(ctx)
    day = DAY
    slot = get_practitioner_slots(ctx, 1, 1, day, appointment_type_id=follow_up)[-1]
    login(page, "coordinator", next_path="/")
    page.goto(
        f"/book?practitioner=1&clinic={slot.clinic_id}&type={follow_up}"
        f"&start={slot.start.isoformat().replace('+', '%2B')}"
    )
    page.locator("#book-held").wait_for()
    assert "Held for you until" in page.locator("#book-held").inner_text()
    # Everybody else sees the time taken; the holder's form still offers it.
    assert slot.start not in {
        s.start for s in get_practitioner_slots(ctx, 1, 1, day, appointment_type_id=follow_up)
    }
    assert (
        page.locator("#book-start .active")
        .inner_text()
        .startswith(f"{slot.start.astimezone(NY):%H:%M}")
    )
    # Another coordinator's booking of the held time is refused.
    with pytest.raises(BookingError) as refused:
        create_appointment(
            ctx,
            1,
            patient_id=_free_patient(ctx, day)[0],
            practitioner_id=1,
            clinic_id=slot.clinic_id,
            start=slot.start,
            appointment_type_id=follow_up,
            actor=SYSTEM,
        )
    assert refused.value.code == "CONFLICT"
