"""The statistics on the demo data agree with a slow, straightforward computation that reads
every appointment row into pandas and converts each one to its clinic's local time, and
lays out every schedule block day by day (the oracle). Three filters drawn at random."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select

from data.db import Database
from data.models import (
    Appointment,
    Clinic,
    Patient,
    Practitioner,
    Schedule,
    ScheduleException,
    StatsSummaryPart,
)
from data.stats_summaries import uncovered_ranges
from domain.clock import fixed_clock
from domain.context import AppContext
from domain.stats import AGE_GROUPS, LEAD_TIME_BUCKETS, AppointmentStats, get_appointment_stats
from settings import Settings
from tests.conftest import DEMO_ANCHOR

# Ten days after the demo's anchor: bookings of the last ten days are past but unresolved.
NOW = DEMO_ANCHOR + timedelta(days=10)
ORG = 1  # Harbor Health Partners: four clinics in two time zones


def _rows(database: Database, query) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    with database.read() as s:
        result = s.execute(query)
        return pd.DataFrame([tuple(r) for r in result], columns=list(result.keys()))


def _all_appointments(database: Database) -> pd.DataFrame:
    a = Appointment
    rows = _rows(
        database,
        select(
            a.start_at,
            a.booked_at,
            a.status,
            a.duration_minutes,
            a.practitioner_id,
            a.clinic_id,
            a.appointment_type_id,
            a.cancellation_category,
            a.reminder_sent,
            a.date_only,
            Clinic.timezone,
            Patient.birth_date,
        )
        .join(Clinic, Clinic.id == a.clinic_id)
        .join(Patient, Patient.id == a.patient_id)
        .where(a.organization_id == ORG),
    )
    rows["start_at"] = pd.to_datetime(rows["start_at"], utc=True)
    rows["booked_at"] = pd.to_datetime(rows["booked_at"], utc=True)
    local_start, local_booked = [], []
    for tz, part in rows.groupby("timezone"):
        local_start.append(part["start_at"].dt.tz_convert(str(tz)).dt.tz_localize(None))
        local_booked.append(part["booked_at"].dt.tz_convert(str(tz)).dt.tz_localize(None))
    # Naive clinic-local wall times.
    rows["local_start"] = pd.concat(local_start)
    rows["local_booked"] = pd.concat(local_booked)
    rows["day"] = rows["local_start"].dt.date
    return rows


def _age_group(birth: date | None, on: date) -> str:
    if birth is None or pd.isna(birth) or birth > on:
        return "unknown"
    age = on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
    for limit, label in zip((13, 18, 40, 65), AGE_GROUPS, strict=False):
        if age < limit:
            return label
    return "65+"


def _lead_bucket(days: int) -> str:
    if days < 0:
        return "booked after the day"
    if days == 0:
        return "same day"
    return "1-7 days" if days <= 7 else "8-30 days" if days <= 30 else "31+ days"


def _oracle_counts(rows: pd.DataFrame) -> dict[str, int]:
    past = rows["start_at"] < pd.Timestamp(NOW)
    status = rows["status"]
    due = status.isin(["completed", "no-show", "arrived", "in-progress"]) | (
        status.isin(["pending", "booked", "confirmed"]) & past
    )
    return {
        "appointments": len(rows),
        "cancelled": int((status == "cancelled").sum()),
        "due": int(due.sum()),
        "completed": int((status == "completed").sum()),
        "no_shows": int((status == "no-show").sum()),
    }


def _table_counts(table: pd.DataFrame, key: str) -> dict[object, dict[str, int]]:
    cols = ["appointments", "cancelled", "due", "completed", "no_shows"]
    return {
        k: {c: int(v) for c, v in zip(cols, values, strict=True)}
        for k, *values in table[[key, *cols]].itertuples(index=False)
        if values[0] or k is not None
    }


def _oracle_by(rows: pd.DataFrame, key: pd.Series) -> dict[object, dict[str, int]]:
    return {k: _oracle_counts(part) for k, part in rows.groupby(key.to_numpy())}


def _oracle_capacity(
    database: Database,
    start: date,
    end: date,
    practitioner: int | None,
    clinic: int | None,
) -> dict[tuple[int, int, date], int]:
    """Seat-minutes per (practitioner, clinic, local day): each block laid out on each day
    with zoneinfo, minus the union of the exceptions that touch it."""
    blocks = _rows(
        database,
        select(*Schedule.__table__.columns, Clinic.timezone)
        .join(Clinic, Clinic.id == Schedule.clinic_id)
        .where(Clinic.organization_id == ORG),
    )
    exceptions = _rows(
        database,
        select(
            ScheduleException.practitioner_id,
            ScheduleException.clinic_id,
            ScheduleException.start_at,
            ScheduleException.end_at,
        ).where(ScheduleException.organization_id == ORG),
    )
    exc = [
        (None if pd.isna(p) else int(p), None if pd.isna(c) else int(c), es, ee)
        for p, c, es, ee in exceptions.itertuples(index=False)
    ]
    out: dict[tuple[int, int, date], int] = {}
    d = start
    while d <= end:
        for s in blocks.itertuples(index=False):
            tz = s.timezone
            if s.weekday != d.weekday() or d < s.valid_from:
                continue
            if s.valid_to is not None and d > s.valid_to:
                continue
            if practitioner is not None and s.practitioner_id != practitioner:
                continue
            if clinic is not None and s.clinic_id != clinic:
                continue
            lo = datetime.combine(d, s.start_time, ZoneInfo(tz)).astimezone(UTC)
            hi = datetime.combine(d, s.end_time, ZoneInfo(tz)).astimezone(UTC)
            cuts = sorted(
                (max(lo, es), min(hi, ee))
                for ep, ec, es, ee in exc
                if es < hi
                and ee > lo
                and ep in (None, s.practitioner_id)
                and ec in (None, s.clinic_id)
            )
            covered, reach = timedelta(0), lo
            for cs, ce in cuts:
                if ce > reach:
                    covered += ce - max(cs, reach)
                    reach = ce
            minutes = int((hi - lo - covered).total_seconds() // 60) * s.capacity
            key = (s.practitioner_id, s.clinic_id, d)
            out[key] = out.get(key, 0) + minutes
        d += timedelta(days=1)
    return out


def _draw_filters(database: Database) -> list[dict[str, object]]:
    rng = random.Random(20260318)
    practitioners = _rows(
        database, select(Practitioner.id).where(Practitioner.organization_id == ORG)
    )["id"].tolist()
    clinics = _rows(database, select(Clinic.id).where(Clinic.organization_id == ORG))["id"].tolist()
    anchor = DEMO_ANCHOR.date()

    def period(days: int) -> tuple[date, date]:
        start = anchor - timedelta(days=rng.randint(days // 2, 300))
        return start, start + timedelta(days=days - 1)

    one, two, three = period(91), period(182), period(330)
    clinic = rng.choice(clinics)
    # A type this clinic books, so that the draw has rows to count.
    types = sorted(
        _rows(
            database,
            select(Appointment.appointment_type_id)
            .distinct()
            .where(Appointment.clinic_id == clinic),
        )["appointment_type_id"].tolist()
    )
    return [
        {"start": one[0], "end": one[1], "practitioner_id": rng.choice(practitioners)},
        {
            "start": two[0],
            "end": two[1],
            "clinic_id": clinic,
            "appointment_type_id": rng.choice(types),
        },
        {"start": three[0], "end": three[1]},
    ]


def _stored_parts(database: Database) -> list[tuple[date, date]]:
    p = StatsSummaryPart
    found = _rows(database, select(p.first_day, p.last_day).where(p.organization_id == ORG))
    return [
        tuple(v if isinstance(v, date) else date.fromisoformat(v) for v in pair)  # type: ignore[misc]
        for pair in zip(found["first_day"], found["last_day"], strict=True)
    ]


_LOADED: dict[str, pd.DataFrame] = {}


@pytest.fixture
def everything(demo_db: Database) -> pd.DataFrame:
    """Every appointment row of the demo organization (read once per store)."""
    if demo_db.url not in _LOADED:
        _LOADED[demo_db.url] = _all_appointments(demo_db)
    return _LOADED[demo_db.url]


@pytest.mark.parametrize("which", [0, 1, 2])
def test_stats_on_the_demo_data_match_a_row_by_row_pandas_oracle(
    demo_db: Database, everything: pd.DataFrame, which: int
) -> None:
    f = _draw_filters(demo_db)[which]
    ctx = AppContext(Settings(database_url=demo_db.url), demo_db, fixed_clock(NOW))
    st: AppointmentStats = get_appointment_stats(ctx, ORG, **f)  # type: ignore[arg-type]

    rows = everything[(everything["day"] >= f["start"]) & (everything["day"] <= f["end"])]
    for column, key in (
        ("practitioner_id", "practitioner_id"),
        ("clinic_id", "clinic_id"),
        ("appointment_type_id", "appointment_type_id"),
    ):
        if f.get(key) is not None:
            rows = rows[rows[column] == f[key]]
    assert len(rows) > 50, "the draw should give the oracle something to count"

    expected = _oracle_counts(rows)
    assert st.overall.__dict__ == expected
    if which == 2:  # organization-wide: the days that are over come from stored rows
        parts = [p for p in _stored_parts(demo_db) if f["start"] <= p[0] <= p[1] <= f["end"]]
        assert any(first.day == 1 and last > first for first, last in parts), "a whole month"
        assert [r[0] for r in uncovered_ranges(f["start"], f["end"], parts)] == [NOW.date()]
    if which == 2:  # the wide draw spans "now": some bookings are past but unresolved
        unresolved = rows["status"].isin(["pending", "booked", "confirmed"]) & (
            rows["start_at"] < pd.Timestamp(NOW)
        )
        assert st.unresolved_past == int(unresolved.sum()) > 0
    assert st.by_status == {
        s: int((rows["status"] == s).sum())
        for s in (
            "pending",
            "booked",
            "confirmed",
            "arrived",
            "in-progress",
            "completed",
            "cancelled",
            "no-show",
        )
    }
    assert st.no_show_rate == pytest.approx(expected["no_shows"] / expected["due"])
    assert st.booked_minutes == int(
        rows.loc[rows["status"] != "cancelled", "duration_minutes"].sum()
    )

    holding = rows[(rows["status"] != "cancelled") & ~rows["date_only"]]
    grid = np.zeros((7, 24), dtype=np.int64)
    for t in holding["local_start"]:
        grid[t.weekday(), t.hour] += 1
    assert (st.busiest_times.to_numpy() == grid).all()

    weekday = pd.Series([d.weekday() for d in rows["day"]], index=rows.index)
    assert _table_counts(st.by_weekday, "weekday") == {
        k: v for k, v in _oracle_by(rows, weekday).items()
    } | {k: dict.fromkeys(expected, 0) for k in range(7) if k not in set(weekday)}

    lead = pd.Series(
        [
            _lead_bucket((s.date() - b.date()).days)
            for s, b in zip(rows["local_start"], rows["local_booked"], strict=True)
        ],
        index=rows.index,
    )
    got = _table_counts(st.by_lead_time, "lead_time")
    want = _oracle_by(rows, lead)
    for bucket in LEAD_TIME_BUCKETS:
        assert got[bucket] == want.get(bucket, dict.fromkeys(expected, 0)), bucket

    ages = pd.Series(
        [_age_group(b, d) for b, d in zip(rows["birth_date"], rows["day"], strict=True)],
        index=rows.index,
    )
    got = _table_counts(st.by_age_group, "age_group")
    want = _oracle_by(rows, ages)
    for group in AGE_GROUPS:
        assert got[group] == want.get(group, dict.fromkeys(expected, 0)), group

    got = _table_counts(st.by_reminder, "reminder_sent")
    want = _oracle_by(rows, rows["reminder_sent"].astype(bool))
    for sent in (False, True):
        assert got[sent] == want.get(sent, dict.fromkeys(expected, 0))

    assert {
        k: v
        for k, v in _table_counts(st.by_type, "appointment_type_id").items()
        if v["appointments"]
    } == _oracle_by(rows, rows["appointment_type_id"])
    cancelled = rows[rows["status"] == "cancelled"]
    assert dict(zip(st.cancellations["category"], st.cancellations["cancelled"], strict=True)) == {
        c: int((cancelled["cancellation_category"] == c).sum())
        for c in ("patient-initiated", "practice-initiated", "emergency", "other")
    } | {"not recorded": int(cancelled["cancellation_category"].isna().sum())}

    capacity = _oracle_capacity(
        demo_db, f["start"], f["end"], f.get("practitioner_id"), f.get("clinic_id")
    )
    assert st.capacity_minutes == sum(capacity.values())
    per_practitioner: dict[int, int] = {}
    for (p, _, _), minutes in capacity.items():
        per_practitioner[p] = per_practitioner.get(p, 0) + minutes
    table = st.by_practitioner.set_index("practitioner_id")
    for p, minutes in per_practitioner.items():
        assert table.loc[p, "capacity_minutes"] == minutes
    assert _table_counts(st.by_practitioner, "practitioner_id") == _oracle_by(
        rows, rows["practitioner_id"]
    ) | {
        p: dict.fromkeys(expected, 0)
        for p in per_practitioner
        if p not in set(rows["practitioner_id"])
    }

    week = pd.Series([d - timedelta(days=d.weekday()) for d in rows["day"]], index=rows.index)
    weekly = st.weekly.set_index("week_start")
    for monday, counts in _oracle_by(rows, week).items():
        assert weekly.loc[monday, ["appointments", "due", "no_shows"]].tolist() == [
            counts["appointments"],
            counts["due"],
            counts["no_shows"],
        ]
    cap_week: dict[date, int] = {}
    for (_, _, d), minutes in capacity.items():
        monday = d - timedelta(days=d.weekday())
        cap_week[monday] = cap_week.get(monday, 0) + minutes
    assert {k: int(v) for k, v in weekly["capacity_minutes"].items() if v} == cap_week
