"""A small organization for the administration tests, on each backend.

"Now" is Wednesday 18 March 2026, 11:00 in New York. Harbor Main (New York) and Desert
View (Phoenix) are the clinics; Dr. Ana Lee is assigned to both since 2026-01-01 and works
Monday to Friday 09:00-12:00 at Harbor Main in 30-minute slots. Bookings are written with
the factories (the booking service is not what is under test here).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from data.cache import Cache, InProcessCache
from data.db import Database
from data.models import (
    ActivityEvent,
    Appointment,
    AppointmentType,
    Clinic,
    Organization,
    Patient,
    Practitioner,
)
from domain.actor import Actor
from domain.availability import get_practitioner_slots
from domain.context import AppContext
from settings import Settings
from tests.factories import (
    local,
    make_appointment,
    make_clinic,
    make_org,
    make_patient,
    make_practitioner,
    make_schedule,
    make_type,
    make_user,
)

NY = "America/New_York"
PHX = "America/Phoenix"
WEDNESDAY = date(2026, 3, 18)
NOW = local(WEDNESDAY, time(11))
THURSDAY = date(2026, 3, 19)
FRIDAY = date(2026, 3, 20)
SATURDAY = date(2026, 3, 21)
MONDAY = date(2026, 3, 23)
NEXT_SATURDAY = SATURDAY + timedelta(days=7)
ASSIGNED_FROM = date(2026, 1, 1)


@dataclass
class AdminWorld:
    db: Database
    org_id: int
    clinic_id: int
    phoenix_id: int
    practitioner_id: int
    patient_id: int
    type_id: int
    group_type_id: int
    admin: Actor
    manager: Actor
    now: datetime = NOW
    cache: Cache = field(default_factory=InProcessCache)
    ctx: AppContext = field(init=False)

    def __post_init__(self) -> None:
        self.ctx = AppContext(
            settings=Settings(database_url=self.db.url),
            db=self.db,
            clock=lambda: self.now,
            cache=self.cache,
        )

    def book(
        self,
        start: datetime,
        minutes: int = 30,
        *,
        clinic_id: int | None = None,
        practitioner_id: int | None = None,
        type_id: int | None = None,
        status: str = "booked",
    ) -> int:
        with self.db.transaction() as s:
            appt = make_appointment(
                s,
                s.get(Patient, self.patient_id),
                s.get(Practitioner, practitioner_id or self.practitioner_id),
                s.get(Clinic, clinic_id or self.clinic_id),
                s.get(AppointmentType, type_id or self.type_id),
                start,
                minutes,
                status=status,
            )
            return appt.id

    def slot_times(
        self, day: date, practitioner_id: int | None = None, zone: str = NY
    ) -> list[str]:
        slots = get_practitioner_slots(
            self.ctx, self.org_id, practitioner_id or self.practitioner_id, day
        )
        return [s.start.astimezone(ZoneInfo(zone)).strftime("%H:%M") for s in slots]

    def events(self, event_type: str | None = None) -> list[ActivityEvent]:
        with self.db.read() as s:
            stmt = select(ActivityEvent).where(ActivityEvent.organization_id == self.org_id)
            if event_type:
                stmt = stmt.where(ActivityEvent.event_type == event_type)
            rows = list(s.scalars(stmt.order_by(ActivityEvent.id)))
            s.expunge_all()  # usable after the read session ends
            return rows

    def status_of(self, appointment_id: int) -> str:
        with self.db.read() as s:
            appt = s.get(Appointment, appointment_id)
            assert appt is not None
            return appt.status

    def org(self) -> Organization:
        with self.db.read() as s:
            org = s.get(Organization, self.org_id)
            assert org is not None
            s.expunge(org)
            return org


def build_world(db: Database, cache: Cache | None = None, **org_kw: Any) -> AdminWorld:
    with db.transaction() as s:
        org = make_org(s, name="Harbor Test", **org_kw)
        clinic = make_clinic(s, org, name="Harbor Main")
        phoenix = make_clinic(s, org, name="Desert View", timezone=PHX)
        prac = make_practitioner(s, org, [clinic, phoenix], ASSIGNED_FROM, name="Dr. Ana Lee")
        make_schedule(s, prac, clinic, start=time(9), end=time(12), valid_from=ASSIGNED_FROM)
        patient = make_patient(s, org, given_name="Maria", family_name="Santos")
        visit = make_type(s, org, "follow-up", 30)
        group = make_type(s, org, "group-therapy", 90, is_group=True, name="Group therapy")
        admin = make_user(s, org, "admin", name="Alex Admin")
        manager = make_user(s, org, "manager", name="Morgan Manager")
        ids = (org.id, clinic.id, phoenix.id, prac.id, patient.id, visit.id, group.id)
        admin_actor = Actor(admin.id, admin.name, "admin", org.id)
        manager_actor = Actor(manager.id, manager.name, "manager", org.id)
    world = AdminWorld(db, *ids, admin=admin_actor, manager=manager_actor)
    if cache is not None:
        world.cache = cache
        world.__post_init__()
    return world


@pytest.fixture
def world(db: Database) -> AdminWorld:
    return build_world(db)
