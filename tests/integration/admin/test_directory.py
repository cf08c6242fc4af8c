"""Clinics, practitioners and clinic assignments: create, edit, deactivate (never delete),
each change audited; deactivations list the upcoming bookings they leave behind."""

from __future__ import annotations

from datetime import date, time

import pytest
from sqlalchemy import select

from data.models import Clinic, ClinicAssignment, Practitioner, Schedule
from domain.admin import (
    AdminError,
    ConfirmationRequired,
    create_assignment,
    create_clinic,
    create_practitioner,
    create_schedule_block,
    delete_assignment,
    set_clinic_active,
    set_practitioner_active,
    update_assignment,
    update_clinic,
    update_practitioner,
)
from domain.admin.views import list_clinic_rows, list_practitioner_rows
from domain.availability import get_clinic_slots_range
from tests.factories import local
from tests.integration.admin.conftest import MONDAY, SATURDAY, AdminWorld


def test_a_clinic_is_created_edited_and_refused_with_reasons(world: AdminWorld) -> None:
    w = world
    made = create_clinic(
        w.ctx, w.admin, w.org_id, name="  Riverside Clinic ", timezone="America/Chicago"
    )
    assert made.message == "Clinic Riverside Clinic created."
    with pytest.raises(AdminError) as caught:
        create_clinic(w.ctx, w.admin, w.org_id, name="riverside clinic", timezone="UTC")
    assert (caught.value.code, caught.value.field) == ("NAME_TAKEN", "name")
    with pytest.raises(AdminError) as caught:
        create_clinic(w.ctx, w.admin, w.org_id, name="Lakeside", timezone="Central Time")
    assert (caught.value.code, caught.value.field) == ("UNKNOWN_TIMEZONE", "timezone")
    with pytest.raises(AdminError) as caught:
        create_clinic(w.ctx, w.admin, w.org_id, name="x" * 201, timezone="UTC")
    assert (caught.value.code, caught.value.field) == ("INVALID_TEXT", "name")
    with pytest.raises(AdminError) as caught:
        create_clinic(w.ctx, w.admin, w.org_id, name=None, timezone="UTC")
    assert caught.value.field == "name"

    update_clinic(
        w.ctx,
        w.admin,
        w.org_id,
        made.id,
        name="Riverside Clinic",
        timezone="America/Chicago",
        address="48 River Rd\nCambridge, MA",
    )
    with pytest.raises(AdminError) as caught:
        update_clinic(
            w.ctx,
            w.admin,
            w.org_id,
            made.id,
            name="Harbor Main",
            timezone="America/Chicago",
            address=None,
        )
    assert caught.value.code == "NAME_TAKEN"
    created, changed = w.events("CLINIC_CREATED"), w.events("CLINIC_CHANGED")
    assert created[0].payload["timezone"] == "America/Chicago"
    assert changed[0].payload["changes"] == {
        "address": {"before": None, "after": "48 River Rd\nCambridge, MA"}
    }
    row = next(c for c in list_clinic_rows(w.ctx, w.org_id) if c.id == made.id)
    assert (row.active, row.practitioners, row.upcoming) == (True, 0, 0)


def test_deactivating_a_clinic_lists_its_bookings_keeps_them_and_stops_its_slots(
    world: AdminWorld,
) -> None:
    w = world
    booked = w.book(local(MONDAY, time(10)))
    assert get_clinic_slots_range(w.ctx, w.org_id, w.clinic_id, MONDAY, MONDAY)[MONDAY]
    with pytest.raises(ConfirmationRequired) as caught:
        set_clinic_active(w.ctx, w.admin, w.org_id, w.clinic_id, False)
    assert caught.value.appointment_ids == [booked]
    assert "Harbor Main has 1 upcoming appointment" in caught.value.message
    result = set_clinic_active(
        w.ctx, w.admin, w.org_id, w.clinic_id, False, confirmed_appointment_ids=[booked]
    )
    assert [a.id for a in result.affected] == [booked]
    assert w.status_of(booked) == "booked"
    assert get_clinic_slots_range(w.ctx, w.org_id, w.clinic_id, MONDAY, MONDAY)[MONDAY] == []
    (event,) = w.events("CLINIC_DEACTIVATED")
    assert event.priority == "high"
    assert event.payload["upcoming_appointments"]["count"] == 1
    assert event.payload["upcoming_appointments"]["appointments"][0]["patient"] == "Maria Santos"
    with w.db.read() as s:
        assert s.get(Clinic, w.clinic_id) is not None  # never deleted
    set_clinic_active(w.ctx, w.admin, w.org_id, w.clinic_id, True)
    assert w.slot_times(MONDAY)[:2] == ["09:00", "09:30"]


