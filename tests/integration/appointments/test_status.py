"""update_appointment_status through the database: cancellation, stale forms, corrections,
and the visit record (encounter) the workflow opens and closes."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from data.models import ActivityEvent, Appointment, Encounter, Notification, Organization
from domain.actor import Actor
from domain.appointments import (
    cancel_appointment,
    finalize_encounter,
    get_encounter_for_appointment,
    link_encounter,
    update_appointment_status,
)
from domain.errors import BookingError
from tests.factories import make_clinic, make_org, make_patient, make_practitioner, make_type
from tests.integration.appointments.conftest import TUESDAY, World, at


def _detached(rows: object) -> list[SimpleNamespace]:
    """Plain copies: read() rolls back, which would expire ORM objects."""
    return [
        SimpleNamespace(**{c.key: getattr(r, c.key) for c in r.__table__.columns})  # type: ignore[attr-defined]
        for r in rows  # type: ignore[attr-defined]
    ]


def _events(world: World, appointment_id: int) -> list[SimpleNamespace]:
    with world.db.read() as s:
        return _detached(
            s.scalars(
                select(ActivityEvent)
                .where(ActivityEvent.appointment_id == appointment_id)
                .order_by(ActivityEvent.id)
            )
        )


def _status(world: World, appointment_id: int, new: str, **kw: object):  # type: ignore[no-untyped-def]
    actor = kw.pop("actor", world.front_desk)
    return update_appointment_status(world.ctx, world.org_id, appointment_id, new, actor, **kw)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- cancel


def test_cancelled_booking_gives_its_seat_back(world: World) -> None:
    first = world.book(at(TUESDAY, 10))
    with pytest.raises(BookingError) as info:
        world.book(at(TUESDAY, 10), patient=world.patient_ids[1])
    assert info.value.code == "CONFLICT"

    cancel_appointment(world.ctx, world.org_id, first.id, world.front_desk, "patient-initiated")
    second = world.book(at(TUESDAY, 10), patient=world.patient_ids[1])
    assert second.status == "booked"


def test_cancellation_is_recorded_with_high_priority_and_notifies_everyone(world: World) -> None:
    with world.db.transaction() as s:
        org = s.get_one(Organization, world.org_id)
        org.settings = {**org.settings, "notify_coordinators": True}
    booked = world.book(at(TUESDAY, 10))
    view = cancel_appointment(
        world.ctx, world.org_id, booked.id, world.front_desk, "emergency", reason="Flooded road"
    )
    assert (view.status, view.cancellation_category, view.cancellation_reason) == (
        "cancelled",
        "emergency",
        "Flooded road",
    )
    event = _events(world, booked.id)[-1]
    assert event.event_type == "APPOINTMENT_STATUS_CHANGED"
    assert event.priority == "high"
    assert event.actor_name == "Fran Front"
    assert event.payload["old_status"] == "booked"
    assert event.payload["new_status"] == "cancelled"
    assert event.payload["reason"] == "Flooded road"
    assert event.payload["cancellation_category"] == "emergency"
    with world.db.read() as s:
        notes = _detached(s.scalars(select(Notification).where(Notification.event_id == event.id)))
    assert {(n.recipient_kind, n.recipient_id, n.recipient_role) for n in notes} == {
        ("practitioner", world.practitioner_id, None),
        ("patient", world.patient_id, None),
        ("role", None, "coordinator"),
    }
    assert all(n.priority == "high" for n in notes)
    assert all(n.title == "Appointment cancelled" for n in notes)


def test_coordinators_are_not_told_unless_the_organization_wants_it(world: World) -> None:
    booked = world.book(at(TUESDAY, 10))
    cancel_appointment(world.ctx, world.org_id, booked.id, world.front_desk, "other")
    with world.db.read() as s:
        roles = s.scalar(select(func.count()).where(Notification.recipient_kind == "role"))
    assert roles == 0


def test_cancelling_without_a_category_changes_nothing(world: World) -> None:
    booked = world.book(at(TUESDAY, 10))
    with pytest.raises(BookingError) as info:
        _status(world, booked.id, "cancelled")
    assert info.value.code == "CANCELLATION_CATEGORY_REQUIRED"
    assert len(_events(world, booked.id)) == 1


# --------------------------------------------------------------------------- workflow


def test_status_change_event_carries_old_new_reason_and_actor(world: World) -> None:
    booked = world.book(at(TUESDAY, 10))
    view = _status(world, booked.id, "confirmed", reason="Patient replied to SMS")
    assert view.status == "confirmed"
    assert view.version == booked.version + 1
    event = _events(world, booked.id)[-1]
    assert (event.payload["old_status"], event.payload["new_status"]) == ("booked", "confirmed")
    assert event.payload["reason"] == "Patient replied to SMS"
    assert event.payload["correction"] is False
    assert (event.actor_user_id, event.priority) == (world.front_desk.user_id, "normal")


def test_an_illegal_transition_is_refused_and_writes_nothing(world: World) -> None:
    booked = world.book(at(TUESDAY, 10))
    with pytest.raises(BookingError) as info:
        _status(world, booked.id, "completed")
    assert info.value.code == "ILLEGAL_TRANSITION"
    assert "Allowed next: confirmed, arrived (checked in), cancelled or no-show." in (
        info.value.message
    )
    assert len(_events(world, booked.id)) == 1


def test_a_stale_form_fails_instead_of_overwriting(world: World) -> None:
    booked = world.book(at(TUESDAY, 10))
    _status(world, booked.id, "confirmed", expected_version=booked.version)
    with pytest.raises(BookingError) as info:
        cancel_appointment(
            world.ctx,
            world.org_id,
            booked.id,
            world.coordinator,
            "practice-initiated",
            expected_version=booked.version,
        )
    assert info.value.code == "STALE"
    assert "changed by Fran Front" in info.value.message
    with world.db.read() as s:
        assert s.get_one(Appointment, booked.id).status == "confirmed"


def test_another_organizations_appointment_is_not_found(world: World) -> None:
    booked = world.book(at(TUESDAY, 10))
    with world.db.transaction() as s:
        other_org = make_org(s).id
    outsider = Actor(None, "Other front desk", "front-desk", organization_id=other_org)
    for org_id, actor, appointment_id in [
        (other_org, outsider, booked.id),
        (world.org_id, world.front_desk, 999_999),
    ]:
        with pytest.raises(BookingError) as info:
            update_appointment_status(world.ctx, org_id, appointment_id, "confirmed", actor)
        assert (info.value.code, info.value.message) == (
            "APPOINTMENT_NOT_FOUND",
            "This appointment was not found.",
        )


def test_an_admin_can_undo_a_cancellation_while_the_time_is_free(world: World) -> None:
    booked = world.book(at(TUESDAY, 10))
    cancel_appointment(world.ctx, world.org_id, booked.id, world.front_desk, "other")
    with pytest.raises(BookingError) as info:
        _status(world, booked.id, "booked", reason="wrong row")
    assert info.value.code == "NOT_PERMITTED"
    view = _status(world, booked.id, "booked", actor=world.admin, reason="Cancelled by mistake")
    assert (view.status, view.cancellation_category) == ("booked", None)
    event = _events(world, booked.id)[-1]
    assert event.payload["correction"] is True and event.priority == "high"


def test_undoing_a_cancellation_is_refused_when_the_seat_was_given_away(world: World) -> None:
    booked = world.book(at(TUESDAY, 10))
    cancel_appointment(world.ctx, world.org_id, booked.id, world.front_desk, "other")
    world.book(at(TUESDAY, 10), patient=world.patient_ids[1])
    with pytest.raises(BookingError) as info:
        _status(world, booked.id, "booked", actor=world.admin, reason="Cancelled by mistake")
    assert info.value.code == "CONFLICT"
    with world.db.read() as s:
        assert s.get_one(Appointment, booked.id).status == "cancelled"


# --------------------------------------------------------------------------- encounters


def _encounters(world: World) -> list[SimpleNamespace]:
    with world.db.read() as s:
        return _detached(s.scalars(select(Encounter)))


def test_arrival_opens_the_visit_record_once(world: World) -> None:
    booked = world.book(at(TUESDAY, 10))
    world.now = at(TUESDAY, 9, 50)
    _status(world, booked.id, "arrived")
    _status(world, booked.id, "in-progress")
    (enc,) = _encounters(world)
    assert enc.appointment_id == booked.id
    assert (enc.patient_id, enc.practitioner_id, enc.clinic_id) == (
        world.patient_id,
        world.practitioner_id,
        world.clinic_id,
    )
    assert enc.encounter_date == TUESDAY
    assert enc.encounter_type == "follow-up"
    assert enc.status == "in-progress"
    found = get_encounter_for_appointment(world.ctx, world.org_id, booked.id)
    assert found is not None and found.id == enc.id
    types = [e.event_type for e in _events(world, booked.id)]
    assert types.count("ENCOUNTER_CREATED") == 1


def test_the_visit_record_date_is_the_clinic_local_date(world: World) -> None:
    # 19:30 in New York is already the next day in UTC.
    with world.db.transaction() as s:
        from data.models import Schedule

        for row in s.scalars(select(Schedule).where(Schedule.capacity == 1)):
            row.end_time = row.end_time.replace(hour=21)
    booked = world.book(at(TUESDAY, 19, 30))
    world.now = at(TUESDAY, 19, 25)
    _status(world, booked.id, "arrived")
    assert _encounters(world)[0].encounter_date == TUESDAY


def test_finalizing_the_visit_completes_the_appointment_step_by_step(world: World) -> None:
    booked = world.book(at(TUESDAY, 10))
    world.now = at(TUESDAY, 9, 50)
    _status(world, booked.id, "arrived")
    enc = _encounters(world)[0]
    world.now = at(TUESDAY, 10, 40)
    done = finalize_encounter(world.ctx, world.org_id, enc.id, world.front_desk)
    assert done.status == "finished"
    assert done.finalized_at == world.now
    assert done.appointment_status == "completed"
    steps = [
        (e.payload["old_status"], e.payload["new_status"])
        for e in _events(world, booked.id)
        if e.event_type == "APPOINTMENT_STATUS_CHANGED"
    ]
    assert steps == [
        ("booked", "arrived"),
        ("arrived", "in-progress"),
        ("in-progress", "completed"),
    ]
    with pytest.raises(BookingError) as info:
        finalize_encounter(world.ctx, world.org_id, enc.id, world.front_desk)
    assert info.value.code == "ENCOUNTER_NOT_OPEN"


def _manual_encounter(world: World, patient_id: int) -> int:
    with world.db.transaction() as s:
        enc = Encounter(
            organization_id=world.org_id,
            patient_id=patient_id,
            practitioner_id=world.practitioner_id,
            clinic_id=world.clinic_id,
            encounter_date=TUESDAY,
            encounter_type="follow-up",
            status="in-progress",
            started_at=world.now,
        )
        s.add(enc)
        s.flush()
        return enc.id


def test_staff_can_link_an_existing_visit_record_and_finalizing_it_completes_the_booking(
    world: World,
) -> None:
    booked = world.book(at(TUESDAY, 10))
    enc_id = _manual_encounter(world, world.patient_id)
    linked = link_encounter(world.ctx, world.org_id, booked.id, enc_id, world.front_desk)
    assert linked.appointment_id == booked.id
    assert link_encounter(world.ctx, world.org_id, booked.id, enc_id, world.front_desk) == linked
    world.now = at(TUESDAY, 10, 40)
    _status(world, booked.id, "arrived")
    assert len(_encounters(world)) == 1  # arrival reuses the linked record
    done = finalize_encounter(world.ctx, world.org_id, enc_id, world.front_desk)
    assert done.appointment_status == "completed"


def test_linking_refuses_another_patients_or_an_already_linked_record(world: World) -> None:
    booked = world.book(at(TUESDAY, 10))
    other = world.book(at(TUESDAY, 11), patient=world.patient_ids[1])
    foreign = _manual_encounter(world, world.patient_ids[2])
    with pytest.raises(BookingError) as info:
        link_encounter(world.ctx, world.org_id, booked.id, foreign, world.front_desk)
    assert info.value.code == "ENCOUNTER_MISMATCH"
    mine = _manual_encounter(world, world.patient_ids[1])
    link_encounter(world.ctx, world.org_id, other.id, mine, world.front_desk)
    with pytest.raises(BookingError) as info:
        link_encounter(world.ctx, world.org_id, booked.id, mine, world.front_desk)
    assert info.value.code == "ENCOUNTER_ALREADY_LINKED"


def test_an_encounter_of_another_organization_is_not_found(world: World) -> None:
    booked = world.book(at(TUESDAY, 10))
    with world.db.transaction() as s:
        org = make_org(s)
        clinic = make_clinic(s, org)
        enc = Encounter(
            organization_id=org.id,
            patient_id=make_patient(s, org).id,
            practitioner_id=make_practitioner(s, org, [clinic]).id,
            clinic_id=clinic.id,
            encounter_date=date(2030, 1, 8),
            encounter_type=make_type(s, org).encounter_type,
            started_at=world.now,
        )
        s.add(enc)
        s.flush()
        enc_id = enc.id
    for call in (
        lambda: link_encounter(world.ctx, world.org_id, booked.id, enc_id, world.front_desk),
        lambda: finalize_encounter(world.ctx, world.org_id, enc_id, world.front_desk),
    ):
        with pytest.raises(BookingError) as info:
            call()
        assert info.value.code == "ENCOUNTER_NOT_FOUND"


def test_a_late_patient_can_still_be_checked_in_the_same_day(world: World) -> None:
    booked = world.book(at(TUESDAY, 10))
    world.now = at(TUESDAY, 10, 20)
    _status(world, booked.id, "no-show")
    world.now = at(TUESDAY, 10, 35)
    view = _status(world, booked.id, "arrived", reason="Bus was late")
    assert view.status == "arrived"
    assert len(_encounters(world)) == 1
    assert _events(world, booked.id)[-1].payload["correction"] is True


def test_a_cancelled_seat_is_offered_again_at_once(world: World) -> None:
    from domain.availability import get_practitioner_slots

    def offered() -> set:  # type: ignore[type-arg]
        slots = get_practitioner_slots(
            world.ctx, world.org_id, world.practitioner_id, TUESDAY, clinic_id=world.clinic_id
        )
        return {s.start for s in slots}

    assert at(TUESDAY, 10) in offered()  # and now cached
    booked = world.book(at(TUESDAY, 10))
    assert at(TUESDAY, 10) not in offered()
    cancel_appointment(world.ctx, world.org_id, booked.id, world.front_desk, "patient-initiated")
    assert at(TUESDAY, 10) in offered()
