"""A small clinic world for the appointment service tests, on each backend.

"Now" is Monday 7 January 2030, 08:00 in New York (the clock is movable). Dr. Ada works
Monday to Friday 09:00-17:00 in 30-minute slots at the Main clinic, plus a Thursday group
block 17:30-19:00 of capacity 3 that only takes group therapy.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time

import pytest

from data.db import Database
from domain.actor import Actor
from domain.context import AppContext
from settings import Settings
from tests.factories import (
    local,
    make_clinic,
    make_org,
    make_patient,
    make_practitioner,
    make_schedule,
    make_type,
    make_user,
)

TZ = "America/New_York"
MONDAY = date(2030, 1, 7)
TUESDAY = date(2030, 1, 8)
WEDNESDAY = date(2030, 1, 9)
THURSDAY = date(2030, 1, 10)
NOW = local(MONDAY, time(8))


@dataclass
class World:
    db: Database
    org_id: int
    clinic_id: int
    other_clinic_id: int
    practitioner_id: int
    colleague_id: int
    patient_ids: list[int]
    type_id: int
    group_type_id: int
    front_desk: Actor
    coordinator: Actor
    admin: Actor
    manager: Actor
    practitioner: Actor
    coordinator_user_id: int
    practitioner_user_id: int
    now: datetime = NOW
    extra: dict[str, int] = field(default_factory=dict)
    # One context for the whole test, so the availability cache is shared by the calls
    # (and invalidation is exercised); its clock reads ``now``, which tests move.
    ctx: AppContext = field(init=False)

    def __post_init__(self) -> None:
        self.ctx = AppContext(
            settings=Settings(database_url=self.db.url), db=self.db, clock=lambda: self.now
        )

    @property
    def patient_id(self) -> int:
        return self.patient_ids[0]

    def book(self, start: datetime, patient: int | None = None, **kw):  # type: ignore[no-untyped-def]
        from domain.appointments import create_appointment

        args = {
            "patient_id": self.patient_id if patient is None else patient,
            "practitioner_id": self.practitioner_id,
            "clinic_id": self.clinic_id,
            "start": start,
            "appointment_type_id": self.type_id,
            "actor": self.front_desk,
        }
        args.update(kw)
        return create_appointment(self.ctx, self.org_id, **args)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    """A clinic-local wall time as an aware UTC instant."""
    return local(day, time(hour, minute), TZ)


def build_world(db: Database, patients: int = 4, **org_kw: object) -> World:
    with db.transaction() as s:
        org = make_org(s, timezone=TZ, **org_kw)
        clinic = make_clinic(s, org, name="Main clinic")
        other = make_clinic(s, org, name="Annex")
        kind = make_type(s, org, "follow-up", 30)
        group = make_type(s, org, "group-therapy", 90, is_group=True, encounter_type="group")
        prac = make_practitioner(s, org, [clinic, other], name="Dr. Ada Lovelace")
        colleague = make_practitioner(s, org, [clinic], name="Dr. Grace Hopper")
        make_schedule(s, prac, clinic)
        make_schedule(s, colleague, clinic)
        make_schedule(
            s,
            prac,
            clinic,
            weekdays=(3,),
            start=time(17, 30),
            end=time(19),
            slot_minutes=90,
            capacity=3,
            appointment_type_id=group.id,
        )
        pats = [
            make_patient(s, org, given_name=f"Pat{i}", family_name="Doe", email=f"p{i}@example.org")
            for i in range(patients)
        ]
        desk = make_user(s, org, "front-desk", name="Fran Front")
        manager = make_user(s, org, "manager", name="Mo Manager")
        coordinator = make_user(s, org, "coordinator", name="Cora Coord")
        admin = make_user(s, org, "admin", name="Al Admin")
        prac_user = make_user(s, org, "practitioner", name="Ada L.", practitioner_id=prac.id)

        def actor(u):  # type: ignore[no-untyped-def]
            return Actor(u.id, u.name, u.role, org.id, u.practitioner_id)

        return World(
            db=db,
            org_id=org.id,
            clinic_id=clinic.id,
            other_clinic_id=other.id,
            practitioner_id=prac.id,
            colleague_id=colleague.id,
            patient_ids=[p.id for p in pats],
            type_id=kind.id,
            group_type_id=group.id,
            front_desk=actor(desk),
            coordinator=actor(coordinator),
            admin=actor(admin),
            manager=actor(manager),
            practitioner=actor(prac_user),
            coordinator_user_id=coordinator.id,
            practitioner_user_id=prac_user.id,
        )


@pytest.fixture
def world(db: Database) -> Iterator[World]:
    yield build_world(db)
