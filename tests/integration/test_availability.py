"""Availability services on SQLite and PostgreSQL, from hand-made data."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event, select, text

from data.cache import InProcessCache
from data.db import Database
from data.models import (
    Appointment,
    AppointmentType,
    Clinic,
    Organization,
    Patient,
    Practitioner,
)
from data.vocabulary import TIME_HOLDING_STATUSES
from domain.availability import (
    AvailabilityError,
    check_booking_rules,
    get_available_clinics,
    get_clinic_slots_range,
    get_practitioner_slots,
    get_practitioner_slots_range,
    invalidate_appointment,
    invalidate_organization,
    practitioner_day_for,
    slots_frame,
)
from domain.booking_rules import BookingRequest, check_booking
from domain.clock import fixed_clock
from domain.context import AppContext
from settings import Settings
from tests.conftest import DEMO_ANCHOR, _empty_tables
from tests.factories import (
    local,
    make_appointment,
    make_clinic,
    make_exception,
    make_org,
    make_patient,
    make_practitioner,
    make_schedule,
    make_type,
)

NY = ZoneInfo("America/New_York")
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # a Monday
MONDAY = date(2026, 3, 9)
TUESDAY = MONDAY + timedelta(days=1)


def make_ctx(db: Database, now: datetime = NOW) -> AppContext:
    return AppContext(
        settings=Settings(database_url=db.url),
        db=db,
        clock=fixed_clock(now),
        cache=InProcessCache(),
    )


@pytest.fixture
def ctx(db: Database) -> AppContext:
    return make_ctx(db)


def _world(db: Database, **org_kw: Any) -> dict[str, Any]:
    """An organization with one New York clinic and one practitioner working Monday to
    Friday 09:00-12:00 in 30-minute slots."""
    with db.transaction() as s:
        org = make_org(s, **org_kw)
        clinic = make_clinic(s, org, name="Harbor Main Clinic")
        prac = make_practitioner(s, org, [clinic], name="Dr. Ana Lee")
        make_schedule(s, prac, clinic, start=time(9), end=time(12))
        return {
            "org": org.id,
            "clinic": clinic.id,
            "prac": prac.id,
            "patient": make_patient(s, org).id,
            "type": make_type(s, org).id,
        }


def _book(db: Database, w: dict[str, Any], start: datetime, minutes: int = 30, **kw: Any) -> int:
    with db.transaction() as s:
        org = s.get(Organization, w["org"])
        assert org is not None
        appt = make_appointment(
            s,
            s.get(Patient, kw.pop("patient", w["patient"])),
            s.get(Practitioner, kw.pop("prac", w["prac"])),
            s.get(Clinic, kw.pop("clinic", w["clinic"])),
            s.get(AppointmentType, kw.pop("type", w["type"])),
            start,
            minutes,
            **kw,
        )
        return appt.id


def _times(slots: list[Any], tz: ZoneInfo = NY) -> list[str]:
    return [s.start.astimezone(tz).strftime("%H:%M") for s in slots]


def test_slots_are_the_schedule_minus_the_bookings(db: Database, ctx: AppContext) -> None:
    w = _world(db)
    _book(db, w, local(MONDAY, time(9)))
    _book(db, w, local(MONDAY, time(10)), minutes=60)  # spans two slots
    slots = get_practitioner_slots(ctx, w["org"], w["prac"], MONDAY)
    assert _times(slots) == ["09:30", "11:00", "11:30"]
    first = slots[0]
    assert (first.practitioner_id, first.clinic_id, first.capacity, first.seats_left) == (
        w["prac"],
        w["clinic"],
        1,
        1,
    )
    assert first.start.tzinfo is not None and first.minutes == 30
    assert get_practitioner_slots(ctx, w["org"], w["prac"], MONDAY - timedelta(days=2)) == []


def test_cancelled_booking_gives_its_seat_back(db: Database, ctx: AppContext) -> None:
    w = _world(db)
    appt = _book(db, w, local(MONDAY, time(9)))
    assert "09:00" not in _times(get_practitioner_slots(ctx, w["org"], w["prac"], MONDAY))
    with db.transaction() as s:
        row = s.get(Appointment, appt)
        assert row is not None
        row.status = "cancelled"
        start, end = row.start_at, row.end_at
    invalidate_appointment(ctx, w["org"], w["prac"], start, end)
    assert "09:00" in _times(get_practitioner_slots(ctx, w["org"], w["prac"], MONDAY))


def test_spring_forward_and_fall_back_days_in_new_york(db: Database, ctx: AppContext) -> None:
    w = _world(db)
    with db.transaction() as s:
        make_schedule(
            s,
            s.get(Practitioner, w["prac"]),
            s.get(Clinic, w["clinic"]),
            weekdays=(6,),
            start=time(0),
            end=time(4),
        )
    spring = get_practitioner_slots(ctx, w["org"], w["prac"], date(2026, 3, 8))
    labels = [s.start.astimezone(NY).strftime("%H:%M %Z") for s in spring]
    assert labels == ["00:00 EST", "00:30 EST", "01:00 EST", "01:30 EST", "03:00 EDT", "03:30 EDT"]
    assert all(s.minutes == 30 for s in spring)
    fall = get_practitioner_slots(ctx, w["org"], w["prac"], date(2026, 11, 1))
    labels = [s.start.astimezone(NY).strftime("%H:%M %Z") for s in fall]
    assert labels[:6] == [
        "00:00 EDT",
        "00:30 EDT",
        "01:00 EDT",
        "01:30 EDT",
        "01:00 EST",
        "01:30 EST",
    ]
    assert len(fall) == 10 and len({s.start for s in fall}) == 10
    assert all(a.end <= b.start for a, b in itertools.pairwise(fall))


def test_group_slot_with_capacity_8_keeps_one_seat_after_7_and_none_after_8(
    db: Database, ctx: AppContext
) -> None:
    w = _world(db)
    with db.transaction() as s:
        org = s.get(Organization, w["org"])
        group = make_type(s, org, code="group-therapy", minutes=90, is_group=True)
        make_schedule(
            s,
            s.get(Practitioner, w["prac"]),
            s.get(Clinic, w["clinic"]),
            weekdays=(0,),
            start=time(17, 30),
            end=time(19),
            slot_minutes=90,
            capacity=8,
            appointment_type_id=group.id,
        )
        patients = [make_patient(s, org).id for _ in range(8)]
    start = local(MONDAY, time(17, 30))
    for p in patients[:7]:
        _book(db, w, start, minutes=90, patient=p, type=group.id)
    (slot,) = [
        s for s in get_practitioner_slots(ctx, w["org"], w["prac"], MONDAY) if s.capacity == 8
    ]
    assert (slot.seats_left, slot.appointment_type_id) == (1, group.id)
    # Asking for another type leaves the group block out.
    other = get_practitioner_slots(ctx, w["org"], w["prac"], MONDAY, appointment_type_id=w["type"])
    assert other and all(s.capacity == 1 for s in other)
    _book(db, w, start, minutes=90, patient=patients[7], type=group.id)
    invalidate_appointment(ctx, w["org"], w["prac"], start, start + timedelta(minutes=90))
    slots = get_practitioner_slots(ctx, w["org"], w["prac"], MONDAY)
    assert [s for s in slots if s.capacity == 8] == []


def test_an_exception_covering_half_a_day(db: Database, ctx: AppContext) -> None:
    w = _world(db)
    with db.transaction() as s:
        make_exception(
            s,
            s.get(Organization, w["org"]),
            local(MONDAY, time(0)),
            local(MONDAY, time(10, 30)),
            practitioner=s.get(Practitioner, w["prac"]),
        )
    assert _times(get_practitioner_slots(ctx, w["org"], w["prac"], MONDAY)) == [
        "10:30",
        "11:00",
        "11:30",
    ]
    assert len(get_practitioner_slots(ctx, w["org"], w["prac"], TUESDAY)) == 6


def test_a_schedule_valid_only_from_next_week(db: Database, ctx: AppContext) -> None:
    with db.transaction() as s:
        org = make_org(s)
        clinic = make_clinic(s, org)
        prac = make_practitioner(s, org, [clinic])
        make_schedule(
            s, prac, clinic, start=time(9), end=time(10), valid_from=MONDAY + timedelta(days=7)
        )
        ids = (org.id, prac.id)
    week = get_practitioner_slots_range(ctx, *ids, MONDAY, MONDAY + timedelta(days=13))
    assert all(week[MONDAY + timedelta(days=k)] == [] for k in range(7))
    assert all(len(week[MONDAY + timedelta(days=k)]) == 2 for k in range(7, 12))


def test_a_schedule_counts_only_while_the_practitioner_is_assigned(
    db: Database, ctx: AppContext
) -> None:
    with db.transaction() as s:
        org = make_org(s)
        clinic = make_clinic(s, org)
        prac = make_practitioner(s, org, [clinic], active_from=TUESDAY)
        make_schedule(s, prac, clinic, start=time(9), end=time(10))
        ids = (org.id, prac.id)
    assert get_practitioner_slots(ctx, *ids, MONDAY) == []
    assert len(get_practitioner_slots(ctx, *ids, TUESDAY)) == 2


def test_past_notice_and_horizon_cut_the_offers(db: Database) -> None:
    w = _world(db, min_notice_minutes=90, booking_horizon_days=7)
    now = local(MONDAY, time(8, 45))
    ctx = make_ctx(db, now)
    assert _times(get_practitioner_slots(ctx, w["org"], w["prac"], MONDAY)) == [
        "10:30",
        "11:00",
        "11:30",
    ]
    assert len(get_practitioner_slots(ctx, w["org"], w["prac"], MONDAY + timedelta(days=7))) == 6
    assert get_practitioner_slots(ctx, w["org"], w["prac"], MONDAY + timedelta(days=8)) == []
    later = make_ctx(db, local(MONDAY, time(11, 50)))
    assert get_practitioner_slots(later, w["org"], w["prac"], MONDAY) == []


def test_buffer_time_moves_the_next_offer_and_a_buffer_change_applies_at_once(
    db: Database, ctx: AppContext
) -> None:
    w = _world(db, buffer_minutes=15)
    _book(db, w, local(MONDAY, time(9)))
    assert _times(get_practitioner_slots(ctx, w["org"], w["prac"], MONDAY)) == [
        "09:45",
        "10:00",
        "10:30",
        "11:00",
        "11:30",
    ]
    with db.transaction() as s:
        org = s.get(Organization, w["org"])
        assert org is not None
        org.buffer_minutes = 0
    invalidate_organization(ctx, w["org"])
    assert _times(get_practitioner_slots(ctx, w["org"], w["prac"], MONDAY))[0] == "09:30"


def test_custom_duration_offers_only_starts_where_it_fits(db: Database, ctx: AppContext) -> None:
    w = _world(db)
    _book(db, w, local(MONDAY, time(10)))
    slots = get_practitioner_slots(ctx, w["org"], w["prac"], MONDAY, duration_minutes=60)
    assert _times(slots) == ["09:00", "10:30", "11:00"]
    assert all(s.minutes == 60 for s in slots)


def _two_clinics(db: Database) -> dict[str, Any]:
    """Two clinics (New York and Phoenix), three practitioners, one of them a
    psychologist at both."""
    with db.transaction() as s:
        org = make_org(s)
        main = make_clinic(s, org, name="Main")
        desert = make_clinic(s, org, name="Desert", timezone="America/Phoenix")
        a = make_practitioner(s, org, [main], name="A")
        b = make_practitioner(s, org, [main, desert], name="B", specialty="Psychology")
        c = make_practitioner(s, org, [desert], name="C")
        make_schedule(s, a, main, weekdays=(0,), start=time(9), end=time(10))
        make_schedule(s, b, main, weekdays=(0,), start=time(9, 30), end=time(10, 30))
        make_schedule(s, b, desert, weekdays=(1,), start=time(9), end=time(10))
        make_schedule(s, c, desert, weekdays=(0, 1), start=time(9), end=time(10), capacity=3)
        return {
            "org": org,
            "main": main.id,
            "desert": desert.id,
            "a": a.id,
            "b": b.id,
            "c": c.id,
            "patient": make_patient(s, org).id,
            "type": make_type(s, org).id,
        }


def test_available_clinics_count_open_slots_and_practitioners(
    db: Database, ctx: AppContext
) -> None:
    w = _two_clinics(db)
    org = w["org"].id
    found = {c.name: c for c in get_available_clinics(ctx, org, MONDAY)}
    assert set(found) == {"Main", "Desert"}
    assert (found["Main"].open_slots, found["Main"].practitioners, found["Main"].seats) == (4, 2, 4)
    assert (found["Desert"].open_slots, found["Desert"].practitioners, found["Desert"].seats) == (
        2,
        1,
        6,
    )
    assert found["Desert"].timezone == "America/Phoenix"
    only_psych = get_available_clinics(ctx, org, MONDAY, specialty="Psychology")
    assert [(c.name, c.open_slots) for c in only_psych] == [("Main", 2)]
    with db.transaction() as s:
        make_exception(
            s,
            s.merge(w["org"]),
            local(MONDAY, time(0), "America/Phoenix"),
            local(TUESDAY, time(0), "America/Phoenix"),
            clinic=s.get(Clinic, w["desert"]),
            reason="clinic-closure",
        )
    invalidate_organization(ctx, org)
    assert [c.name for c in get_available_clinics(ctx, org, MONDAY)] == ["Main"]


def test_clinic_slots_aggregate_providers_and_seats_per_time(db: Database, ctx: AppContext) -> None:
    w = _two_clinics(db)
    org = w["org"].id
    _book(db, {**w, "org": org, "prac": w["a"], "clinic": w["main"]}, local(MONDAY, time(9, 30)))
    by_day = get_clinic_slots_range(ctx, org, w["main"], MONDAY, TUESDAY)
    assert by_day[TUESDAY] == []
    rows = [
        (s.start.astimezone(NY).strftime("%H:%M"), s.providers, s.seats, s.practitioner_ids)
        for s in by_day[MONDAY]
    ]
    assert rows == [
        ("09:00", 1, 1, (w["a"],)),
        ("09:30", 1, 1, (w["b"],)),  # A is booked at 09:30
        ("10:00", 1, 1, (w["b"],)),
    ]
    desert = get_clinic_slots_range(ctx, org, w["desert"], MONDAY, TUESDAY)
    assert [(s.providers, s.seats) for s in desert[TUESDAY]] == [(2, 4), (2, 4)]
    frame = slots_frame(desert[TUESDAY])
    assert list(frame.columns[:4]) == ["clinic_id", "start", "end", "providers"]
    assert (
        len(
            get_clinic_slots_range(ctx, org, w["desert"], MONDAY, TUESDAY, specialty="Psychology")[
                TUESDAY
            ]
        )
        == 2
    )


def test_another_organizations_ids_are_not_found(db: Database, ctx: AppContext) -> None:
    mine = _world(db)
    theirs = _world(db)
    with pytest.raises(AvailabilityError) as err:
        get_practitioner_slots(ctx, mine["org"], theirs["prac"], MONDAY)
    assert err.value.code == "NOT_FOUND"
    with pytest.raises(AvailabilityError):
        get_practitioner_slots(ctx, mine["org"], mine["prac"], MONDAY, clinic_id=theirs["clinic"])
    with pytest.raises(AvailabilityError):
        get_clinic_slots_range(ctx, mine["org"], theirs["clinic"], MONDAY, MONDAY)
    with pytest.raises(AvailabilityError):
        get_practitioner_slots(
            ctx, mine["org"], mine["prac"], MONDAY, appointment_type_id=theirs["type"]
        )
    assert [c.clinic_id for c in get_available_clinics(ctx, mine["org"], MONDAY)] == [
        mine["clinic"]
    ]
    with pytest.raises(AvailabilityError):
        get_available_clinics(ctx, 999_999, MONDAY)


def test_bad_ranges_and_durations_are_refused_clearly(db: Database, ctx: AppContext) -> None:
    w = _world(db)
    with pytest.raises(AvailabilityError, match="before the start date"):
        get_practitioner_slots_range(ctx, w["org"], w["prac"], TUESDAY, MONDAY)
    with pytest.raises(AvailabilityError, match="at most 366 days"):
        get_practitioner_slots_range(ctx, w["org"], w["prac"], MONDAY, MONDAY + timedelta(days=400))
    with pytest.raises(AvailabilityError) as err:
        get_practitioner_slots(ctx, w["org"], w["prac"], MONDAY, duration_minutes=0)
    assert err.value.code == "INVALID_DURATION"


def test_inactive_practitioners_and_clinics_offer_nothing(db: Database, ctx: AppContext) -> None:
    w = _world(db)
    with db.transaction() as s:
        s.execute(
            text("UPDATE practitioners SET active = :f WHERE id = :p"), {"f": False, "p": w["prac"]}
        )
    invalidate_organization(ctx, w["org"])
    assert get_practitioner_slots(ctx, w["org"], w["prac"], MONDAY) == []
    with db.transaction() as s:
        s.execute(
            text("UPDATE practitioners SET active = :t WHERE id = :p"), {"t": True, "p": w["prac"]}
        )
        s.execute(
            text("UPDATE clinics SET active = :f WHERE id = :c"), {"f": False, "c": w["clinic"]}
        )
    invalidate_organization(ctx, w["org"])
    assert get_practitioner_slots(ctx, w["org"], w["prac"], MONDAY) == []
    assert get_available_clinics(ctx, w["org"], MONDAY) == []


# --------------------------------------------------------------------------- batching


@contextmanager
def count_statements(db: Database) -> Iterator[list[str]]:
    seen: list[str] = []

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not statement.lstrip().upper().startswith(("BEGIN", "ROLLBACK", "COMMIT", "PRAGMA")):
            seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", before)


def test_range_queries_fetch_in_a_number_of_statements_that_does_not_grow_with_days(
    db: Database,
) -> None:
    w = _two_clinics(db)
    org = w["org"].id
    counts = {}
    for days in (1, 7, 31):
        ctx = make_ctx(db)  # cold caches each time
        with count_statements(db) as one:
            get_practitioner_slots_range(
                ctx, org, w["b"], MONDAY, MONDAY + timedelta(days=days - 1)
            )
        ctx = make_ctx(db)
        with count_statements(db) as clinic:
            get_clinic_slots_range(ctx, org, w["desert"], MONDAY, MONDAY + timedelta(days=days - 1))
        counts[days] = (len(one), len(clinic))
    assert counts[1] == counts[7] == counts[31]
    # The directory (organization, clinics, types, practitioners, schedule blocks) and the
    # batched fetch (exceptions, appointments, live slot holds).
    assert counts[1] == (8, 8)
    # Warm: asked again, everything comes from the cache.
    ctx = make_ctx(db)

    def ask() -> None:
        get_practitioner_slots_range(ctx, org, w["b"], MONDAY, MONDAY + timedelta(days=30))
        get_clinic_slots_range(ctx, org, w["desert"], MONDAY, TUESDAY)
        get_available_clinics(ctx, org, MONDAY)

    ask()
    with count_statements(db) as warm:
        ask()
    assert warm == []


# --------------------------------------------------------------------------- range property


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    starts=st.lists(
        st.tuples(
            st.integers(0, 13),
            st.sampled_from([9 * 60, 9 * 60 + 30, 10 * 60 + 15, 11 * 60]),
            st.sampled_from([20, 30, 60]),
        ),
        max_size=10,
    ),
    buffer=st.sampled_from([0, 10]),
)
def test_a_range_equals_the_union_of_single_days(
    db: Database, starts: list[tuple[int, int, int]], buffer: int
) -> None:
    _empty(db)
    w = _world(db, buffer_minutes=buffer)
    for day_offset, minute, length in starts:
        day = MONDAY + timedelta(days=day_offset)
        _book(db, w, local(day, time(*divmod(minute, 60))), minutes=length)
    last = MONDAY + timedelta(days=13)
    whole = get_practitioner_slots_range(make_ctx(db), w["org"], w["prac"], MONDAY, last)
    for k in range(14):
        day = MONDAY + timedelta(days=k)
        assert whole[day] == get_practitioner_slots(make_ctx(db), w["org"], w["prac"], day)


def _empty(db: Database) -> None:
    _empty_tables(db)


# --------------------------------------------------------------------------- booking side


def test_booking_rules_run_inside_the_callers_transaction(db: Database, ctx: AppContext) -> None:
    w = _world(db, buffer_minutes=10)
    taken = _book(db, w, local(MONDAY, time(9)))
    with db.transaction(write_lock=True) as s:

        def check(start: datetime, minutes: int = 30, exclude: int | None = None) -> str | None:
            request = BookingRequest(w["prac"], w["clinic"], start, minutes, w["type"], exclude)
            violation = check_booking_rules(ctx, s, w["org"], request)
            return None if violation is None else violation.code

        assert check(local(MONDAY, time(9))) == "CONFLICT"
        assert check(local(MONDAY, time(9, 30))) == "BUFFER"
        assert check(local(MONDAY, time(9, 40))) is None
        assert check(local(MONDAY, time(11, 45))) == "OUTSIDE_SCHEDULE"
        assert check(local(MONDAY, time(9)), exclude=taken) is None  # rescheduling onto itself
        assert check(local(date(2026, 3, 2), time(6))) == "IN_PAST"
        # What the session itself wrote (not yet committed) counts too.
        make_appointment(
            s,
            s.get(Patient, w["patient"]),
            s.get(Practitioner, w["prac"]),
            s.get(Clinic, w["clinic"]),
            s.get(AppointmentType, w["type"]),
            local(MONDAY, time(11)),
        )
        assert check(local(MONDAY, time(11))) == "CONFLICT"
        s.rollback()


def test_the_demo_appointments_obey_the_rule_they_are_checked_against(
    demo_db: Database,
) -> None:
    ctx = make_ctx(demo_db, DEMO_ANCHOR)
    with demo_db.read() as s:
        rows = s.execute(
            select(
                Appointment.id,
                Appointment.organization_id,
                Appointment.practitioner_id,
                Appointment.clinic_id,
                Appointment.start_at,
                Appointment.duration_minutes,
                Appointment.appointment_type_id,
            )
            .where(
                Appointment.start_at > DEMO_ANCHOR,
                Appointment.status.in_(TIME_HOLDING_STATUSES),
            )
            .order_by(Appointment.id)
        ).all()
        sample = rows[:: max(1, len(rows) // 150)]
        for aid, org, pid, cid, start, minutes, type_id in sample:
            request = BookingRequest(pid, cid, start, minutes, type_id, exclude_appointment_id=aid)
            day = practitioner_day_for(ctx, s, org, request)
            assert check_booking(day, request, None) is None, (aid, org)
    # And the demo organization offers its coordinators something to book next week.
    week_ahead = DEMO_ANCHOR.date() + timedelta(days=6)
    assert len(get_available_clinics(ctx, 1, week_ahead)) == 4
