"""The appointment service checks the role matrix (domain.permissions) and the record
scope itself, so a page that forgets a check still cannot change what it must not."""

from __future__ import annotations

import pytest

from domain.actor import Actor
from domain.appointments import (
    cancel_appointment,
    create_appointment,
    update_appointment,
    update_appointment_status,
)
from domain.permissions import PermissionDenied
from tests.integration.appointments.conftest import TUESDAY, World, at


def test_a_manager_reads_but_cannot_book_or_cancel(world: World) -> None:
    with pytest.raises(PermissionDenied):
        world.book(at(TUESDAY, 10), actor=world.manager)
    booked = world.book(at(TUESDAY, 10))
    with pytest.raises(PermissionDenied):
        cancel_appointment(world.ctx, world.org_id, booked.id, world.manager, "other")


def test_front_desk_cannot_move_an_appointment_but_can_edit_its_notes(world: World) -> None:
    booked = world.book(at(TUESDAY, 10))
    with pytest.raises(PermissionDenied):
        update_appointment(
            world.ctx, world.org_id, booked.id, world.front_desk, start=at(TUESDAY, 11)
        )
    view = update_appointment(world.ctx, world.org_id, booked.id, world.front_desk, notes="Late")
    assert view.notes == "Late"


def test_a_coordinator_cancels_but_does_not_check_patients_in(world: World) -> None:
    booked = world.book(at(TUESDAY, 10), actor=world.coordinator)
    world.now = at(TUESDAY, 9, 55)
    with pytest.raises(PermissionDenied):
        update_appointment_status(world.ctx, world.org_id, booked.id, "arrived", world.coordinator)
    view = cancel_appointment(world.ctx, world.org_id, booked.id, world.coordinator, "other")
    assert view.status == "cancelled"


def test_a_practitioner_works_only_their_own_appointments(world: World) -> None:
    mine = world.book(at(TUESDAY, 10))
    theirs = world.book(
        at(TUESDAY, 10), practitioner_id=world.colleague_id, patient=world.patient_ids[1]
    )
    world.now = at(TUESDAY, 9, 55)
    view = update_appointment_status(
        world.ctx, world.org_id, mine.id, "arrived", world.practitioner
    )
    assert view.status == "arrived"
    with pytest.raises(PermissionDenied):
        update_appointment_status(world.ctx, world.org_id, theirs.id, "arrived", world.practitioner)


def test_an_actor_of_another_organization_is_refused(world: World) -> None:
    stranger = Actor(999, "Someone Else", "admin", organization_id=world.org_id + 1000)
    with pytest.raises(PermissionDenied):
        create_appointment(
            world.ctx,
            world.org_id,
            patient_id=world.patient_id,
            practitioner_id=world.practitioner_id,
            clinic_id=world.clinic_id,
            start=at(TUESDAY, 10),
            appointment_type_id=world.type_id,
            actor=stranger,
        )