def test_moving_a_clinic_to_another_time_zone_needs_confirmation_for_stranded_bookings(
    world: AdminWorld,
) -> None:
    w = world
    booked = w.book(local(MONDAY, time(9)))  # 09:00 New York is 06:00 in Phoenix
    args = {"name": "Harbor Main", "timezone": "America/Phoenix", "address": "1 Test St"}
    with pytest.raises(ConfirmationRequired) as caught:
        update_clinic(w.ctx, w.admin, w.org_id, w.clinic_id, **args)
    assert caught.value.appointment_ids == [booked]
    result = update_clinic(
        w.ctx, w.admin, w.org_id, w.clinic_id, **args, confirmed_appointment_ids=[booked]
    )
    assert [a.id for a in result.affected] == [booked]
    assert w.slot_times(MONDAY, zone="America/Phoenix")[0] == "09:00"


def test_a_practitioner_is_added_renamed_deactivated_with_bookings_listed_and_reactivated(
    world: AdminWorld,
) -> None:
    w = world
    with pytest.raises(AdminError) as caught:
        create_practitioner(w.ctx, w.admin, w.org_id, name="Dr. Bo Chen", specialty=" ")
    assert (caught.value.code, caught.value.field) == ("INVALID_TEXT", "specialty")
    made = create_practitioner(w.ctx, w.admin, w.org_id, name="Dr. Bo Chen", specialty="Pediatrics")
    assert made.message == "Dr. Bo Chen added. Next: assign them to a clinic."
    update_practitioner(
        w.ctx, w.admin, w.org_id, made.id, name="Dr. Bo Chen", specialty="Family Medicine"
    )
    (changed,) = w.events("PRACTITIONER_CHANGED")
    assert changed.payload["changes"] == {
        "specialty": {"before": "Pediatrics", "after": "Family Medicine"}
    }
    with pytest.raises(AdminError) as caught:
        update_practitioner(
            w.ctx, w.admin, w.org_id, made.id, name="Dr. Bo Chen", specialty="Family Medicine"
        )
    assert caught.value.code == "NO_CHANGE"

    booked = w.book(local(MONDAY, time(9, 30)))
    with pytest.raises(ConfirmationRequired) as refusal:
        set_practitioner_active(w.ctx, w.admin, w.org_id, w.practitioner_id, False)
    assert refusal.value.appointment_ids == [booked]
    result = set_practitioner_active(
        w.ctx, w.admin, w.org_id, w.practitioner_id, False, confirmed_appointment_ids=[booked]
    )
    assert "no more slots" in result.message and w.status_of(booked) == "booked"
    assert w.slot_times(MONDAY) == []
    rows = {p.name: p for p in list_practitioner_rows(w.ctx, w.org_id)}
    assert rows["Dr. Ana Lee"].active is False and rows["Dr. Ana Lee"].upcoming == 1
    assert [a.clinic_name for a in rows["Dr. Ana Lee"].assignments] == [
        "Desert View",
        "Harbor Main",
    ]
    set_practitioner_active(w.ctx, w.admin, w.org_id, w.practitioner_id, True)
    assert "09:00" in w.slot_times(MONDAY)
    with w.db.read() as s:
        assert s.get(Practitioner, w.practitioner_id) is not None


