"""update_appointment: rescheduling with the full booking validation (the appointment left
out of its own checks), other changes, the before/after diff and who is told."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from data.models import ActivityEvent, Appointment, Notification, Organization
from domain.appointments import update_appointment, update_appointment_status
from domain.errors import BookingError
from tests.integration.appointments.conftest import THURSDAY, TUESDAY, WEDNESDAY, World, at


def _update(world: World, appointment_id: int, **kw: object):  # type: ignore[no-untyped-def]
    actor = kw.pop("actor", world.coordinator)
    return update_appointment(world.ctx, world.org_id, appointment_id, actor, **kw)  # type: ignore[arg-type]


def _last_event(world: World, appointment_id: int) -> tuple[str, dict, list[tuple]]:  # type: ignore[type-arg]
    with world.db.read() as s:
        e = s.scalars(
            select(ActivityEvent)
            .where(ActivityEvent.appointment_id == appointment_id)
            .order_by(ActivityEvent.id.desc())
            .limit(1)
        ).one()
        notes = s.execute(
            select(Notification.recipient_kind, Notification.recipient_id, Notification.title)
            .where(Notification.event_id == e.id)
            .order_by(Notification.id)
        ).all()
        return e.event_type, dict(e.payload), [tuple(n) for n in notes]


def test_rescheduling_onto_its_own_time_is_allowed(world: World) -> None:
    with world.db.transaction() as s:
        s.get_one(Organization, world.org_id).buffer_minutes = 15
    booked = world.book(at(TUESDAY, 10))
    moved = _update(world, booked.id, start=at(TUESDAY, 10, 15))
    assert (moved.start_at, moved.end_at) == (at(TUESDAY, 10, 15), at(TUESDAY, 10, 45))
    longer = _update(world, moved.id, duration_minutes=45)
    assert longer.end_at == at(TUESDAY, 11)


def test_rescheduling_onto_a_full_slot_is_refused_and_changes_nothing(world: World) -> None:
    booked = world.book(at(TUESDAY, 10))
    world.book(at(TUESDAY, 11), patient=world.patient_ids[1])
    with pytest.raises(BookingError) as info:
        _update(world, booked.id, start=at(TUESDAY, 11))
    assert info.value.code == "CONFLICT"
    with pytest.raises(BookingError) as info:
        _update(world, booked.id, duration_minutes=90)  # 10:00-11:30 runs into 11:00
    assert info.value.code == "CONFLICT"
    from domain.appointments import get_appointment

    assert get_appointment(world.ctx, world.org_id, booked.id).start_at == at(TUESDAY, 10)


def test_rescheduling_runs_the_whole_booking_validation(world: World) -> None:
    booked = world.book(at(TUESDAY, 10))
    for kw, code in [
        ({"start": at(TUESDAY, 18)}, "OUTSIDE_SCHEDULE"),
        ({"clinic_id": 999_999}, "CLINIC_NOT_FOUND"),
        ({"practitioner_id": 999_999}, "PRACTITIONER_NOT_FOUND"),
        ({"duration_minutes": 0}, "INVALID_DURATION"),
        ({"appointment_type_id": 999_999}, "APPOINTMENT_TYPE_NOT_FOUND"),
        (
            {"practitioner_id": world.colleague_id, "clinic_id": world.other_clinic_id},
            "NOT_ASSIGNED_TO_CLINIC",
        ),
    ]:
        with pytest.raises(BookingError) as info:
            _update(world, booked.id, **kw)
        assert info.value.code == code


def test_a_move_is_recorded_as_a_before_after_diff_and_told_to_both(world: World) -> None:
    booked = world.book(at(TUESDAY, 10))
    _update(world, booked.id, start=at(WEDNESDAY, 14), reason="Patient asked")
    event_type, payload, notes = _last_event(world, booked.id)
    assert event_type == "APPOINTMENT_UPDATED"
    assert payload["reason"] == "Patient asked"
    assert set(payload["changes"]) == {"start", "end"}
    assert payload["changes"]["start"]["before"] == at(TUESDAY, 10).isoformat()
    assert payload["changes"]["start"]["after"] == at(WEDNESDAY, 14).isoformat()
    assert [(k, i) for k, i, _ in notes] == [
        ("practitioner", world.practitioner_id),
        ("patient", world.patient_id),
    ]


def test_a_practitioner_change_notifies_both_practitioners(world: World) -> None:
    booked = world.book(at(TUESDAY, 10))
    view = _update(world, booked.id, practitioner_id=world.colleague_id)
    assert view.practitioner_name == "Dr. Grace Hopper"
    _type, payload, notes = _last_event(world, booked.id)
    assert payload["changes"]["practitioner_name"] == {
        "before": "Dr. Ada Lovelace",
        "after": "Dr. Grace Hopper",
    }
    told = {(k, i) for k, i, _ in notes if k == "practitioner"}
    assert told == {("practitioner", world.practitioner_id), ("practitioner", world.colleague_id)}


def test_the_seat_left_behind_by_a_move_is_free_again(world: World) -> None:
    booked = world.book(at(TUESDAY, 10))
    _update(world, booked.id, start=at(TUESDAY, 14))
    assert world.book(at(TUESDAY, 10), patient=world.patient_ids[1]).status == "booked"


def test_notes_change_quietly_and_stay_editable_after_the_visit(world: World) -> None:
    booked = world.book(at(TUESDAY, 10), notes="first")
    world.now = at(TUESDAY, 10)
    for status in ("arrived", "in-progress", "completed"):
        update_appointment_status(world.ctx, world.org_id, booked.id, status, world.front_desk)
    view = _update(world, booked.id, notes="Follow-up in 6 weeks", actor=world.front_desk)
    assert view.notes == "Follow-up in 6 weeks"
    event_type, payload, notes = _last_event(world, booked.id)
    assert event_type == "APPOINTMENT_UPDATED"
    assert payload["changes"] == {"notes": {"before": "first", "after": "Follow-up in 6 weeks"}}
    assert notes == []
    assert _update(world, booked.id, notes="").notes is None


def test_an_appointment_under_way_cannot_be_moved(world: World) -> None:
    booked = world.book(at(TUESDAY, 10))
    world.now = at(TUESDAY, 9, 55)
    update_appointment_status(world.ctx, world.org_id, booked.id, "arrived", world.front_desk)
    with pytest.raises(BookingError) as info:
        _update(world, booked.id, start=at(TUESDAY, 11))
    assert info.value.code == "NOT_EDITABLE"
    assert "only its notes can be edited" in info.value.message


def test_an_update_without_changes_writes_no_event(world: World) -> None:
    booked = world.book(at(TUESDAY, 10))
    same = _update(world, booked.id, start=at(TUESDAY, 10), practitioner_id=world.practitioner_id)
    assert same.version == booked.version
    assert _last_event(world, booked.id)[0] == "APPOINTMENT_CREATED"


def test_a_stale_reschedule_is_refused(world: World) -> None:
    booked = world.book(at(TUESDAY, 10))
    _update(world, booked.id, notes="changed meanwhile")
    with pytest.raises(BookingError) as info:
        _update(world, booked.id, start=at(TUESDAY, 14), expected_version=booked.version)
    assert info.value.code == "STALE"


def test_a_move_into_a_reserved_block_needs_the_blocks_type(world: World) -> None:
    booked = world.book(at(THURSDAY, 10))
    with pytest.raises(BookingError) as info:
        _update(world, booked.id, start=at(THURSDAY, 17, 30))
    assert info.value.code == "WRONG_TYPE_FOR_BLOCK"
    view = _update(
        world,
        booked.id,
        start=at(THURSDAY, 17, 30),
        appointment_type_id=world.group_type_id,
        duration_minutes=90,
    )
    assert view.appointment_type_code == "group-therapy"
    with world.db.read() as s:
        assert s.get_one(Appointment, booked.id).exclusive is False  # a seat among three


def test_booking_and_rescheduling_store_the_clinic_local_date_hour_and_lead(
    world: World,
) -> None:
    from datetime import time

    from data.models import Clinic, Practitioner
    from tests.factories import make_schedule

    with world.db.transaction() as s:
        make_schedule(
            s,
            s.get_one(Practitioner, world.practitioner_id),
            s.get_one(Clinic, world.clinic_id),
            weekdays=(1,),
            start=time(19),
            end=time(22),
        )
    # 20:00 on Tuesday in New York is 01:00 UTC on Wednesday; booked Monday 08:00.
    booked = world.book(at(TUESDAY, 20))
    assert at(TUESDAY, 20).date() == WEDNESDAY

    def facts() -> tuple[object, object, object]:
        with world.db.read() as s:
            a = s.get_one(Appointment, booked.id)
            return a.local_date, a.local_hour, a.lead_days

    assert facts() == (TUESDAY, 20, 1)
    _update(world, booked.id, start=at(WEDNESDAY, 10))
    assert facts() == (WEDNESDAY, 10, 2)
    _update(world, booked.id, start=at(THURSDAY, 9))
    assert facts() == (THURSDAY, 9, 3)
