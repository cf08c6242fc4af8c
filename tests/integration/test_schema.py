"""The database itself refuses what must never be stored, on both stores."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, StatementError

from data.db import Database
from data.migrate import heads, include_object, upgrade
from data.models import Appointment, Base, Schedule
from tests.factories import (
    make_appointment,
    make_clinic,
    make_org,
    make_patient,
    make_practitioner,
    make_type,
)

START = datetime(2030, 1, 7, 14, 0, tzinfo=UTC)


def _world(s):  # type: ignore[no-untyped-def]
    org = make_org(s)
    clinic = make_clinic(s, org)
    prac = make_practitioner(s, org, [clinic])
    return org, clinic, prac, make_patient(s, org), make_type(s, org)


def test_migrated_schema_matches_the_models(new_db_url: str) -> None:
    upgrade(new_db_url)
    database = Database(new_db_url)
    try:
        with database.engine.connect() as conn:
            ctx = MigrationContext.configure(
                conn, opts={"compare_type": True, "include_object": include_object}
            )
            diff = compare_metadata(ctx, Base.metadata)
        assert diff == []
    finally:
        database.dispose()


def test_migration_history_is_one_linear_chain() -> None:
    assert len(heads()) == 1


@pytest.mark.parametrize("status", ["done", "BOOKED", ""])
def test_unknown_status_is_refused_by_the_database(db: Database, status: str) -> None:
    with pytest.raises(IntegrityError), db.transaction() as s:
        _org, clinic, prac, patient, kind = _world(s)
        make_appointment(s, patient, prac, clinic, kind, START, status=status)


def test_zero_duration_is_refused_by_the_database(db: Database) -> None:
    with pytest.raises(IntegrityError), db.transaction() as s:
        _org, clinic, prac, patient, kind = _world(s)
        a = make_appointment(s, patient, prac, clinic, kind, START)
        s.execute(text("UPDATE appointments SET duration_minutes = 0 WHERE id = :id"), {"id": a.id})


def test_appointment_ending_before_it_starts_is_refused(db: Database) -> None:
    with pytest.raises(IntegrityError), db.transaction() as s:
        _org, clinic, prac, patient, kind = _world(s)
        a = make_appointment(s, patient, prac, clinic, kind, START)
        a.end_at = START - timedelta(minutes=5)
        s.flush()


def test_schedule_with_capacity_zero_is_refused(db: Database) -> None:
    with pytest.raises(IntegrityError), db.transaction() as s:
        _org, clinic, prac, _patient, _kind = _world(s)
        s.add(
            Schedule(
                practitioner_id=prac.id,
                clinic_id=clinic.id,
                weekday=0,
                start_time=time(9),
                end_time=time(12),
                slot_minutes=30,
                capacity=0,
                valid_from=date(2030, 1, 1),
            )
        )
        s.flush()


def test_schedule_ending_before_it_starts_is_refused(db: Database) -> None:
    with pytest.raises(IntegrityError), db.transaction() as s:
        _org, clinic, prac, _patient, _kind = _world(s)
        s.add(
            Schedule(
                practitioner_id=prac.id,
                clinic_id=clinic.id,
                weekday=0,
                start_time=time(12),
                end_time=time(9),
                slot_minutes=30,
                capacity=1,
                valid_from=date(2030, 1, 1),
            )
        )
        s.flush()


def test_unknown_cancellation_category_is_refused(db: Database) -> None:
    with pytest.raises(IntegrityError), db.transaction() as s:
        _org, clinic, prac, patient, kind = _world(s)
        make_appointment(
            s,
            patient,
            prac,
            clinic,
            kind,
            START,
            status="cancelled",
            cancellation_category="weather",
        )


def test_appointment_for_a_missing_patient_is_refused(db: Database) -> None:
    with pytest.raises(IntegrityError), db.transaction() as s:
        _org, clinic, prac, patient, kind = _world(s)
        a = make_appointment(s, patient, prac, clinic, kind, START)
        s.execute(text("UPDATE appointments SET patient_id = 999999 WHERE id = :id"), {"id": a.id})


def test_times_round_trip_as_aware_utc(db: Database) -> None:
    from zoneinfo import ZoneInfo

    start = datetime(2030, 3, 10, 9, 30, tzinfo=ZoneInfo("America/New_York"))
    with db.transaction() as s:
        _org, clinic, prac, patient, kind = _world(s)
        appointment_id = make_appointment(s, patient, prac, clinic, kind, start).id
    with db.read() as s:
        stored = s.get(Appointment, appointment_id)
        assert stored is not None
        assert stored.start_at == start
        assert stored.start_at.tzinfo is not None
        assert stored.start_at.utcoffset() == timedelta(0)


def test_naive_datetimes_are_refused_instead_of_guessed(db: Database) -> None:
    with pytest.raises(StatementError, match="naive datetime"), db.transaction() as s:
        _org, clinic, prac, patient, kind = _world(s)
        make_appointment(s, patient, prac, clinic, kind, datetime(2030, 1, 7, 9, 0))