def test_assignments_may_not_overlap_and_must_not_end_in_the_past(world: AdminWorld) -> None:
    w = world
    with pytest.raises(AdminError) as caught:
        create_assignment(
            w.ctx,
            w.admin,
            w.org_id,
            practitioner_id=w.practitioner_id,
            clinic_id=w.clinic_id,
            active_from="2026-06-01",
        )
    assert (caught.value.code, caught.value.field) == ("ASSIGNMENT_OVERLAP", "active_from")
    assert "from Thu 01 Jan 2026 (open-ended)" in caught.value.message
    with pytest.raises(AdminError) as caught:
        create_assignment(
            w.ctx,
            w.admin,
            w.org_id,
            practitioner_id=w.practitioner_id,
            clinic_id=w.clinic_id,
            active_from="2025-01-01",
            active_to="2025-06-30",
        )
    assert caught.value.code == "PERIOD_IN_PAST"
    with pytest.raises(AdminError) as caught:
        create_assignment(
            w.ctx,
            w.admin,
            w.org_id,
            practitioner_id=w.practitioner_id,
            clinic_id=w.clinic_id,
            active_from="next week",
        )
    assert (caught.value.code, caught.value.field) == ("INVALID_DATE", "active_from")


def test_ending_an_assignment_ends_the_blocks_there_after_confirming_stranded_bookings(
    world: AdminWorld,
) -> None:
    w = world
    create_schedule_block(
        w.ctx,
        w.admin,
        w.org_id,
        practitioner_id=w.practitioner_id,
        clinic_id=w.clinic_id,
        weekday=5,
        start="09:00",
        end="12:00",
        slot_minutes=30,
        valid_from="2026-04-04",
    )
    booked = w.book(local(MONDAY, time(10)))
    with w.db.read() as s:
        assignment_id = s.scalar(
            select(ClinicAssignment.id).where(
                ClinicAssignment.practitioner_id == w.practitioner_id,
                ClinicAssignment.clinic_id == w.clinic_id,
            )
        )
    assert assignment_id is not None
    args = {"active_from": "2026-01-01", "active_to": "2026-03-21"}
    with pytest.raises(ConfirmationRequired) as caught:
        update_assignment(w.ctx, w.admin, w.org_id, assignment_id, **args)
    assert caught.value.appointment_ids == [booked]
    result = update_assignment(
        w.ctx, w.admin, w.org_id, assignment_id, **args, confirmed_appointment_ids=[booked]
    )
    assert "6 weekly blocks at Harbor Main were ended with the assignment." in result.notes
    with w.db.read() as s:
        blocks = s.scalars(select(Schedule).where(Schedule.clinic_id == w.clinic_id)).all()
        # The weekday block ends with the assignment; the Saturday one never began.
        assert [b.valid_to for b in blocks] == [date(2026, 3, 21)] * 5
    assert w.slot_times(MONDAY) == [] and w.slot_times(SATURDAY) == []
    (event,) = w.events("ASSIGNMENT_CHANGED")
    assert event.payload["changes"]["active_to"] == {"before": None, "after": "2026-03-21"}
    assert len(event.payload["blocks_removed"]) == 1


def test_an_assignment_in_effect_cannot_be_removed_a_future_one_can(world: AdminWorld) -> None:
    w = world
    with w.db.read() as s:
        current = s.scalar(
            select(ClinicAssignment.id).where(ClinicAssignment.clinic_id == w.phoenix_id)
        )
    assert current is not None
    with pytest.raises(AdminError) as caught:
        delete_assignment(w.ctx, w.admin, w.org_id, current)
    assert caught.value.code == "IN_USE"
    other = create_clinic(w.ctx, w.admin, w.org_id, name="Lakeside", timezone="America/New_York")
    future = create_assignment(
        w.ctx,
        w.admin,
        w.org_id,
        practitioner_id=w.practitioner_id,
        clinic_id=other.id,
        active_from="2026-05-01",
    )
    delete_assignment(w.ctx, w.admin, w.org_id, future.id)
    assert [e.event_type for e in w.events()][-1] == "ASSIGNMENT_DELETED"
