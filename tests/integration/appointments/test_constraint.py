"""The last line of defence on PostgreSQL: two exclusive appointments of one practitioner
never overlap, whoever writes them; group seats, cancellations and history are left out."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from data.db import Database
from data.models import AppointmentType, Clinic, Patient, Practitioner
from tests.conftest import postgresql_only
from tests.factories import make_appointment
from tests.integration.appointments.conftest import TUESDAY, World, at


def _write(world: World, start_minutes: list[int], **kw: object) -> None:
    with world.db.transaction() as s:
        prac = s.get_one(Practitioner, world.practitioner_id)
        clinic = s.get_one(Clinic, world.clinic_id)
        kind = s.get_one(AppointmentType, world.type_id)
        for i, m in enumerate(start_minutes):
            patient = s.get_one(Patient, world.patient_ids[i])
            make_appointment(
                s, patient, prac, clinic, kind, at(TUESDAY, 10) + timedelta(minutes=m), **kw
            )  # type: ignore[arg-type]


# Exclusion constraints are PostgreSQL's; on SQLite the write lock serializes bookings
# (tests/integration/appointments cover that on both backends).
pytestmark = postgresql_only


@pytest.fixture
def pg_world(world: World, db: Database) -> World:
    assert db.dialect == "postgresql"
    return world


def test_overlapping_exclusive_appointments_are_refused_by_the_database(
    pg_world: World,
) -> None:
    with pytest.raises(IntegrityError, match="ex_appointments_practitioner_time"):
        _write(pg_world, [0, 15], exclusive=True)


@pytest.mark.parametrize(
    "kw",
    [
        {"exclusive": False},  # group seats, imported history
        {"exclusive": True, "status": "cancelled"},
    ],
)
def test_shared_or_cancelled_appointments_may_overlap(pg_world: World, kw: dict) -> None:  # type: ignore[type-arg]
    _write(pg_world, [0, 0, 15], **kw)


def test_back_to_back_exclusive_appointments_are_fine(pg_world: World) -> None:
    _write(pg_world, [0, 30, 60], exclusive=True)
