"""The daily and upcoming views: what they list, in which order, and in how many
statements."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import time, timedelta

from sqlalchemy import event

from data.db import Database
from data.models import (
    AppointmentType,
    Clinic,
    ClinicAssignment,
    Organization,
    Patient,
    Practitioner,
)
from domain.appointment_views import get_today_appointments, get_upcoming_appointments
from tests.factories import local, make_appointment, make_clinic
from tests.integration.appointments.conftest import MONDAY, TUESDAY, WEDNESDAY, World, at


@contextmanager
def count_statements(db: Database) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        if not statement.startswith("BEGIN"):  # SQLite's explicit BEGIN is not a query
            seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def _add(world: World, starts: list, clinic_id: int | None = None, **kw: object) -> list[int]:  # type: ignore[type-arg]
    with world.db.transaction() as s:
        patient = s.get_one(Patient, world.patient_id)
        prac = s.get_one(Practitioner, kw.pop("practitioner_id", world.practitioner_id))  # type: ignore[arg-type]
        clinic = s.get_one(Clinic, clinic_id or world.clinic_id)
        kind = s.get_one(AppointmentType, world.type_id)
        return [
            make_appointment(s, patient, prac, clinic, kind, start, **kw).id  # type: ignore[arg-type]
            for start in starts
        ]


def test_today_lists_the_days_appointments_in_time_order_with_names(world: World) -> None:
    later, earlier = _add(world, [at(MONDAY, 11), at(MONDAY, 9)])
    _add(world, [at(TUESDAY, 9), at(MONDAY, 0) - timedelta(minutes=30)])  # not today
    rows = get_today_appointments(world.ctx, world.org_id)
    assert [r.id for r in rows] == [earlier, later]
    first = rows[0]
    assert (first.patient_name, first.practitioner_name, first.clinic_name) == (
        "Pat0 Doe",
        "Dr. Ada Lovelace",
        "Main clinic",
    )
    assert (first.appointment_type_name, first.status) == ("Follow up", "booked")
    assert first.local_start.time() == time(9)
    assert first.allowed_next == ("confirmed", "arrived", "cancelled", "no-show")


def test_today_is_each_clinics_own_local_date(world: World) -> None:
    # 08:00 Monday in New York is already 02:00 Tuesday in Auckland.
    with world.db.transaction() as s:
        org = s.get_one(Organization, world.org_id)
        far = make_clinic(s, org, name="Auckland", timezone="Pacific/Auckland")
        s.add(
            ClinicAssignment(
                practitioner_id=world.practitioner_id, clinic_id=far.id, active_from=MONDAY
            )
        )
        far_id = far.id
    nz_today, nz_yesterday = _add(
        world,
        [local(TUESDAY, time(10), "Pacific/Auckland"), local(MONDAY, time(10), "Pacific/Auckland")],
        clinic_id=far_id,
    )
    ny_today = _add(world, [at(MONDAY, 15)])[0]
    ids = [r.id for r in get_today_appointments(world.ctx, world.org_id)]
    assert set(ids) == {nz_today, ny_today}
    assert nz_yesterday not in ids
    only_nz = get_today_appointments(world.ctx, world.org_id, clinic_id=far_id)
    assert [r.id for r in only_nz] == [nz_today]


def test_today_filters_by_practitioner_and_can_hide_cancellations(world: World) -> None:
    mine = _add(world, [at(MONDAY, 9)])[0]
    cancelled = _add(world, [at(MONDAY, 10)], status="cancelled")[0]
    _add(world, [at(MONDAY, 9)], practitioner_id=world.colleague_id)
    rows = get_today_appointments(world.ctx, world.org_id, practitioner_id=world.practitioner_id)
    assert [r.id for r in rows] == [mine, cancelled]
    rows = get_today_appointments(
        world.ctx, world.org_id, practitioner_id=world.practitioner_id, include_cancelled=False
    )
    assert [r.id for r in rows] == [mine]


def test_another_organization_sees_none_of_today(world: World) -> None:
    from tests.factories import make_org

    _add(world, [at(MONDAY, 9)])
    with world.db.transaction() as s:
        other = make_org(s)
        make_clinic(s, other)
        other_id = other.id
    assert get_today_appointments(world.ctx, other_id) == []


def test_today_takes_the_same_number_of_statements_for_1_or_100_rows(world: World) -> None:
    _add(world, [at(MONDAY, 9)])
    with count_statements(world.db) as one:
        assert len(get_today_appointments(world.ctx, world.org_id)) == 1
    _add(world, [at(MONDAY, 9, 5) + timedelta(minutes=5 * i) for i in range(99)])
    with count_statements(world.db) as hundred:
        assert len(get_today_appointments(world.ctx, world.org_id)) == 100
    assert len(one) == len(hundred) <= 2


def test_upcoming_lists_a_range_with_counts_by_status_and_type(world: World) -> None:
    _add(world, [at(MONDAY, 9), at(TUESDAY, 9)])
    _add(world, [at(TUESDAY, 10)], status="cancelled")
    _add(world, [at(WEDNESDAY, 9)], practitioner_id=world.colleague_id)
    _add(world, [at(WEDNESDAY + timedelta(days=1), 9)])  # after the range

    result = get_upcoming_appointments(
        world.ctx, world.org_id, TUESDAY, WEDNESDAY, with_summary=True
    )
    assert [r.start_at for r in result.rows] == [at(TUESDAY, 9), at(TUESDAY, 10), at(WEDNESDAY, 9)]
    assert result.summary is not None
    assert result.summary.total == 3
    assert result.summary.by_status == {"booked": 2, "cancelled": 1}
    assert result.summary.by_type == {"Follow up": 3}

    mine = get_upcoming_appointments(
        world.ctx, world.org_id, TUESDAY, WEDNESDAY, practitioner_id=world.practitioner_id
    )
    assert len(mine.rows) == 2 and mine.summary is None


def test_upcoming_for_a_patient_and_with_a_limit(world: World) -> None:
    _add(world, [at(TUESDAY, 9) + timedelta(hours=i) for i in range(5)])
    result = get_upcoming_appointments(
        world.ctx,
        world.org_id,
        at(TUESDAY, 0),
        at(WEDNESDAY, 0),
        patient_id=world.patient_id,
        with_summary=True,
        limit=3,
    )
    assert len(result.rows) == 3 and result.truncated
    assert result.summary is not None and result.summary.total == 5
    nobody = get_upcoming_appointments(
        world.ctx, world.org_id, TUESDAY, TUESDAY, patient_id=world.patient_ids[1]
    )
    assert nobody.rows == []


def test_upcoming_takes_the_same_number_of_statements_for_1_or_100_rows(world: World) -> None:
    _add(world, [at(TUESDAY, 9)])
    with count_statements(world.db) as one:
        get_upcoming_appointments(world.ctx, world.org_id, TUESDAY, TUESDAY, with_summary=True)
    _add(world, [at(TUESDAY, 9, 1) + timedelta(minutes=i) for i in range(99)])
    with count_statements(world.db) as hundred:
        result = get_upcoming_appointments(
            world.ctx, world.org_id, TUESDAY, TUESDAY, with_summary=True
        )
    assert len(result.rows) == 100
    assert len(one) == len(hundred)
