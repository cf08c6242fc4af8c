"""create_appointment: every validation with its code and message, and what a booking
writes (row, event, notifications) in one transaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from data.models import ActivityEvent, Appointment, Notification, Organization
from domain import activity
from domain.actor import Actor
from domain.errors import BookingError
from tests.factories import (
    make_clinic,
    make_exception,
    make_org,
    make_patient,
    make_practitioner,
    make_schedule,
    make_type,
)
from tests.integration.appointments.conftest import THURSDAY, TUESDAY, World, at


def _refused(world: World, code: str, **kw: object) -> BookingError:
    start = kw.pop("start", at(TUESDAY, 10))
    with pytest.raises(BookingError) as info:
        world.book(start, **kw)  # type: ignore[arg-type]
    assert info.value.code == code, info.value.message
    return info.value


def _count(world: World, model: type) -> int:
    with world.db.read() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def _other_org(world: World) -> dict[str, int]:
    with world.db.transaction() as s:
        org = make_org(s)
        clinic = make_clinic(s, org)
        prac = make_practitioner(s, org, [clinic])
        make_schedule(s, prac, clinic)
        return {
            "patient_id": make_patient(s, org).id,
            "practitioner_id": prac.id,
            "clinic_id": clinic.id,
            "appointment_type_id": make_type(s, org).id,
        }


# --------------------------------------------------------------------------- success


def test_a_valid_booking_is_booked_with_its_event_and_notifications(world: World) -> None:
    view = world.book(at(TUESDAY, 10), notes="Bring the X-ray <b>films</b>")

    assert view.status == "booked"
    assert view.start_at == at(TUESDAY, 10)
    assert view.end_at - view.start_at == timedelta(minutes=30)  # the type's default
    assert (view.patient_name, view.practitioner_name) == ("Pat0 Doe", "Dr. Ada Lovelace")
    assert view.notes == "Bring the X-ray <b>films</b>"
    with world.db.read() as s:
        row = s.get_one(Appointment, view.id)
        assert row.booked_at == world.now
        assert row.created_by_user_id == world.front_desk.user_id
        assert row.end_at == row.start_at + timedelta(minutes=row.duration_minutes)
        assert row.exclusive is True
        (event,) = s.scalars(select(ActivityEvent)).all()
        assert event.event_type == "APPOINTMENT_CREATED"
        assert event.appointment_id == view.id
        assert (event.actor_user_id, event.actor_name) == (
            world.front_desk.user_id,
            "Fran Front",
        )
        assert event.payload["practitioner_name"] == "Dr. Ada Lovelace"
        assert event.payload["clinic_name"] == "Main clinic"
        assert datetime.fromisoformat(event.payload["start"]) == at(TUESDAY, 10)
        assert event.payload["status"] == "booked"
        recipients = {
            (n.recipient_kind, n.recipient_id, n.channel)
            for n in s.scalars(select(Notification).where(Notification.event_id == event.id))
        }
    assert recipients == {
        ("practitioner", world.practitioner_id, "in-app"),
        ("patient", world.patient_id, "email"),
    }


def test_the_duration_given_overrides_the_type_default(world: World) -> None:
    view = world.book(at(TUESDAY, 10), duration_minutes=60)
    assert view.duration_minutes == 60
    assert view.end_at == at(TUESDAY, 11)


def test_notifications_follow_the_organization_settings(world: World) -> None:
    with world.db.transaction() as s:
        s.get_one(Organization, world.org_id).settings = {
            "notify_practitioner": False,
            "notify_patient": False,
        }
    world.book(at(TUESDAY, 10))
    assert _count(world, Notification) == 0
    assert _count(world, ActivityEvent) == 1


def test_a_failure_while_writing_the_event_leaves_no_appointment_behind(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_a: object, **_k: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(activity, "record_event", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        world.book(at(TUESDAY, 10))
    assert _count(world, Appointment) == 0
    assert _count(world, Notification) == 0
    monkeypatch.undo()
    assert world.book(at(TUESDAY, 10)).status == "booked"  # the seat was never taken


# --------------------------------------------------------------------------- 1-3


def test_unknown_patient_is_refused(world: World) -> None:
    err = _refused(world, "PATIENT_NOT_FOUND", patient=999_999)
    assert (err.message, err.field) == ("This patient was not found.", "patient")


def test_unknown_practitioner_is_refused(world: World) -> None:
    err = _refused(world, "PRACTITIONER_NOT_FOUND", practitioner_id=999_999)
    assert (err.message, err.field) == ("This practitioner was not found.", "practitioner")


def test_inactive_practitioner_is_refused(world: World) -> None:
    from data.models import Practitioner

    with world.db.transaction() as s:
        s.get_one(Practitioner, world.practitioner_id).active = False
    err = _refused(world, "PRACTITIONER_INACTIVE")
    assert err.message == "Dr. Ada Lovelace is no longer active and cannot take appointments."
    assert err.field == "practitioner"


def test_unknown_clinic_is_refused(world: World) -> None:
    err = _refused(world, "CLINIC_NOT_FOUND", clinic_id=999_999)
    assert (err.message, err.field) == ("This clinic was not found.", "clinic")


def test_a_stand_in_practitioner_for_imported_history_is_refused(world: World) -> None:
    from data.models import Practitioner

    with world.db.transaction() as s:
        s.get_one(Practitioner, world.practitioner_id).is_placeholder = True
    err = _refused(world, "PRACTITIONER_INACTIVE")
    assert "stands in for imported history" in err.message


def test_a_closed_clinic_is_refused(world: World) -> None:
    from data.models import Clinic

    with world.db.transaction() as s:
        s.get_one(Clinic, world.clinic_id).active = False
    err = _refused(world, "CLINIC_INACTIVE")
    assert (err.message, err.field) == ("Main clinic is closed for bookings.", "clinic")


def test_an_unknown_organization_is_refused(world: World) -> None:
    from domain.appointments import create_appointment

    with pytest.raises(BookingError) as info:
        create_appointment(
            world.ctx,
            999_999,
            patient_id=world.patient_id,
            practitioner_id=world.practitioner_id,
            clinic_id=world.clinic_id,
            start=at(TUESDAY, 10),
            appointment_type_id=world.type_id,
            actor=Actor.system(),
        )
    assert info.value.code == "ORGANIZATION_NOT_FOUND"


def test_practitioner_not_assigned_to_the_clinic_is_refused(world: World) -> None:
    err = _refused(
        world, "NOT_ASSIGNED_TO_CLINIC", practitioner_id=world.colleague_id,
        clinic_id=world.other_clinic_id,
    )  # fmt: skip
    assert err.message == "Dr. Grace Hopper does not work at Annex."
    assert err.field == "clinic"


def test_assignment_must_cover_the_clinic_local_date(world: World) -> None:
    from data.models import ClinicAssignment

    with world.db.transaction() as s:
        row = s.scalars(
            select(ClinicAssignment).where(
                ClinicAssignment.practitioner_id == world.practitioner_id,
                ClinicAssignment.clinic_id == world.clinic_id,
            )
        ).one()
        row.active_from = TUESDAY + timedelta(days=1)
    err = _refused(world, "NOT_ASSIGNED_TO_CLINIC")
    assert err.message == (
        "Dr. Ada Lovelace works at Main clinic only from 09 Jan 2030, not on Tue 08 Jan 2030."
    )


def test_unknown_appointment_type_is_refused(world: World) -> None:
    err = _refused(world, "APPOINTMENT_TYPE_NOT_FOUND", appointment_type_id=999_999)
    assert (err.message, err.field) == ("This appointment type was not found.", "appointment_type")


def test_retired_appointment_type_is_refused(world: World) -> None:
    from data.models import AppointmentType

    with world.db.transaction() as s:
        s.get_one(AppointmentType, world.type_id).active = False
    err = _refused(world, "APPOINTMENT_TYPE_INACTIVE")
    assert err.message == "'Follow up' appointments are no longer offered."


@pytest.mark.parametrize(
    ("minutes", "message"),
    [
        (0, "The duration must be at least one minute."),
        (-30, "The duration must be at least one minute."),
        (721, "An appointment can last at most 12 hours (720 minutes); 721 minutes is too long."),
        (30.5, "The duration must be a whole number of minutes."),
    ],
)
def test_non_positive_or_absurd_durations_are_refused(
    world: World, minutes: object, message: str
) -> None:
    err = _refused(world, "INVALID_DURATION", duration_minutes=minutes)
    assert (err.message, err.field) == (message, "duration")


def test_a_naive_start_is_refused_with_a_form_error(world: World) -> None:
    err = _refused(world, "INVALID_START", start=datetime(2030, 1, 8, 10, 0))
    assert err.field == "start"


@pytest.mark.parametrize(
    "field", ["patient_id", "practitioner_id", "clinic_id", "appointment_type_id"]
)
def test_ids_of_another_organization_fail_exactly_like_missing_ones(
    world: World, field: str
) -> None:
    foreign = _other_org(world)
    kw = {"patient": foreign["patient_id"]} if field == "patient_id" else {field: foreign[field]}
    missing = {"patient": 999_999} if field == "patient_id" else {field: 999_999}
    code = {
        "patient_id": "PATIENT_NOT_FOUND",
        "practitioner_id": "PRACTITIONER_NOT_FOUND",
        "clinic_id": "CLINIC_NOT_FOUND",
        "appointment_type_id": "APPOINTMENT_TYPE_NOT_FOUND",
    }[field]
    across = _refused(world, code, **kw)
    absent = _refused(world, code, **missing)
    assert (across.message, across.field) == (absent.message, absent.field)
    assert _count(world, Appointment) == 0


def test_the_first_failing_check_is_the_one_reported(world: World) -> None:
    _refused(world, "PATIENT_NOT_FOUND", patient=999_999, practitioner_id=999_999)
    _refused(world, "PRACTITIONER_NOT_FOUND", practitioner_id=999_999, clinic_id=999_999)
    _refused(world, "CLINIC_NOT_FOUND", clinic_id=999_999, start=at(TUESDAY, 22))


# --------------------------------------------------------------------------- 4-6 and time


def test_outside_the_schedule_is_refused_naming_the_hours(world: World) -> None:
    err = _refused(world, "OUTSIDE_SCHEDULE", start=at(TUESDAY, 16, 45))
    assert "from 09:00 to 17:00" in err.message
    assert "Dr. Ada Lovelace" in err.message
    assert err.field == "start"


def test_time_off_is_refused(world: World) -> None:
    with world.db.transaction() as s:
        org = s.get_one(Organization, world.org_id)
        from data.models import Practitioner

        prac = s.get_one(Practitioner, world.practitioner_id)
        make_exception(s, org, at(TUESDAY, 0), at(TUESDAY, 13), practitioner=prac)
    err = _refused(world, "EXCEPTION")
    assert "Dr. Ada Lovelace is unavailable" in err.message
    assert world.book(at(TUESDAY, 14)).status == "booked"


def test_a_block_reserved_for_a_type_refuses_other_types(world: World) -> None:
    err = _refused(world, "WRONG_TYPE_FOR_BLOCK", start=at(THURSDAY, 17, 30))
    assert err.field == "appointment_type"
    view = world.book(at(THURSDAY, 17, 30), appointment_type_id=world.group_type_id)
    assert view.duration_minutes == 90


def test_a_taken_slot_is_refused_naming_the_appointment(world: World) -> None:
    first = world.book(at(TUESDAY, 10))
    err = _refused(world, "CONFLICT", patient=world.patient_ids[1], start=at(TUESDAY, 10, 15))
    assert f"#{first.id}" in err.message
    assert err.details["appointment_id"] == first.id


def test_the_buffer_between_appointments_is_enforced(world: World) -> None:
    with world.db.transaction() as s:
        s.get_one(Organization, world.org_id).buffer_minutes = 15
    world.book(at(TUESDAY, 10))
    err = _refused(world, "BUFFER", patient=world.patient_ids[1], start=at(TUESDAY, 10, 30))
    assert "15 minutes" in err.message and "10:45" in err.message
    assert world.book(at(TUESDAY, 10, 45), patient=world.patient_ids[1]).status == "booked"


def test_a_start_in_the_past_is_refused(world: World) -> None:
    world.now = at(TUESDAY, 10, 5)
    _refused(world, "IN_PAST")


def test_a_start_inside_the_minimum_notice_is_refused(world: World) -> None:
    with world.db.transaction() as s:
        s.get_one(Organization, world.org_id).min_notice_minutes = 120
    world.now = at(TUESDAY, 8, 30)
    err = _refused(world, "INSIDE_MIN_NOTICE")
    assert "2 hours" in err.message
    assert world.book(at(TUESDAY, 10, 30)).status == "booked"


def test_a_start_beyond_the_booking_horizon_is_refused(world: World) -> None:
    with world.db.transaction() as s:
        s.get_one(Organization, world.org_id).booking_horizon_days = 30
    err = _refused(world, "BEYOND_HORIZON", start=at(TUESDAY + timedelta(weeks=5), 10))
    assert "30 days" in err.message


# --------------------------------------------------------------------------- patient


def test_a_patient_cannot_be_in_two_rooms_at_once(world: World) -> None:
    first = world.book(at(TUESDAY, 10))
    err = _refused(
        world, "PATIENT_OVERLAP", practitioner_id=world.colleague_id, start=at(TUESDAY, 10, 15)
    )
    assert err.message == (
        "Pat0 Doe already has an appointment at that time: Tue 08 Jan 2030 10:00-10:30 "
        "with Dr. Ada Lovelace at Main clinic."
    )
    assert err.details["conflicting_appointment_id"] == first.id
    # Back to back is fine.
    assert world.book(at(TUESDAY, 10, 30), practitioner_id=world.colleague_id).status == "booked"


def test_a_cancelled_or_missed_visit_does_not_keep_the_patient_busy(world: World) -> None:
    from domain.appointments import cancel_appointment

    first = world.book(at(TUESDAY, 10))
    cancel_appointment(world.ctx, world.org_id, first.id, world.front_desk, "patient-initiated")
    view = world.book(at(TUESDAY, 10), practitioner_id=world.colleague_id)
    assert view.status == "booked"


# --------------------------------------------------------------------------- text


def test_notes_over_the_limit_are_refused_with_the_limit(world: World) -> None:
    err = _refused(world, "INVALID_TEXT", notes="x" * 4001)
    assert err.field == "notes"
    assert "4,000" in err.message


def test_notes_keep_markup_quotes_and_emoji_verbatim(world: World) -> None:
    text = "<script>alert('x')</script> '; DROP TABLE appointments; -- 🦷\ttab"
    assert world.book(at(TUESDAY, 10), notes=text).notes == text


def test_notes_with_a_nul_character_are_refused(world: World) -> None:
    err = _refused(world, "INVALID_TEXT", notes="a\x00b")
    assert err.field == "notes"


def test_booked_at_is_the_clock_not_the_database_time(world: World) -> None:
    view = world.book(at(TUESDAY, 10))
    assert view.booked_at == world.now
    assert view.booked_at.tzinfo is not None
    assert view.booked_at.astimezone(UTC) == world.now


def test_every_slot_availability_offers_can_be_booked(world: World) -> None:
    from domain.availability import get_practitioner_slots

    with world.db.transaction() as s:
        s.get_one(Organization, world.org_id).buffer_minutes = 10
    world.book(at(TUESDAY, 10, 40), duration_minutes=20)
    offered = get_practitioner_slots(
        world.ctx, world.org_id, world.practitioner_id, TUESDAY, clinic_id=world.clinic_id
    )
    assert offered, "the day should have open slots"
    # After each booking, every offer still made must be bookable (patients take turns).
    for i, slot in enumerate(offered):
        still = get_practitioner_slots(
            world.ctx, world.org_id, world.practitioner_id, TUESDAY, clinic_id=world.clinic_id
        )
        if slot.start not in {s.start for s in still}:
            continue
        patient = world.patient_ids[i % len(world.patient_ids)]
        view = world.book(slot.start, patient=patient, duration_minutes=slot.minutes)
        assert view.start_at == slot.start
    assert (
        get_practitioner_slots(
            world.ctx, world.org_id, world.practitioner_id, TUESDAY, clinic_id=world.clinic_id
        )
        == []
    )
