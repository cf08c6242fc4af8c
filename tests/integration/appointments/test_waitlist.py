"""The waitlist: freed seats are offered to waiting patients in the order they joined."""

from __future__ import annotations

from datetime import time, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from data.models import Appointment, Notification, SlotHold, WaitlistEntry, WaitlistOffer
from domain import waitlist
from domain.appointments import book_waitlist_offer, cancel_appointment, update_appointment
from domain.availability import get_practitioner_slots
from domain.errors import BookingError
from tests.integration.appointments.conftest import TUESDAY, World, at


def _join(world: World, patient: int, **kw):  # type: ignore[no-untyped-def]
    args = {
        "patient_id": patient,
        "appointment_type_id": world.type_id,
        "earliest_date": TUESDAY,
        "latest_date": TUESDAY,
        "practitioner_id": world.practitioner_id,
        # Only 10:00 fits: the slot the tests free.
        "time_from": time(10),
        "time_to": time(10, 30),
    }
    args.update(kw)
    return waitlist.add_entry(world.ctx, world.org_id, world.coordinator, **args)


def _entries(world: World) -> dict[int, tuple[str, int | None]]:
    """entry id -> (status, offered start's open offer id)"""
    with world.db.read() as s:
        offers = {
            o.entry_id: o.id
            for o in s.scalars(select(WaitlistOffer).where(WaitlistOffer.status == "open"))
        }
        return {e.id: (e.status, offers.get(e.id)) for e in s.scalars(select(WaitlistEntry))}


def _offer(world: World, entry_id: int) -> SimpleNamespace:
    """The entry's open offer (id, start_at, expires_at)."""
    with world.db.read() as s:
        o = s.scalars(
            select(WaitlistOffer).where(
                WaitlistOffer.entry_id == entry_id, WaitlistOffer.status == "open"
            )
        ).one()
        return SimpleNamespace(id=o.id, start_at=o.start_at, expires_at=o.expires_at)


def _cancel(world: World, appointment_id: int) -> None:
    cancel_appointment(
        world.ctx, world.org_id, appointment_id, world.front_desk, "patient-initiated"
    )


def test_a_cancellation_offers_the_seat_to_the_waitlist_within_the_same_request(
    world: World,
) -> None:
    booked = world.book(at(TUESDAY, 10))
    entry = _join(world, world.patient_ids[1])
    assert _entries(world)[entry.id] == ("waiting", None)
    _cancel(world, booked.id)
    status, offer_id = _entries(world)[entry.id]
    assert status == "offered" and offer_id is not None
    offer = _offer(world, entry.id)
    assert offer.start_at == at(TUESDAY, 10)
    assert offer.expires_at == world.now + timedelta(minutes=waitlist.DEFAULT_OFFER_MINUTES)
    with world.db.read() as s:
        titles = [
            n.title
            for n in s.scalars(
                select(Notification).where(Notification.recipient_role == "coordinator")
            )
        ]
    assert "Waitlist: a freed seat to offer" in titles
    # The offer keeps the seat: nobody else books it meanwhile.
    with pytest.raises(BookingError) as refused:
        world.book(at(TUESDAY, 10), patient=world.patient_ids[2])
    assert refused.value.code == "CONFLICT"


