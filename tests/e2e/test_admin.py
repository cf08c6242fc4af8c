"""Schedule administration in a real browser: an administrator sets up hours and leave,
and availability follows at once; managers may look but not change.

The journey: an admin adds a Saturday morning block for a practitioner; the clinic
availability page offers Saturday slots; a patient is booked on that Saturday; the admin
records a leave day and the slots disappear from the availability page while the booking
is listed as colliding (and stays booked).
"""

from __future__ import annotations

from datetime import date, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from data.models import Appointment, AppointmentType, Patient
from domain.actor import Actor
from domain.admin.views import clinic_options, list_blocks, practitioner_options
from domain.appointments import create_appointment
from domain.availability import get_clinic_slots_range
from domain.organizations import find_organization
from tests.e2e.conftest import login, shot
from tests.factories import local

pytestmark = pytest.mark.e2e

SATURDAY = date(2026, 3, 21)  # the demo anchor is Wednesday 18 March 2026
NY = "America/New_York"


def _harbor(live_server: Any) -> int:
    org = find_organization(live_server.context, "Harbor Health Partners")
    assert org is not None
    return org.id


def _quiet_clinic_and_practitioner(live_server: Any) -> tuple[int, str, int, str]:
    """A New York clinic where nobody works on Saturdays, and a practitioner assigned
    there who has no Saturday hours anywhere."""
    ctx = live_server.context
    org = _harbor(live_server)
    blocks = list_blocks(ctx, org)
    saturday_clinics = {b.clinic_id for b in blocks if b.weekday == 5}
    saturday_people = {b.practitioner_id for b in blocks if b.weekday == 5}
    clinics = {o.value: o.label for o in clinic_options(ctx, org)}
    for block in blocks:
        if (
            block.timezone == NY
            and block.clinic_id not in saturday_clinics
            and block.practitioner_id not in saturday_people
        ):
            name = next(
                o.label.split(" · ")[0]
                for o in practitioner_options(ctx, org)
                if o.value == block.practitioner_id
            )
            return block.clinic_id, clinics[block.clinic_id], block.practitioner_id, name
    raise AssertionError("the demo data has no New York clinic closed on Saturdays")


def _saturday_slots(live_server: Any, clinic_id: int) -> list[str]:
    slots = get_clinic_slots_range(
        live_server.context, _harbor(live_server), clinic_id, SATURDAY, SATURDAY
    )
    return [s.start.astimezone(ZoneInfo(NY)).strftime("%H:%M") for s in slots[SATURDAY]]


def _offered_on_saturday(page: Any, clinic_id: int, clinic_name: str) -> list[str]:
    """The open times the clinic availability page shows for that Saturday."""
    page.goto(f"/availability?clinic={clinic_id}&start={SATURDAY}&end={SATURDAY}")
    page.locator("#av-clinic-name").get_by_text(clinic_name).wait_for()
    view = page.locator("#av-clinic-view")
    view.locator("#av-grid, .empty-state").first.wait_for()
    if view.locator("#av-grid").count() == 0:
        return []
    return [
        title.split(": ")[0][-5:]  # "Sat 21 Mar 09:00: 1 open seat with ..."
        for title in view.locator("#av-grid .slot-grid-slot").evaluate_all(
            "cells => cells.map(c => c.title)"
        )
    ]


def _book_saturday(live_server: Any, clinic_id: int, practitioner_id: int) -> tuple[int, str]:
    """The front desk books a patient at 10:00 that Saturday (through the booking
    service, as the booking page would)."""
    ctx, org = live_server.context, _harbor(live_server)
    with ctx.db.read() as s:
        patient = s.scalars(select(Patient).where(Patient.organization_id == org).limit(1)).one()
        visit = s.scalars(
            select(AppointmentType).where(
                AppointmentType.organization_id == org, AppointmentType.is_group.is_(False)
            )
        ).first()
        assert visit is not None
        patient_id, patient_name, type_id = patient.id, patient.full_name, visit.id
    booked = create_appointment(
        ctx,
        org,
        patient_id=patient_id,
        practitioner_id=practitioner_id,
        clinic_id=clinic_id,
        start=local(SATURDAY, time(10)),
        appointment_type_id=type_id,
        duration_minutes=30,
        actor=Actor(None, "Front desk (test)", "front-desk", org),
    )
    return booked.id, patient_name


