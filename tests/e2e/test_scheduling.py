"""What coordinators and front-desk staff do every day, in a real browser: find where
there is room, book an open slot, see it in the calendar; cancel with a reason and see
the time free again; meet a conflict or a stale form and be told why. One module, so one
seeded store per backend serves every journey."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from data.models import Appointment, Patient, SlotHold, User
from data.seed import DEMO_PROFILE
from domain.activity import count_unread_notifications
from domain.actor import Actor
from domain.appointment_views import get_today_appointments, get_upcoming_appointments
from domain.appointments import (
    cancel_appointment,
    create_appointment,
    get_encounter_for_appointment,
    update_appointment_status,
)
from domain.availability import (
    get_available_clinics,
    get_clinic_slots_range,
    get_practitioner_slots,
)
from domain.catalog import list_appointment_types
from domain.errors import BookingError
from tests.conftest import DEMO_ANCHOR
from tests.e2e.conftest import login, shot

pytestmark = pytest.mark.e2e

NY = ZoneInfo("America/New_York")
TODAY = DEMO_ANCHOR.astimezone(NY).date()  # Wednesday 18 March 2026
TOMORROW = TODAY + timedelta(days=1)
SYSTEM = Actor.system(organization_id=1)


def _free_patient(ctx, day, exclude: tuple[int, ...] = ()):  # type: ignore[no-untyped-def]
    """A patient of the demo organization with nothing booked on ``day``."""
    with ctx.db.read() as s:
        patients = s.execute(
            select(Patient.id, Patient.given_name, Patient.family_name)
            .where(Patient.organization_id == 1, Patient.id.not_in(exclude or (0,)))
            .order_by(Patient.id)
            .limit(40)
        ).all()
    for pid, given, family in patients:
        busy = get_upcoming_appointments(ctx, 1, day, day, patient_id=pid).rows
        if not busy:
            return pid, given, family
    raise AssertionError("no free patient")


def _follow_up(ctx) -> int:  # type: ignore[no-untyped-def]
    return next(t.id for t in list_appointment_types(ctx, 1) if t.name == "Follow-up")


def _choose_patient(page, given: str, family: str) -> None:  # type: ignore[no-untyped-def]
    page.get_by_label("Patient").fill(f"{family} {given}")
    page.locator("#book-patient").get_by_text(f"{family}, {given} · born").click()


def test_coordinator_finds_room_books_it_and_sees_it_in_the_calendar(
    page, live_server, artifacts_dir: Path, e2e_backend: str
) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    ctx = live_server.context
    follow_up = _follow_up(ctx)
    _pid, given, family = _free_patient(ctx, TOMORROW)

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
    # ... and open slots per clinic over the next 14 days.
    page.locator(".overview-grid tbody tr").nth(3).wait_for()
    assert page.locator(".overview-grid thead th").count() == 1 + 14
    shot(page, artifacts_dir, "availability", e2e_backend)

    # Follow-ups at Harbor Main Clinic: its grid of open times.
    page.locator("#av-type").click()
    page.get_by_role("option", name="Follow-up").click()
    # The type re-renders the day list; a click on its old "Show slots" button while that
    # answer is on its way is lost on a slow machine, so let the page settle first.
    page.wait_for_load_state("networkidle")
    page.locator("#av-day-list").get_by_role("row", name="Harbor Main Clinic").get_by_role(
        "button", name="Show slots"
    ).click()
    page.locator("#av-clinic-name").get_by_text("Harbor Main Clinic").wait_for()
    slots = get_clinic_slots_range(
        ctx, 1, 1, TODAY, TODAY + timedelta(days=13), appointment_type_id=follow_up
    )
    links = page.locator("#av-grid a.slot-grid-link")
    links.first.wait_for()
    assert links.count() == sum(len(v) for v in slots.values())
    shot(page, artifacts_dir, "availability-clinic", e2e_backend)
    slot = slots[TOMORROW][0]
    local = slot.start.astimezone(NY)
    cell = page.locator(f'#av-grid a[title^="{local:%a %d %b %H:%M}: "]')
    assert cell.inner_text().split("\n") == [
        f"{slot.seats} open",
        f"{slot.providers} provider{'s' if slot.providers != 1 else ''}",
    ]
    cell.click()

    page.wait_for_url("**/book?**")
    page.get_by_role("heading", name="Book an appointment").wait_for()
    assert page.title() == "Book an appointment · Clinic scheduling"
    # Prefilled from the slot: practitioner, clinic, type, duration, date and time.
    page.locator("#book-start .active").wait_for()
    assert page.locator("#book-start .active").inner_text() == f"{local:%H:%M}"
    assert page.get_by_label("Duration (minutes)").input_value() == "20"
    assert page.locator("#book-clinic").get_by_text("Harbor Main Clinic").is_visible()
    _choose_patient(page, given, family)
    page.get_by_label("Notes").fill("Booked by the browser test")
    page.get_by_role("button", name="Book appointment").click()

    success = page.locator("#book-success")
    success.wait_for()
    assert "Appointment booked" in success.inner_text()
    assert f"{given} {family}" in success.inner_text()
    assert f"{local:%a %d %b %Y %H:%M}" in success.inner_text()
    # The time just booked is no longer offered for this practitioner.
    page.locator("#book-start").get_by_text(f"{local:%H:%M}", exact=True).wait_for(state="detached")
    shot(page, artifacts_dir, "booking", e2e_backend)

    page.get_by_role("link", name="Open the practitioner's calendar").click()
    page.wait_for_url("**/calendar?**")
    chip = page.locator(".cal-appt", has_text=f"{given} {family}")
    chip.wait_for()
    assert f"{local:%H:%M}" in chip.inner_text() and "Booked" in chip.inner_text()
    shot(page, artifacts_dir, "calendar", e2e_backend)
    chip.click()
    panel = page.locator("#cal-panel-content")
    panel.wait_for()
    assert "Booked by the browser test" in panel.inner_text()
    assert "Marcus Bell booked" in panel.inner_text()  # the history names who did it
    shot(page, artifacts_dir, "calendar-panel", e2e_backend, full_page=False)
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


def test_cancelling_with_a_reason_frees_the_time_at_once(
    page, live_server, artifacts_dir: Path, e2e_backend: str
) -> None:
    ctx = live_server.context
    # A booked appointment tomorrow of the practitioner (Harbor Main Clinic).
    with ctx.db.read() as s:
        appointment_id = s.execute(
            select(Appointment.id)
            .where(
                Appointment.organization_id == 1,
                Appointment.clinic_id == 1,
                Appointment.status == "booked",
                Appointment.start_at >= DEMO_ANCHOR + timedelta(days=1),
                Appointment.start_at < DEMO_ANCHOR + timedelta(days=2),
                Appointment.duration_minutes == 20,
            )
            .order_by(Appointment.start_at, Appointment.id)
            .limit(1)
        ).scalar_one()
    booked = get_upcoming_appointments(ctx, 1, TOMORROW, TOMORROW).rows
    a = next(x for x in booked if x.id == appointment_id)
    start = a.local_start
    assert start not in {
        s.start.astimezone(NY) for s in get_practitioner_slots(ctx, 1, a.practitioner_id, TOMORROW)
    }

    login(page, "coordinator")
    page.goto(f"/calendar?practitioner={a.practitioner_id}&date={TOMORROW}&view=day")
    page.locator(".cal-appt", has_text=a.patient_name).first.click()
    panel = page.locator("#cal-panel-content")
    panel.get_by_role("heading", name=a.patient_name).wait_for()
    panel.get_by_role("button", name="Cancel…").click()
    panel.locator(".dash-dropdown").first.click()
    page.get_by_role("option", name="Patient cancelled").click()
    panel.get_by_placeholder("Details (optional)").fill("Patient has the flu")
    panel.get_by_role("button", name="Cancel the appointment").click()

    page.locator("#cal-outcome-done").get_by_text("The time is free again").wait_for()
    assert "Cancelled" in panel.locator(".status-badge").inner_text()
    assert "Patient has the flu" in panel.inner_text()  # in the details and the history
    shot(page, artifacts_dir, "calendar-cancelled", e2e_backend, full_page=False)
    # The calendar behind the panel now offers that time as free.
    page.get_by_role("button", name="Close").click()
    free = page.locator(f'.cal-free[title^="{start:%H:%M}–"]')
    free.wait_for()
    assert f"{start:%H:%M}" in free.inner_text()
    assert start in {
        s.start.astimezone(NY) for s in get_practitioner_slots(ctx, 1, a.practitioner_id, TOMORROW)
    }


def test_a_booking_conflict_shows_the_services_reason_next_to_the_time(
    page, live_server, artifacts_dir: Path, e2e_backend: str
) -> None:
    ctx = live_server.context
    follow_up = _follow_up(ctx)
    day = TOMORROW + timedelta(days=1)  # Friday
    slot = get_clinic_slots_range(ctx, 1, 2, day, day, appointment_type_id=follow_up)[day][0]
    practitioner = slot.practitioner_ids[0]
    pid, _given, _family = _free_patient(ctx, day)
    login(page, "front-desk")
    page.goto(
        f"/book?clinic=2&practitioner={practitioner}&type={follow_up}"
        f"&start={slot.start.isoformat().replace('+', '%2B')}&patient={pid}"
    )
    page.locator("#book-start .active").wait_for()
    # Opening the form held the time (Holds); say it lapsed (the app's clock stands
    # still here), and meanwhile a colleague books that very time for someone else.
    page.locator("#book-held").wait_for()
    with ctx.db.transaction() as s:
        s.execute(
            update(SlotHold)
            .where(SlotHold.start_at == slot.start, SlotHold.practitioner_id == practitioner)
            .values(expires_at=ctx.clock() - timedelta(seconds=1))
        )
    other, _, _ = _free_patient(ctx, day, exclude=(pid,))
    create_appointment(
        ctx,
        1,
        patient_id=other,
        practitioner_id=practitioner,
        clinic_id=2,
        start=slot.start,
        appointment_type_id=follow_up,
        actor=SYSTEM,
    )
    page.get_by_role("button", name="Book appointment").click()
    error = page.locator("#book-start-error")
    error.wait_for()
    # Exactly what the service says about this booking now.
    with pytest.raises(BookingError) as refused:
        create_appointment(
            ctx,
            1,
            patient_id=pid,
            practitioner_id=practitioner,
            clinic_id=2,
            start=slot.start,
            appointment_type_id=follow_up,
            actor=SYSTEM,
        )
    assert refused.value.field == "start"
    assert error.inner_text() == refused.value.message
    assert page.locator("#book-success").count() == 0
    assert page.locator("#book-refused").inner_text() == "Not booked: see “Open times” above."
    # The list of open times is fetched again: the taken time is gone from it.
    taken = slot.start.astimezone(NY).strftime("%H:%M")
    page.locator("#book-start").get_by_text(taken, exact=True).wait_for(state="detached")
    shot(page, artifacts_dir, "booking-conflict", e2e_backend)


def test_a_stale_status_change_says_someone_else_changed_it(
    page, live_server, artifacts_dir: Path, e2e_backend: str
) -> None:
    ctx = live_server.context
    waiting = next(
        a
        for a in get_today_appointments(ctx, 1, clinic_id=3)
        if a.status == "booked" and a.start_at > DEMO_ANCHOR
    )
    login(page, "admin")
    page.goto(f"/calendar?practitioner={waiting.practitioner_id}&date={TODAY}&view=day")
    page.locator(".cal-appt", has_text=waiting.patient_name).first.click()
    panel = page.locator("#cal-panel-content")
    panel.get_by_role("button", name="Check in").wait_for()
    # The patient confirms by phone with a colleague while the panel is open.
    update_appointment_status(
        ctx, 1, waiting.id, "confirmed", Actor(None, "Phone line", "front-desk", 1)
    )
    panel.get_by_role("button", name="Check in").click()
    stale = page.locator("#cal-stale")
    stale.wait_for()
    assert "Changed by someone else" in stale.inner_text()
    assert "Phone line" in stale.inner_text()
    # Refreshed: the panel shows the appointment as it is now, and nothing was checked in.
    page.locator("#cal-panel-content .status-badge", has_text="Confirmed").wait_for()
    assert page.locator("#cal-panel-content").get_attribute("data-status") == "confirmed"
    shot(page, artifacts_dir, "calendar-stale", e2e_backend, full_page=False)


@pytest.mark.timeout(900)  # five pages of a busy clinic's day on a shared 2-core machine
def test_front_desk_books_a_slot_sees_it_in_today_checks_in_and_cancels_another(
    page, live_server, artifacts_dir: Path, e2e_backend: str
) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # A busy clinic's whole day on a shared machine: allow for a slow first answer.
    page.set_default_timeout(60_000)
    ctx = live_server.context
    follow_up = _follow_up(ctx)
    _pid, given, family = _free_patient(ctx, TODAY)
    # The last open follow-up time today at Harbor Main Clinic (well after the notice).
    slot = get_clinic_slots_range(ctx, 1, 1, TODAY, TODAY, appointment_type_id=follow_up)[TODAY][-1]
    local = slot.start.astimezone(NY)

    login(page, "front-desk", next_path="/availability")
    # One day's grid: the clinic's fortnight is the first journey's.
    page.goto(f"/availability?clinic=1&type={follow_up}&start={TODAY}&end={TODAY}")
    page.locator(f'#av-grid a[title^="{local:%a %d %b %H:%M}: "]').click()
    page.wait_for_url("**/book?**")
    page.locator("#book-start .active").wait_for()
    _choose_patient(page, given, family)
    page.get_by_role("button", name="Book appointment").click()
    page.locator("#book-success").wait_for()

    # Today at that clinic: the new appointment in its place in time, with its type.
    page.get_by_role("link", name="Today").click()
    page.get_by_role("heading", name="Today").wait_for()
    assert page.title() == "Today · Clinic scheduling"
    page.goto("/today?clinic=1")
    booked = get_today_appointments(ctx, 1, clinic_id=1, include_cancelled=False)
    mine = next(a for a in booked if a.patient_name == f"{given} {family}")
    row = page.locator(f"#today-row-{mine.id}")
    row.wait_for()
    assert row.locator("td").nth(0).inner_text().startswith(f"{local:%H:%M}")
    assert "Follow-up" in row.inner_text() and "Booked" in row.inner_text()
    rows = page.locator("#today-table tbody tr")
    assert rows.count() == len(booked)
    # The count cards say what the domain says.
    expected = sum(1 for a in booked if a.status == "booked")
    assert page.locator("#today-count-booked .fs-3").inner_text() == str(expected)

    # Check the patient in: one click; the visit record is opened.
    row.get_by_role("button", name="Check in").click()
    page.locator("#today-outcome-done").get_by_text("Now arrived.").wait_for()
    page.locator(f"#today-row-{mine.id}[data-status='arrived']").wait_for()
    assert page.locator(f"#today-row-{mine.id}").get_by_role("button", name="Start visit")
    encounter = get_encounter_for_appointment(ctx, 1, mine.id)
    assert encounter is not None and encounter.appointment_id == mine.id
    shot(page, artifacts_dir, "today", e2e_backend, full_page=False)

    # Cancel another one later today, with a category and a reason, from its panel.
    other = next(
        a
        for a in booked
        if a.status == "booked"
        and a.id != mine.id
        and a.start_at >= DEMO_ANCHOR + timedelta(hours=2)
        and a.appointment_type_id == follow_up
    )
    before = {s.start: s.seats for s in get_clinic_slots_range(ctx, 1, 1, TODAY, TODAY)[TODAY]}.get(
        other.start_at, 0
    )
    page.locator(f"#today-row-{other.id}").get_by_role("button", name="More…").click()
    panel = page.locator("#cal-panel-content")
    panel.get_by_role("heading", name=other.patient_name).wait_for()
    panel.get_by_role("button", name="Cancel…").click()
    panel.locator(".dash-dropdown").first.click()
    page.get_by_role("option", name="Patient cancelled").click()
    panel.get_by_placeholder("Details (optional)").fill("Called in sick")
    panel.get_by_role("button", name="Cancel the appointment").click()
    page.locator("#today-panel-outcome-done").get_by_text("The time is free again").wait_for()
    shot(page, artifacts_dir, "today-panel", e2e_backend, full_page=False)
    page.get_by_role("button", name="Close").click()
    page.locator(f"#today-row-{other.id}").wait_for(state="detached")  # cancelled: hidden

    # Its time is open again on the availability page.
    after = {s.start: s for s in get_clinic_slots_range(ctx, 1, 1, TODAY, TODAY)[TODAY]}
    assert after[other.start_at].seats == before + 1
    start = other.start_at.astimezone(NY)
    page.goto(f"/availability?clinic=1&start={TODAY}&end={TODAY}")
    cell = page.locator(f'#av-grid a[title^="{start:%a %d %b %H:%M}: "]')
    cell.wait_for()
    assert cell.inner_text().split("\n")[0] == f"{after[other.start_at].seats} open"
    assert errors == []


def test_coordinator_reads_the_activity_and_marks_notifications_read(
    page, live_server, artifacts_dir: Path, e2e_backend: str
) -> None:
    page.set_default_timeout(60_000)
    ctx = live_server.context
    # Coordinators are told of cancellations (the demo organization asks for it).
    waiting = next(
        a
        for a in get_today_appointments(ctx, 1, clinic_id=2)
        if a.status == "booked" and a.start_at > DEMO_ANCHOR
    )
    desk = Actor(None, "Fran at the desk", "front-desk", 1)
    cancel_appointment(ctx, 1, waiting.id, desk, "practice-initiated", reason="Room flooded")
    coordinator = next(u for u in DEMO_PROFILE.organizations[0].users if u.role == "coordinator")
    with ctx.db.read() as s:
        user_id = s.scalar(select(User.id).where(User.email == coordinator.email))
    unread = count_unread_notifications(ctx, 1, user_id)
    assert unread >= 1

    login(page, "coordinator", next_path="/activity")
    page.get_by_role("heading", name="Activity").wait_for()
    assert page.title() == "Activity · Clinic scheduling"
    badge = page.locator("#shell-unread")
    badge.get_by_text(str(unread) if unread < 100 else "99+", exact=True).wait_for()
    notes = page.locator("#activity-note-list li")
    notes.first.wait_for()
    assert notes.count() == min(unread, 100)
    assert notes.first.get_attribute("data-priority") == "high"  # high priority first
    events = page.locator("#activity-events li")
    events.first.wait_for()
    assert "Fran at the desk changed" in events.first.inner_text()
    assert "Room flooded" in events.first.inner_text()
    shot(page, artifacts_dir, "activity", e2e_backend, full_page=False)

    # One read, then all: the bell follows without a reload.
    notes.first.get_by_role("button", name="Mark read").click()
    if unread > 1:
        badge.get_by_text(str(unread - 1), exact=True).wait_for()
    page.get_by_role("button", name="Mark all read").click()
    page.get_by_text("You're all caught up.").wait_for()
    page.locator("#shell-unread.d-none").wait_for(state="attached")
    assert count_unread_notifications(ctx, 1, user_id) == 0
    # Older events, a page at a time.
    first_page = events.all_inner_texts()
    page.get_by_role("button", name="Older").click()
    page.wait_for_function(
        "t => document.querySelector('#activity-events li')?.innerText !== t",
        arg=first_page[0],
    )
    assert page.locator("#activity-events li").all_inner_texts() != first_page