def test_the_offer_is_part_of_the_cancellations_transaction(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    booked = world.book(at(TUESDAY, 10))
    _join(world, world.patient_ids[1])

    def broken(*_a: object, **_k: object) -> None:
        raise RuntimeError("offer failed")

    monkeypatch.setattr(waitlist, "_offer", broken)
    with pytest.raises(RuntimeError):
        _cancel(world, booked.id)
    with world.db.read() as s:
        assert s.get_one(Appointment, booked.id).status == "booked"  # rolled back together


def test_freed_seats_go_in_the_order_of_joining(world: World) -> None:
    booked = world.book(at(TUESDAY, 10))
    first = _join(world, world.patient_ids[1])
    world.now += timedelta(minutes=1)
    second = _join(world, world.patient_ids[2])
    _cancel(world, booked.id)
    entries = _entries(world)
    assert entries[first.id][0] == "offered"
    assert entries[second.id] == ("waiting", None)


def test_a_specialty_entry_gets_a_seat_of_anyone_of_that_specialty(world: World) -> None:
    booked = world.book(at(TUESDAY, 10))
    entry = _join(world, world.patient_ids[1], practitioner_id=None, specialty="Family Medicine")
    _cancel(world, booked.id)
    assert _entries(world)[entry.id][0] == "offered"


def test_an_expired_offer_moves_on_to_the_next_entry(world: World) -> None:
    booked = world.book(at(TUESDAY, 10))
    first = _join(world, world.patient_ids[1])
    world.now += timedelta(minutes=1)
    second = _join(world, world.patient_ids[2])
    _cancel(world, booked.id)
    world.now += timedelta(minutes=waitlist.DEFAULT_OFFER_MINUTES)
    assert waitlist.refresh(world.ctx, world.org_id, world.coordinator) == 1
    entries = _entries(world)
    assert entries[first.id] == ("waiting", None)  # waits on, never offered that seat again
    assert entries[second.id][0] == "offered"
    assert _offer(world, second.id).start_at == at(TUESDAY, 10)
    with pytest.raises(BookingError) as late:
        book_waitlist_offer(world.ctx, world.org_id, entries[first.id][1] or 0, world.coordinator)
    assert late.value.code == "OFFER_NOT_FOUND"


def test_a_declined_offer_moves_on_to_the_next_entry(world: World) -> None:
    booked = world.book(at(TUESDAY, 10))
    first = _join(world, world.patient_ids[1])
    world.now += timedelta(minutes=1)
    second = _join(world, world.patient_ids[2])
    _cancel(world, booked.id)
    waitlist.decline_offer(world.ctx, world.org_id, _offer(world, first.id).id, world.coordinator)
    entries = _entries(world)
    assert entries[first.id] == ("waiting", None)
    assert entries[second.id][0] == "offered"


def test_booking_from_the_offer_fulfils_the_entry(world: World) -> None:
    booked = world.book(at(TUESDAY, 10))
    entry = _join(world, world.patient_ids[1])
    _cancel(world, booked.id)
    offer = _offer(world, entry.id)
    view = book_waitlist_offer(world.ctx, world.org_id, offer.id, world.coordinator)
    assert (view.patient_id, view.start_at) == (world.patient_ids[1], at(TUESDAY, 10))
    with world.db.read() as s:
        e = s.get_one(WaitlistEntry, entry.id)
        assert (e.status, e.appointment_id) == ("booked", view.id)
        assert s.get_one(WaitlistOffer, offer.id).status == "booked"
        assert s.scalars(select(SlotHold)).all() == []
    assert waitlist.list_waitlist(world.ctx, world.org_id, world.coordinator) == []
    with pytest.raises(BookingError) as again:
        book_waitlist_offer(world.ctx, world.org_id, offer.id, world.coordinator)
    assert again.value.code == "OFFER_CLOSED"


def test_an_expired_offer_cannot_be_booked(world: World) -> None:
    booked = world.book(at(TUESDAY, 10))
    entry = _join(world, world.patient_ids[1])
    _cancel(world, booked.id)
    offer = _offer(world, entry.id)
    world.now += timedelta(minutes=waitlist.DEFAULT_OFFER_MINUTES)
    with pytest.raises(BookingError) as late:
        book_waitlist_offer(world.ctx, world.org_id, offer.id, world.coordinator)
    assert late.value.code == "OFFER_EXPIRED"
    # Its seat is open again for everyone.
    starts = {
        s.start
        for s in get_practitioner_slots(world.ctx, world.org_id, world.practitioner_id, TUESDAY)
    }
    assert at(TUESDAY, 10) in starts


def test_a_reschedule_away_offers_the_time_it_left(world: World) -> None:
    booked = world.book(at(TUESDAY, 10))
    entry = _join(world, world.patient_ids[1])
    update_appointment(world.ctx, world.org_id, booked.id, world.coordinator, start=at(TUESDAY, 15))
    assert _offer(world, entry.id).start_at == at(TUESDAY, 10)


def test_preferred_times_of_day_and_the_date_window_are_respected(world: World) -> None:
    booked = world.book(at(TUESDAY, 10))
    afternoon = _join(
        world, world.patient_ids[1], time_from=None, time_to=None, day_parts=("afternoon",)
    )
    later = _join(
        world,
        world.patient_ids[2],
        earliest_date=TUESDAY + timedelta(days=1),
        latest_date=TUESDAY + timedelta(days=3),
    )
    morning = _join(
        world, world.patient_ids[3], time_from=None, time_to=None, day_parts=("morning",)
    )
    _cancel(world, booked.id)
    entries = _entries(world)
    # Afternoon seats were open all along but only a freed seat is offered: the 10:00 one.
    assert entries[afternoon.id] == ("waiting", None)
    assert entries[later.id] == ("waiting", None)
    assert entries[morning.id][0] == "offered"
    assert _offer(world, morning.id).start_at == at(TUESDAY, 10)


def test_a_withdrawn_leave_offers_its_time_to_the_waitlist(world: World) -> None:
    from data.models import Organization, Practitioner
    from domain.admin.exceptions import delete_exception
    from tests.factories import make_exception

    with world.db.transaction() as s:
        leave = make_exception(
            s,
            s.get_one(Organization, world.org_id),
            at(TUESDAY, 9),
            at(TUESDAY, 12),
            practitioner=s.get_one(Practitioner, world.practitioner_id),
        ).id
    entry = _join(world, world.patient_ids[1])
    delete_exception(world.ctx, world.admin, world.org_id, leave)
    assert _offer(world, entry.id).start_at == at(TUESDAY, 10)


def test_a_new_schedule_block_offers_its_seats_to_the_waitlist(world: World) -> None:
    from domain.admin.schedules import create_schedule_block

    entry = _join(
        world,
        world.patient_ids[1],
        practitioner_id=world.colleague_id,
        time_from=time(17),
        time_to=time(18),
    )
    create_schedule_block(
        world.ctx,
        world.admin,
        world.org_id,
        practitioner_id=world.colleague_id,
        clinic_id=world.clinic_id,
        weekday=TUESDAY.weekday(),
        start="17:00",
        end="18:00",
        slot_minutes=30,
    )
    assert _offer(world, entry.id).start_at == at(TUESDAY, 17)
