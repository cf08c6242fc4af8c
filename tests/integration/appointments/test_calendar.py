"""The calendar's read side: whose appointments and free slots a user sees, and which
actions an appointment's panel offers to whom."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.appointments import cancel_appointment, update_appointment_status
from domain.calendar import get_appointment_details, get_calendar
from domain.errors import BookingError
from domain.permissions import PermissionDenied
from tests.integration.appointments.conftest import MONDAY, TUESDAY, World, at

FRIDAY = MONDAY + timedelta(days=4)


def test_a_practitioners_week_shows_their_appointments_and_what_is_still_free(
    world: World,
) -> None:
    ten = world.book(at(MONDAY, 10))
    gone = world.book(at(TUESDAY, 9), patient=world.patient_ids[1])
    cancel_appointment(world.ctx, world.org_id, gone.id, world.front_desk, "patient-initiated")
    world.book(at(MONDAY, 11), practitioner_id=world.colleague_id)

    week = get_calendar(
        world.ctx,
        world.org_id,
        MONDAY,
        FRIDAY,
        actor=world.coordinator,
        practitioner_id=world.practitioner_id,
    )
    assert week.days == [MONDAY + timedelta(days=k) for k in range(5)]
    assert [a.id for a in week.appointments] == [ten.id]
    free = {s.start for s in week.free}
    assert at(MONDAY, 10) not in free and at(MONDAY, 10, 30) in free
    assert at(TUESDAY, 9) in free  # the cancelled seat is open again
    with_cancelled = get_calendar(
        world.ctx,
        world.org_id,
        MONDAY,
        FRIDAY,
        actor=world.coordinator,
        practitioner_id=world.practitioner_id,
        include_cancelled=True,
    )
    assert [a.id for a in with_cancelled.appointments] == [ten.id, gone.id]

    clinic_day = get_calendar(
        world.ctx, world.org_id, MONDAY, MONDAY, actor=world.manager, clinic_id=world.clinic_id
    )
    assert [a.practitioner_id for a in clinic_day.appointments] == [
        world.practitioner_id,
        world.colleague_id,
    ]
    at_ten = next(s for s in clinic_day.free if s.start == at(MONDAY, 10))
    assert at_ten.practitioner_ids == (world.colleague_id,)


def test_a_practitioner_sees_only_their_own_calendar(world: World) -> None:
    world.book(at(MONDAY, 10))
    world.book(at(MONDAY, 10), practitioner_id=world.colleague_id, patient=world.patient_ids[1])
    own = get_calendar(world.ctx, world.org_id, MONDAY, MONDAY, actor=world.practitioner)
    assert own.practitioner_id == world.practitioner_id
    assert {a.practitioner_id for a in own.appointments} == {world.practitioner_id}
    at_clinic = get_calendar(
        world.ctx, world.org_id, MONDAY, MONDAY, actor=world.practitioner, clinic_id=world.clinic_id
    )
    assert {a.practitioner_id for a in at_clinic.appointments} == {world.practitioner_id}
    with pytest.raises(PermissionDenied):
        get_calendar(
            world.ctx,
            world.org_id,
            MONDAY,
            MONDAY,
            actor=world.practitioner,
            practitioner_id=world.colleague_id,
        )
    with pytest.raises(PermissionDenied):  # the front desk works from Today, not calendars
        get_calendar(world.ctx, world.org_id, MONDAY, MONDAY, actor=world.front_desk)
    with pytest.raises(BookingError) as nobody:
        get_calendar(world.ctx, world.org_id, MONDAY, MONDAY, actor=world.manager)
    assert nobody.value.code == "NO_SELECTION"
    with pytest.raises(BookingError) as long:
        get_calendar(
            world.ctx,
            world.org_id,
            MONDAY,
            MONDAY + timedelta(days=14),
            actor=world.manager,
            clinic_id=world.clinic_id,
        )
    assert long.value.code == "INVALID_RANGE"


def test_the_panel_offers_each_role_the_actions_it_may_take_now(world: World) -> None:
    booked = world.book(at(MONDAY, 10))

    def offered(actor) -> tuple[tuple[str, ...], bool]:  # type: ignore[no-untyped-def]
        details = get_appointment_details(world.ctx, world.org_id, booked.id, actor=actor)
        return details.next_statuses, details.can_reschedule

    # 08:00 on the appointment's day: check-in yes, no-show not before 10:00.
    assert offered(world.front_desk) == (("confirmed", "arrived", "cancelled"), False)
    assert offered(world.coordinator) == (("cancelled",), True)
    assert offered(world.practitioner) == (("confirmed", "arrived"), False)
    assert offered(world.manager) == ((), False)
    world.now = at(MONDAY, 10, 5)
    assert "no-show" in offered(world.front_desk)[0]

    update_appointment_status(world.ctx, world.org_id, booked.id, "arrived", world.front_desk)
    assert offered(world.front_desk) == (("in-progress", "cancelled"), False)
    details = get_appointment_details(world.ctx, world.org_id, booked.id, actor=world.coordinator)
    assert details.history is not None
    kinds = [e.event_type for e in details.history]
    assert kinds[0] == "APPOINTMENT_CREATED" and "ENCOUNTER_CREATED" in kinds
    checked_in = next(e for e in details.history if e.event_type == "APPOINTMENT_STATUS_CHANGED")
    assert checked_in.actor_name == "Fran Front" and "arrived" in checked_in.summary
    own = get_appointment_details(world.ctx, world.org_id, booked.id, actor=world.practitioner)
    assert own.history is None  # histories need view_activity


def test_the_panel_refuses_appointments_outside_the_users_reach(world: World) -> None:
    theirs = world.book(at(MONDAY, 10), practitioner_id=world.colleague_id)
    with pytest.raises(PermissionDenied):
        get_appointment_details(world.ctx, world.org_id, theirs.id, actor=world.practitioner)
    with pytest.raises(BookingError) as missing:
        get_appointment_details(world.ctx, world.org_id, theirs.id + 999, actor=world.manager)
    assert missing.value.code == "APPOINTMENT_NOT_FOUND"