def test_saturday_hours_then_a_leave_day_follow_through_to_availability(
    page, live_server, artifacts_dir: Path, e2e_backend: str
) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    clinic_id, clinic_name, practitioner_id, practitioner_name = _quiet_clinic_and_practitioner(
        live_server
    )
    assert _saturday_slots(live_server, clinic_id) == []

    login(page, "admin", next_path=f"/admin/schedules?practitioner={practitioner_id}")
    page.get_by_role("heading", name="Weekly schedules").wait_for()
    assert page.title() == "Weekly schedules · Administration · Clinic scheduling"
    grid = page.locator("#schedules-week-grid")
    grid.wait_for()
    assert grid.locator(f'.wg-block[data-day="{SATURDAY.isoformat()}"]').count() == 0

    page.get_by_role("button", name="Add block").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Clinic").select_option(label=clinic_name)
    dialog.get_by_label("Weekday").select_option(label="Saturday")
    dialog.get_by_label("Starts").fill("09:00")
    dialog.get_by_label("Ends").fill("08:00")
    dialog.get_by_role("button", name="Save").click()
    # The refusal sits under the field it concerns.
    feedback = dialog.locator("#schedules-end-feedback")
    feedback.wait_for()
    assert "must end after it starts" in feedback.inner_text()
    shot(page, artifacts_dir, "admin-block-refused", e2e_backend)
    dialog.get_by_label("Ends").fill("12:00")
    dialog.get_by_role("button", name="Save").click()
    page.get_by_text(f"{practitioner_name}: Saturday 09:00–12:00 at {clinic_name} added").wait_for()
    saturday_block = grid.locator(f'.wg-block[data-day="{SATURDAY.isoformat()}"]')
    saturday_block.wait_for()
    assert "09:00–12:00" in saturday_block.inner_text()
    shot(page, artifacts_dir, "admin-schedule-week", e2e_backend)

    # The clinic availability page offers the Saturday morning at once.
    morning = ["09:00", "09:30", "10:00", "10:30", "11:00", "11:30"]
    assert _offered_on_saturday(page, clinic_id, clinic_name) == morning
    assert _saturday_slots(live_server, clinic_id) == morning
    shot(page, artifacts_dir, "admin-availability-saturday", e2e_backend)
    booked_id, patient_name = _book_saturday(live_server, clinic_id, practitioner_id)
    assert _offered_on_saturday(page, clinic_id, clinic_name) == [
        t for t in morning if t != "10:00"
    ]

    page.goto("/admin/exceptions")
    page.get_by_role("heading", name="Leave & closures").wait_for()
    form = page.locator("#exceptions-form-card")
    form.get_by_label("Leave").check()
    form.get_by_label("Practitioner").select_option(value=str(practitioner_id))
    form.get_by_label("From", exact=True).fill(SATURDAY.isoformat())
    form.get_by_label("Until (last day)", exact=True).fill(SATURDAY.isoformat())
    form.get_by_label("Note").fill("Family event")
    form.get_by_role("button", name="Save").click()
    page.get_by_text(f"Leave of {practitioner_name} saved (Sat 21 Mar 2026, all day).").wait_for()
    page.get_by_text("1 upcoming appointment collides with it and is still booked").wait_for()
    colliding = page.locator(".affected-table").first
    assert patient_name in colliding.inner_text()
    assert "Sat 21 Mar 2026 10:00–10:30" in colliding.inner_text()
    shot(page, artifacts_dir, "admin-leave-collisions", e2e_backend)

    # The slots are gone; the booking is not.
    assert _offered_on_saturday(page, clinic_id, clinic_name) == []
    page.get_by_text(f"No open slots at {clinic_name} between 21 Mar and 21 Mar.").wait_for()
    shot(page, artifacts_dir, "admin-availability-after-leave", e2e_backend)
    assert _saturday_slots(live_server, clinic_id) == []
    with live_server.context.db.read() as s:
        assert s.get(Appointment, booked_id).status == "booked"
    page.goto(f"/admin/schedules?practitioner={practitioner_id}&week=2026-03-16")
    leave = page.locator(f'.wg-exception[data-day="{SATURDAY.isoformat()}"]')
    leave.wait_for()
    assert "Leave" in leave.inner_text()
    shot(page, artifacts_dir, "admin-schedule-week-leave", e2e_backend)
    assert errors == []


