"""Stored statistics of days that are over, so that a year of a whole organization is
not counted again from its appointments on every look.

The statistics statement (``data/stats_queries.py``) groups an organization's appointments
by the margins the statistics need. Over a stretch of clinic-local dates that has ended in
every one of the organization's clinics, its grouped rows are stored once in
``stats_summary_rows`` and the stretch is marked built in ``stats_summary_parts``. A
stretch (a *part*) is a whole calendar month, or a single day where a period does not
cover the whole month (the days of the running month, the ragged ends of a period).
Months compress well: a large organization's month (about 50,000 appointments) is about
1,500 rows; a day about a third as many rows as appointments, still far cheaper to add up
than to count. A day may be stored besides its whole month (for periods that cut the
month); a query reads each date from one part only (``stored_parts``). A statistics query
adds up the stored rows of those parts and counts only the rest (today, the future, days
a writer is changing) from the appointments. Only the organization-wide view without a
type filter uses them: any narrower filter reads few enough appointments to count
directly.

Stored rows are right only while nothing of their dates changes, so every writer of
appointments invalidates the parts holding the local dates it touches, in its own
transaction (deletes the mark and the rows; the next query builds them again):

- ORM writes: the ``after_flush`` hook below, for inserted, updated and deleted
  appointments (old and new local date), a patient's birth date (age groups) and a
  clinic's time zone (local dates), the last two for the whole organization;
- Core and bulk writers call ``invalidate_days`` / ``invalidate_organization``
  themselves (reminders' ``reminder_sent``, the history import).

A build must not store rows counted from a snapshot that misses a concurrent write. On
PostgreSQL, writers take a shared advisory lock per (organization, month of the date) and
organization-wide invalidation an exclusive one on (organization, 0); a build tries the
opposite modes without waiting and gives up when a writer is in flight (the query then
counts those dates directly). Either the writer's change is in the build's snapshot, or
the writer's invalidation runs after the build committed and removes its rows. On SQLite
the build holds the database write lock (BEGIN IMMEDIATE), which serializes it with
writers.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from data.models import Appointment, Clinic, Patient
from data.stats_queries import (
    AGGREGATE_COLUMNS,
    AggregateStatement,
    StatsScope,
    local_midnight,
    prepare_statement,
)

if TYPE_CHECKING:
    from data.db import Database

log = logging.getLogger(__name__)

STORED_COLUMNS: tuple[str, ...] = tuple(c for c in AGGREGATE_COLUMNS if c not in ("past",))
_KEYS = tuple(c for c in STORED_COLUMNS if c not in ("n", "minutes"))
_WHOLE_ORGANIZATION = 0  # advisory lock key of organization-wide invalidation


# --------------------------------------------------------------------------- parts

Part = tuple[date, date]  # first and last local date, inclusive


def month_of(day: date) -> date:
    return day.replace(day=1)


def next_month(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1)


def _month_part(month: date) -> Part:
    return month, next_month(month) - timedelta(days=1)


def _lock_key(month: date) -> int:
    return month.year * 12 + month.month - 1  # never 0 (_WHOLE_ORGANIZATION)


def _over(day: date, zones: Iterable[str], now: datetime) -> bool:
    """The local date has ended in every zone."""
    after = day + timedelta(days=1)
    return all(local_midnight(after, zone) <= now for zone in zones)


def closed_months(start: date, end: date, zones: Iterable[str], now: datetime) -> list[date]:
    """First days of the calendar months lying wholly in [start, end] whose last day has
    ended, by ``now``, in every one of ``zones``."""
    zones = sorted(set(zones))
    if not zones:
        return []
    month = month_of(start) if start.day == 1 else next_month(start)
    found = []
    while (last := _month_part(month)[1]) <= end and _over(last, zones, now):
        found.append(month)
        month = next_month(month)
    return found


def closed_days(start: date, end: date, zones: Iterable[str], now: datetime) -> list[date]:
    """The dates of [start, end] that have ended, by ``now``, in every one of ``zones``
    (the first ones of the period: days end in order)."""
    zones = sorted(set(zones))
    last = min(end, now.astimezone(UTC).date())  # a later date has not even begun in UTC+14
    while zones and last >= start and not _over(last, zones, now):
        last -= timedelta(days=1)
    return _days(start, last) if zones and last >= start else []


def uncovered_ranges(start: date, end: date, parts: Iterable[Part]) -> list[tuple[date, date]]:
    """[start, end] minus the given parts (inside it, not overlapping), as inclusive runs
    of days in order."""
    runs: list[tuple[date, date]] = []
    cursor = start
    for first, last in sorted(parts):
        if first > cursor:
            runs.append((cursor, first - timedelta(days=1)))
        cursor = max(cursor, last + timedelta(days=1))
    if cursor <= end:
        runs.append((cursor, end))
    return runs


def _runs(days: Sequence[date]) -> list[tuple[date, date]]:
    """Sorted days as inclusive runs of consecutive days."""
    runs: list[tuple[date, date]] = []
    for day in sorted(days):
        if runs and runs[-1][1] + timedelta(days=1) == day:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


# --------------------------------------------------------------------------- reading


def stored_parts(
    connection: Connection,
    organization_id: int,
    start: date,
    end: date,
    over: tuple[Iterable[str], datetime] | None = None,
) -> list[Part]:
    """The stored parts to read for [start, end] (in the connection's snapshot): every
    whole month lying in it, and the single days lying in it outside those months (a
    day can be stored besides its month, for periods that cut the month). ``over``
    (zones, now): only parts whose days are over by then (a clock set back in time must
    not read days it still sees as to come)."""
    found = connection.execute(
        text(
            "SELECT first_day, last_day FROM stats_summary_parts WHERE organization_id = :o "
            "AND first_day >= :start AND last_day <= :end"
        ),
        {"o": organization_id, "start": start, "end": end},
    ).all()
    parts = [(_as_date(first), _as_date(last)) for first, last in found]
    if over is not None:
        zones, now = sorted(set(over[0])), over[1]
        parts = [p for p in parts if _over(p[1], zones, now)]
    months = [p for p in parts if p[0] < p[1]]
    outside = uncovered_ranges(start, end, months)
    days = [p for p in parts if p[0] == p[1] and any(a <= p[0] <= b for a, b in outside)]
    return sorted(months + days)


def stored_rows_sql(organization_id: int, parts: Sequence[Part]) -> str:
    """The stored rows of ``parts`` (as ``stored_parts`` chose them) summed over the
    parts, in ``AGGREGATE_COLUMNS`` order (``past`` is 1: those days are over). Literal
    values, so the benchmark can run the same text on a raw connection."""
    keys = ", ".join(_KEYS)
    selected = ", ".join("1" if c == "past" else c for c in AGGREGATE_COLUMNS[:-2])
    months = [p for p in parts if p[0] < p[1]]
    days = _runs([p[0] for p in parts if p[0] == p[1]])
    which = [
        f"(first_day = '{first.isoformat()}' AND last_day = '{last.isoformat()}')"
        for first, last in months
    ] + [
        f"(first_day = last_day AND first_day >= '{first.isoformat()}' "
        f"AND first_day <= '{last.isoformat()}')"
        for first, last in days
    ]
    return (
        f"SELECT {selected}, sum(n) AS n, sum(minutes) AS minutes FROM stats_summary_rows "
        f"WHERE organization_id = {int(organization_id)} AND ({' OR '.join(which)}) "
        f"GROUP BY {keys}"
    )


def stored_rows(
    connection: Connection, organization_id: int, parts: Sequence[Part]
) -> list[tuple[Any, ...]]:
    if not parts:
        return []
    result = connection.exec_driver_sql(stored_rows_sql(organization_id, parts))
    try:
        return list(result.cursor.fetchall()) if result.cursor is not None else []
    finally:
        result.close()


# --------------------------------------------------------------------------- building


def ensure_built(db: Database, organization_id: int, start: date, end: date, now: datetime) -> int:
    """Store the rows of every day of [start, end] that is over and not stored yet: whole
    months where the period covers them, single days elsewhere. Returns how many parts
    were built. Dates a concurrent writer is changing are skipped (counted from the
    appointments this time)."""
    with db.read() as session:
        connection = session.connection()
        zones = _zones(connection, organization_id)
        months = closed_months(start, end, zones.values(), now)
        days = closed_days(start, end, zones.values(), now)
        parts = set(stored_parts(connection, organization_id, start, end, (zones.values(), now)))
    built = 0
    for month in months:
        if _month_part(month) not in parts and _attempt(
            _build_month, db, organization_id, month, zones, now
        ):
            built += 1
            parts.add(_month_part(month))
    covered = {d for first, last in parts for d in _days(first, last)}
    todo: dict[date, list[date]] = defaultdict(list)
    for day in days:
        if day not in covered:
            todo[month_of(day)].append(day)
    for month, wanted in sorted(todo.items()):
        built += _attempt(_build_days, db, organization_id, month, zones, now, wanted)
    if built and db.dialect == "postgresql":
        # Without fresh statistics the planner takes the new rows for a handful and
        # sorts them on disk instead of hashing them.
        with db.engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                "ANALYZE stats_summary_rows"
            )
    return built


def _attempt(build: Any, *args: Any) -> int:
    try:
        return int(build(*args))
    except OperationalError as error:  # a busy database: count directly this time
        log.warning("statistics rows not stored: %s", error)
        return 0


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _month_locked(connection: Connection, organization_id: int, month: date) -> bool:
    """Take the build's locks without waiting (PostgreSQL); False if a writer holds them."""
    if connection.dialect.name != "postgresql":
        return True
    return bool(
        connection.execute(
            text(
                "SELECT pg_try_advisory_xact_lock_shared(:o, :whole) "
                "AND pg_try_advisory_xact_lock(:o, :k)"
            ),
            {"o": organization_id, "whole": _WHOLE_ORGANIZATION, "k": _lock_key(month)},
        ).scalar_one()
    )


def _store(
    connection: Connection, organization_id: int, statement: AggregateStatement, parts: list[Part]
) -> None:
    """Insert the statement's rows (by day when it groups by day, else as the one part)
    and mark the parts built."""
    keys = ", ".join(STORED_COLUMNS)
    d = statement.d
    if statement.by_day:
        first = last = d.date_of_day_number("s.day")
    else:
        [(whole_first, whole_last)] = parts
        first, last = d.date(whole_first), d.date(whole_last)
    for sql in statement.prelude():
        connection.exec_driver_sql(sql)
    connection.exec_driver_sql(
        f"INSERT INTO stats_summary_rows (organization_id, first_day, last_day, {keys}) "
        f"SELECT {int(organization_id)}, {first}, {last}, {keys} FROM ({statement.sql()}) s"
    )
    at = datetime.now(UTC)
    connection.execute(
        text(
            "INSERT INTO stats_summary_parts (organization_id, first_day, last_day, built_at) "
            "VALUES (:o, :f, :l, :at)"
        ),
        [{"o": organization_id, "f": first, "l": last, "at": at} for first, last in parts],
    )


def _build_month(
    db: Database, organization_id: int, month: date, zones: dict[int, str], now: datetime
) -> bool:
    with db.transaction(write_lock=True) as session:
        connection = session.connection()
        if not _month_locked(connection, organization_id, month):
            return False
        first, last = _month_part(month)
        if (first, last) in stored_parts(connection, organization_id, first, last):
            return False  # stored meanwhile by another query
        scope = StatsScope(organization_id, first, last, now)
        statement = prepare_statement(session, scope, list(zones.items()))
        assert now >= statement.hi, "only a month that is over has final counts"
        _store(connection, organization_id, statement, [(first, last)])
        return True


def _build_days(
    db: Database,
    organization_id: int,
    month: date,
    zones: dict[int, str],
    now: datetime,
    days: list[date],
) -> int:
    with db.transaction(write_lock=True) as session:
        connection = session.connection()
        if not _month_locked(connection, organization_id, month):
            return 0
        first, last = _month_part(month)
        stored = _days_stored(connection, organization_id, first, last)
        todo = sorted(set(days) - stored)
        if not todo:
            return 0
        scope = StatsScope(organization_id, todo[0], todo[-1], now)
        statement = prepare_statement(session, scope, list(zones.items()), _runs(todo), by_day=True)
        assert now >= statement.hi, "only a day that is over has final counts"
        _store(connection, organization_id, statement, [(d, d) for d in todo])
        return len(todo)


def _days_stored(
    connection: Connection, organization_id: int, first: date, last: date
) -> set[date]:
    found = connection.execute(
        text(
            "SELECT first_day FROM stats_summary_parts WHERE organization_id = :o "
            "AND first_day >= :first AND first_day <= :last AND last_day = first_day"
        ),
        {"o": organization_id, "first": first, "last": last},
    ).scalars()
    return {_as_date(day) for day in found}


def _zones(connection: Connection, organization_id: int) -> dict[int, str]:
    found = connection.execute(
        text("SELECT id, timezone FROM clinics WHERE organization_id = :o"), {"o": organization_id}
    ).all()
    return {int(i): str(tz) for i, tz in found}


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _drop(connection: Connection, organization_id: int, parts: Sequence[Part]) -> None:
    """Delete stored parts and their rows."""
    params: dict[str, Any] = {"o": organization_id}
    matches = []
    for i, (first, last) in enumerate(parts):
        params[f"f{i}"], params[f"l{i}"] = first, last
        matches.append(f"(first_day = :f{i} AND last_day = :l{i})")
    where = f"organization_id = :o AND ({' OR '.join(matches)})"
    connection.execute(text(f"DELETE FROM stats_summary_parts WHERE {where}"), params)
    connection.execute(text(f"DELETE FROM stats_summary_rows WHERE {where}"), params)


# --------------------------------------------------------------------------- invalidation


def invalidate_days(connection: Connection, organization_id: int, days: Iterable[date]) -> None:
    """Drop the stored parts holding any of ``days`` (local dates), in the caller's
    transaction: call from any writer of appointments that bypasses the ORM."""
    days = sorted(set(days))
    if not days:
        return
    params: dict[str, Any] = {"o": organization_id}
    if connection.dialect.name == "postgresql":
        months = sorted({month_of(d) for d in days})
        locks = ", ".join(f"pg_advisory_xact_lock_shared(:o, {_lock_key(m)})" for m in months)
        connection.execute(text(f"SELECT {locks}"), params)
    holds = []
    for i, day in enumerate(days):
        # A part is at most a month long: the lower bound keeps the index range short.
        params[f"d{i}"], params[f"e{i}"] = day, day - timedelta(days=31)
        holds.append(f"(first_day <= :d{i} AND first_day > :e{i} AND last_day >= :d{i})")
    found = connection.execute(
        text(
            "SELECT first_day, last_day FROM stats_summary_parts WHERE organization_id = :o "
            f"AND ({' OR '.join(holds)})"
        ),
        params,
    ).all()
    if found:
        _drop(connection, organization_id, [(_as_date(a), _as_date(b)) for a, b in found])


def invalidate_organization(connection: Connection, organization_id: int) -> None:
    """Drop every stored part of the organization (bulk writes, time-zone changes)."""
    if connection.dialect.name == "postgresql":
        connection.execute(
            text("SELECT pg_advisory_xact_lock(:o, :whole)"),
            {"o": organization_id, "whole": _WHOLE_ORGANIZATION},
        )
    params = {"o": organization_id}
    connection.execute(text("DELETE FROM stats_summary_parts WHERE organization_id = :o"), params)
    connection.execute(text("DELETE FROM stats_summary_rows WHERE organization_id = :o"), params)


def _loaded(obj: Any, name: str) -> list[Any]:
    """The values an attribute had and has in this flush, without loading anything."""
    state = inspect(obj)
    values = [state.dict.get(name)]
    history = state.attrs[name].history
    values += list(history.added or ()) + list(history.deleted or ())
    return [v for v in values if v is not None]


@event.listens_for(Session, "after_flush")
def _invalidate_after_flush(session: Session, flush_context: Any) -> None:
    # In after_flush the new/dirty/deleted collections and attribute histories still
    # show what this flush wrote.
    months: dict[int, set[date]] = defaultdict(set)
    whole: set[int] = set()
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, Appointment):
            if obj in session.dirty and not session.is_modified(obj):
                continue
            organizations, days = _loaded(obj, "organization_id"), _loaded(obj, "local_date")
            if not organizations:
                raise RuntimeError("an appointment was written without its organization loaded")
            if days:
                months[organizations[0]].update(days)
            else:
                whole.add(organizations[0])
        elif isinstance(obj, Patient | Clinic) and obj in session.dirty:
            changed = "birth_date" if isinstance(obj, Patient) else "timezone"
            if inspect(obj).attrs[changed].history.has_changes():
                whole.update(_loaded(obj, "organization_id"))
    if not months and not whole:
        return
    connection = session.connection()
    for organization_id in sorted(whole):
        invalidate_organization(connection, organization_id)
    for organization_id, days in months.items():
        if organization_id not in whole:
            invalidate_days(connection, organization_id, days)
