"""Slot holds: the booking form keeps a seat for a few minutes (domain.holds)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from data.db import Database
from data.models import SlotHold
from domain.availability import get_practitioner_slots
from domain.errors import BookingError
from domain.holds import DEFAULT_HOLD_MINUTES, hold_slot, release_holds
from tests.integration.appointments.conftest import THURSDAY, TUESDAY, World, at, build_world
from tests.integration.appointments.test_concurrency import THREADS, _book_calls, _held, _race


def _hold(world: World, start, actor=None, **kw):  # type: ignore[no-untyped-def]
    args = {
        "practitioner_id": world.practitioner_id,
        "clinic_id": world.clinic_id,
        "start": start,
        "duration_minutes": 30,
    }
    args.update(kw)
    return hold_slot(world.ctx, world.org_id, actor or world.coordinator, **args)


def _open_starts(world: World, day=TUESDAY, holder=None):  # type: ignore[no-untyped-def]
    return {
        s.start
        for s in get_practitioner_slots(
            world.ctx,
            world.org_id,
            world.practitioner_id,
            day,
            clinic_id=world.clinic_id,
            holder_user_id=holder,
        )
    }


def _holds(world: World) -> int:
    with world.db.read() as s:
        return int(s.scalar(select(func.count()).select_from(SlotHold)) or 0)


def test_a_hold_makes_the_slot_taken_for_others_and_not_for_the_holder(world: World) -> None:
    start = at(TUESDAY, 10)
    assert start in _open_starts(world)  # cached before the hold
    _hold(world, start)
    assert start not in _open_starts(world)
    assert start in _open_starts(world, holder=world.coordinator.user_id)
    with pytest.raises(BookingError) as refused:
        world.book(start, actor=world.front_desk)
    assert refused.value.code == "CONFLICT"
    with pytest.raises(BookingError):
        _hold(world, start, actor=world.front_desk)
    # The holder's own booking takes the held seat, not another one, and ends the hold.
    world.book(start, actor=world.coordinator)
    assert _holds(world) == 0
    assert start not in _open_starts(world, holder=world.coordinator.user_id)


def test_an_expired_hold_frees_its_seat_even_in_cached_availability(world: World) -> None:
    start = at(TUESDAY, 11)
    hold = _hold(world, start)
    assert hold.expires_at == world.now + timedelta(minutes=DEFAULT_HOLD_MINUTES)
    assert start not in _open_starts(world)  # computed while the hold lives: cached
    world.now += timedelta(minutes=DEFAULT_HOLD_MINUTES, seconds=1)
    assert start in _open_starts(world)
    world.book(start, actor=world.front_desk)


def test_the_hold_length_is_the_organizations_setting(db: Database) -> None:
    world = build_world(db, settings={"hold_minutes": 2})
    hold = _hold(world, at(TUESDAY, 9))
    assert hold.expires_at == world.now + timedelta(minutes=2)


def test_releasing_or_moving_a_hold_gives_the_seat_back_at_once(world: World) -> None:
    first, second = at(TUESDAY, 14), at(TUESDAY, 15)
    _hold(world, first)
    assert first not in _open_starts(world)
    _hold(world, second)  # one slot at a time: the first is let go
    assert first in _open_starts(world)
    assert second not in _open_starts(world)
    assert release_holds(world.ctx, world.org_id, world.coordinator) == 1
    assert second in _open_starts(world)
    assert _holds(world) == 0


@pytest.fixture
def crowd(db: Database) -> World:
    return build_world(db, patients=THREADS + 1)


def test_clerks_racing_for_a_group_with_one_seat_held_get_the_other_two(crowd: World) -> None:
    start = at(THURSDAY, 17, 30)
    _hold(crowd, start, duration_minutes=90, appointment_type_id=crowd.group_type_id)
    outcomes = _race(_book_calls(crowd, start, appointment_type_id=crowd.group_type_id))
    assert outcomes == Counter({"ok": 2, "CONFLICT": THREADS - 2})
    assert _held(crowd, start) == 2
    # The holder still gets the seat they held.
    crowd.book(
        start,
        patient=crowd.patient_ids[THREADS],
        appointment_type_id=crowd.group_type_id,
        actor=crowd.coordinator,
    )
    assert _held(crowd, start) == 3


def test_hold_and_offer_lengths_are_set_by_an_administrator(world: World) -> None:
    from domain.admin.errors import AdminError
    from domain.admin.org_settings import update_organization_settings
    from domain.organizations import get_organization
    from domain.permissions import PermissionDenied

    with pytest.raises(PermissionDenied):
        update_organization_settings(world.ctx, world.coordinator, world.org_id, hold_minutes=3)
    for bad in (0, 61, 2.5, None):
        with pytest.raises(AdminError) as refused:
            update_organization_settings(world.ctx, world.admin, world.org_id, hold_minutes=bad)
        assert refused.value.field == "hold_minutes"
    update_organization_settings(
        world.ctx, world.admin, world.org_id, hold_minutes=3, waitlist_offer_minutes=30
    )
    saved = get_organization(world.ctx, world.org_id)
    assert saved is not None and (saved.hold_minutes, saved.waitlist_offer_minutes) == (3, 30)
    hold = _hold(world, at(TUESDAY, 9))
    assert hold.expires_at == world.now + timedelta(minutes=3)