@pytest.mark.parametrize("width", [1280, 390])
def test_every_admin_page_reads_well_for_an_administrator(
    page, live_server, artifacts_dir: Path, e2e_backend: str, width: int
) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    login(page, "admin")
    page.set_viewport_size({"width": width, "height": 800})
    for path, heading, title in [
        ("/settings", "Organization settings", "Organization settings"),
        ("/admin/clinics", "Clinics", "Clinics"),
        ("/admin/practitioners", "Practitioners", "Practitioners"),
        ("/admin/schedules", "Weekly schedules", "Weekly schedules"),
        ("/admin/schedules?clinic=2", "Weekly schedules", "Weekly schedules"),
        ("/admin/exceptions", "Leave & closures", "Leave & closures"),
        ("/admin/import", "Import weekly schedules", "Import schedules"),
    ]:
        page.goto(path)
        page.get_by_role("heading", name=heading, exact=True).wait_for()
        page.wait_for_load_state("networkidle")
        assert page.title().startswith(title), (path, page.title())
        # Nothing overflows the window sideways (wide tables and the grid scroll inside).
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, (path, overflow)
        name = path.strip("/").replace("/", "-").replace("?", "-").replace("=", "")
        shot(page, artifacts_dir, f"{name}-{width}", e2e_backend)
    assert errors == []


def test_a_manager_reads_the_set_up_but_cannot_change_it(
    page, live_server, artifacts_dir: Path, e2e_backend: str
) -> None:
    login(page, "manager", next_path="/admin/schedules")
    page.get_by_text("You can look at the set-up here").wait_for()
    page.locator("#schedules-block-list").wait_for()
    assert not page.get_by_role("button", name="Add block").is_visible()
    assert page.locator("#schedules-block-list").get_by_role("button", name="Edit").count() == 0
    shot(page, artifacts_dir, "admin-manager-schedules", e2e_backend)
    page.goto("/admin/clinics")
    page.get_by_role("cell", name="Harbor Main Clinic").wait_for()
    assert not page.get_by_role("button", name="Add clinic").is_visible()
    page.goto("/settings")
    page.get_by_text("Buffer between appointments").wait_for()
    assert page.locator("#settings-save").count() == 0
    shot(page, artifacts_dir, "admin-manager-settings", e2e_backend)


def test_the_csv_dry_run_lists_bad_rows_and_imports_nothing(
    page, live_server, artifacts_dir: Path, e2e_backend: str, tmp_path: Path
) -> None:
    ctx, org = live_server.context, _harbor(live_server)
    blocks = list_blocks(ctx, org, include_ended=True)
    before = len(blocks)
    good, clinic = blocks[0].practitioner_name, blocks[0].clinic_name  # nobody works Sundays
    csv = tmp_path / "spring.csv"
    csv.write_text(
        "practitioner,clinic,weekday,start,end,slot_minutes\n"
        f"{good},{clinic},Sunday,09:00,11:00,30\n"
        f"Dr. Nobody,{clinic},Sunday,09:00,11:00,30\n"
        f"{good},{clinic},Someday,09:00,11:00,30\n"
    )
    login(page, "admin", next_path="/admin/import")
    page.locator("#import-upload input[type=file]").set_input_files(str(csv))
    problems = page.locator("#import-problems")
    problems.wait_for()
    rows = [r.inner_text() for r in problems.locator("tbody tr").all()]
    assert len(rows) == 2
    assert rows[0].startswith("3") and "No practitioner named 'Dr. Nobody'" in rows[0]
    assert rows[1].startswith("4") and "Choose a weekday" in rows[1]
    page.get_by_text("2 of 3 rows have problems; nothing was imported.").wait_for()
    assert page.get_by_role("button", name="Import").is_disabled()
    shot(page, artifacts_dir, "admin-import-dry-run", e2e_backend)
    assert len(list_blocks(ctx, org, include_ended=True)) == before


def test_adding_a_clinic_shows_it_at_once(
    page, live_server, artifacts_dir: Path, e2e_backend: str
) -> None:
    login(page, "admin", next_path="/admin/clinics")
    page.get_by_role("button", name="Add clinic").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Name").fill("Harbor Main Clinic")
    dialog.get_by_label("Time zone").select_option("America/Chicago")
    dialog.get_by_role("button", name="Save").click()
    dialog.get_by_text("There is already a clinic named 'Harbor Main Clinic'.").wait_for()
    dialog.get_by_label("Name").fill("Lakeside Clinic")
    dialog.get_by_label("Address").fill("7 Shore Rd\nChicago, IL")
    dialog.get_by_role("button", name="Save").click()
    page.get_by_text("Clinic Lakeside Clinic created.").wait_for()
    page.get_by_role("cell", name="Lakeside Clinic").wait_for()
    shot(page, artifacts_dir, "admin-clinics-added", e2e_backend)
