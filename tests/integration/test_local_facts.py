"""Every writer stores the clinic-local facts the statistics read (data/local_facts.py):
ORM inserts and updates, a clinic's move to another time zone, and the migration that
added them to existing rows."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from data.db import Database
from data.migrate import downgrade, upgrade
from data.models import Appointment
from domain.actor import Actor
from domain.admin.clinics import update_clinic
from domain.context import AppContext
from settings import Settings
from tests.factories import (
    local,
    make_appointment,
    make_clinic,
    make_org,
    make_patient,
    make_practitioner,
    make_type,
    make_user,
)

NY = "America/New_York"
LA = "America/Los_Angeles"


def _facts(db: Database, appointment_id: int) -> tuple[date, int | None, int]:
    with db.read() as s:
        a = s.get_one(Appointment, appointment_id)
        return a.local_date, a.local_hour, a.lead_days


def _world(s, tz: str = NY):  # type: ignore[no-untyped-def]
    org = make_org(s, timezone=tz)
    clinic = make_clinic(s, org, timezone=tz)
    prac = make_practitioner(s, org, [clinic])
    return org, clinic, prac, make_patient(s, org), make_type(s, org)


def test_an_orm_insert_stores_local_date_hour_and_lead_across_utc_midnight(db: Database) -> None:
    with db.transaction() as s:
        _org, clinic, prac, patient, kind = _world(s)
        # 20:30 in New York is 01:30 UTC the next day.
        evening = make_appointment(
            s,
            patient,
            prac,
            clinic,
            kind,
            local(date(2026, 1, 27), time(20, 30)),
            booked_at=local(date(2026, 1, 20), time(23, 59)),
        )
        # The first day of summer time: 09:00 local is 13:00 UTC.
        dst = make_appointment(s, patient, prac, clinic, kind, datetime(2026, 3, 8, 13, tzinfo=UTC))
        day_only = make_appointment(
            s, patient, prac, clinic, kind, local(date(2026, 2, 2), time(0)), date_only=True
        )
    assert evening.start_at.astimezone(UTC).date() == date(2026, 1, 28)
    assert _facts(db, evening.id) == (date(2026, 1, 27), 20, 7)
    assert _facts(db, dst.id) == (date(2026, 3, 8), 9, 3)
    assert _facts(db, day_only.id) == (date(2026, 2, 2), None, 3)


def test_an_orm_update_of_the_start_rederives_the_facts(db: Database) -> None:
    with db.transaction() as s:
        _org, clinic, prac, patient, kind = _world(s)
        a = make_appointment(s, patient, prac, clinic, kind, local(date(2026, 1, 27), time(10)))
        appointment_id = a.id
    with db.transaction() as s:
        a = s.get_one(Appointment, appointment_id)
        a.status = "confirmed"
    assert _facts(db, appointment_id) == (date(2026, 1, 27), 10, 3)
    with db.transaction() as s:
        a = s.get_one(Appointment, appointment_id)
        a.start_at = local(date(2026, 1, 26), time(23, 15))  # 04:15 UTC on the 27th
        a.end_at = a.start_at + timedelta(minutes=30)
    assert _facts(db, appointment_id) == (date(2026, 1, 26), 23, 2)


def test_moving_a_clinic_to_another_zone_moves_its_appointments_local_dates(
    db: Database,
) -> None:
    with db.transaction() as s:
        org, clinic, prac, patient, kind = _world(s)
        other = make_clinic(s, org, timezone=NY, name="Stays")
        # 01:30 in New York on Jan 28 is 22:30 on Jan 27 in Los Angeles.
        moved = make_appointment(
            s, patient, prac, clinic, kind, local(date(2026, 1, 28), time(1, 30))
        )
        stays = make_appointment(
            s, patient, prac, other, kind, local(date(2026, 1, 28), time(1, 30))
        )
        admin = make_user(s, org, "admin")
        actor = Actor(admin.id, admin.name, admin.role, org.id, None)
        org_id, clinic_id, name = org.id, clinic.id, clinic.name
    ctx = AppContext(
        settings=Settings(database_url=db.url),
        db=db,
        clock=lambda: datetime(2026, 6, 1, tzinfo=UTC),
    )
    update_clinic(ctx, actor, org_id, clinic_id, name=name, timezone=LA, address=None)
    assert _facts(db, moved.id)[:2] == (date(2026, 1, 27), 22)
    assert _facts(db, stays.id)[:2] == (date(2026, 1, 28), 1)


def test_the_migration_fills_the_facts_of_existing_rows(new_db_url: str) -> None:
    upgrade(new_db_url)
    db = Database(new_db_url)
    try:
        with db.transaction() as s:
            _org, clinic, prac, patient, kind = _world(s, LA)
            timed = make_appointment(
                s, patient, prac, clinic, kind, local(date(2026, 11, 1), time(1, 30), LA)
            )
            day_only = make_appointment(
                s,
                patient,
                prac,
                clinic,
                kind,
                local(date(2026, 3, 8), time(0), LA),
                date_only=True,
                booked_at=local(date(2026, 3, 9), time(8), LA),
            )
            ids = (timed.id, day_only.id)
        downgrade(new_db_url, "5b1e0c9d7a31")
        upgrade(new_db_url)
        assert _facts(db, ids[0]) == (date(2026, 11, 1), 1, 3)
        assert _facts(db, ids[1]) == (date(2026, 3, 8), None, -1)
    finally:
        db.engine.dispose()
