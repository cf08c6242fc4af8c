"""Stored statistics of closed months, so that a year of a whole organization is not
counted again from its appointments on every look.

The statistics statement (``data/stats_queries.py``) groups an organization's appointments
three ways. Over a calendar month that has ended in every one of the organization's
clinics (a *closed* month), its grouped rows are stored once in ``stats_summary_rows``
(about a tenth of the month's appointments for a large organization) and marked built in
``stats_summary_months``. A statistics query over a period then reads the stored rows of
its closed whole months and counts only the days around them from the appointments.
Only the organization-wide view without a type filter uses them: any narrower filter
reads few enough appointments to count them directly.

Stored rows are right only while nothing of their month changes, so every writer of
appointments invalidates the months it touches in its own transaction (deletes the mark
and the rows; the next query builds them again):

- ORM writes: the ``after_flush`` hook below, for inserted, updated and deleted
  appointments (old and new local date), a patient's birth date (age groups) and a
  clinic's time zone (local dates), the last two for the whole organization;
- Core and bulk writers call ``invalidate_months`` / ``invalidate_organization``
  themselves (reminders' ``reminder_sent``, the history import).

A build must not store rows counted from a snapshot that misses a concurrent write. On
PostgreSQL, writers take a shared advisory lock per (organization, month) and
organization-wide invalidation an exclusive one on (organization, 0); a build tries the
opposite modes without waiting and gives up when a writer is in flight (the query then
counts that month directly). Either the writer's change is in the build's snapshot, or the
writer's invalidation runs after the build committed and removes its rows. On SQLite the
build holds the database write lock (BEGIN IMMEDIATE), which serializes it with writers.
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


# --------------------------------------------------------------------------- months


def month_of(day: date) -> date:
    return day.replace(day=1)


def next_month(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1)


def _lock_key(month: date) -> int:
    return month.year * 12 + month.month - 1  # never 0 (_WHOLE_ORGANIZATION)


def closed_months(start: date, end: date, zones: Iterable[str], now: datetime) -> list[date]:
    """First days of the calendar months lying wholly in [start, end] whose last day has
    ended, by ``now``, in every one of ``zones``."""
    zones = list(zones)
    if not zones:
        return []
    month = month_of(start) if start.day == 1 else next_month(start)
    found = []
    while next_month(month) - timedelta(days=1) <= end:
        after = next_month(month)
        if all(local_midnight(after, zone) <= now for zone in zones):
            found.append(month)
        month = after
    return found


def uncovered_ranges(start: date, end: date, covered: Iterable[date]) -> list[tuple[date, date]]:
    """[start, end] minus the given whole months, as inclusive runs of days in order."""
    runs: list[tuple[date, date]] = []
    cursor = start
    for month in sorted(covered):
        if month > cursor:
            runs.append((cursor, month - timedelta(days=1)))
        cursor = max(cursor, next_month(month))
    if cursor <= end:
        runs.append((cursor, end))
    return runs


# --------------------------------------------------------------------------- reading


def built_months(
    connection: Connection, organization_id: int, months: Sequence[date]
) -> list[date]:
    """Which of ``months`` have stored rows (in the connection's snapshot)."""
    if not months:
        return []
    found = connection.execute(
        text(
            "SELECT month FROM stats_summary_months WHERE organization_id = :o "
            "AND month >= :first AND month <= :last"
        ),
        {"o": organization_id, "first": min(months), "last": max(months)},
    ).scalars()
    wanted = set(months)
    return sorted(m for m in (_as_date(v) for v in found) if m in wanted)


def stored_rows_sql(organization_id: int, months: Sequence[date]) -> str:
    """The stored rows of ``months`` summed over the months, in ``AGGREGATE_COLUMNS`` order
    (``past`` is 1: the months are over). Literal values, so the benchmark can run the
    same text on a raw connection."""
    keys = ", ".join(_KEYS)
    listed = ", ".join(f"'{m.isoformat()}'" for m in months)
    selected = ", ".join("1" if c == "past" else c for c in AGGREGATE_COLUMNS[:-2])
    return (
        f"SELECT {selected}, sum(n) AS n, sum(minutes) AS minutes FROM stats_summary_rows "
        f"WHERE organization_id = {int(organization_id)} AND month IN ({listed}) "
        f"GROUP BY {keys}"
    )


def stored_rows(
    connection: Connection, organization_id: int, months: Sequence[date]
) -> list[tuple[Any, ...]]:
    if not months:
        return []
    result = connection.exec_driver_sql(stored_rows_sql(organization_id, months))
    try:
        return list(result.cursor.fetchall()) if result.cursor is not None else []
    finally:
        result.close()


# --------------------------------------------------------------------------- building


def ensure_built(db: Database, organization_id: int, start: date, end: date, now: datetime) -> int:
    """Build the stored rows of every closed whole month of [start, end] that has none;
    returns how many were built. A month a concurrent writer is changing is skipped (it
    is counted from the appointments this time)."""
    with db.read() as session:
        connection = session.connection()
        zones = _zones(connection, organization_id)
        months = closed_months(start, end, zones.values(), now)
        missing = sorted(set(months) - set(built_months(connection, organization_id, months)))
    built = 0
    for month in missing:
        try:
            built += _build(db, organization_id, month, zones, now)
        except OperationalError as error:  # a busy database: count directly this time
            log.warning("statistics summary of %s not built: %s", month, error)
    if built and db.dialect == "postgresql":
        # Without fresh statistics the planner takes the new rows for a handful and
        # sorts them on disk instead of hashing them.
        with db.engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                "ANALYZE stats_summary_rows"
            )
    return built


def _build(
    db: Database, organization_id: int, month: date, zones: dict[int, str], now: datetime
) -> bool:
    with db.transaction(write_lock=True) as session:
        connection = session.connection()
        if connection.dialect.name == "postgresql":
            free = connection.execute(
                text(
                    "SELECT pg_try_advisory_xact_lock_shared(:o, :whole) "
                    "AND pg_try_advisory_xact_lock(:o, :k)"
                ),
                {"o": organization_id, "whole": _WHOLE_ORGANIZATION, "k": _lock_key(month)},
            ).scalar_one()
            if not free:
                return False
        if built_months(connection, organization_id, [month]):
            return False  # built meanwhile by another query
        last = next_month(month) - timedelta(days=1)
        scope = StatsScope(organization_id, month, last, now)
        statement = prepare_statement(session, scope, list(zones.items()))
        assert now >= statement.hi, "only a closed month has final counts"
        for sql in statement.prelude():
            connection.exec_driver_sql(sql)
        keys = ", ".join(STORED_COLUMNS)
        connection.exec_driver_sql(
            f"INSERT INTO stats_summary_rows (organization_id, month, {keys}) "
            f"SELECT {int(organization_id)}, {statement.d.date(month)}, {keys} "
            f"FROM ({statement.sql()}) s"
        )
        connection.execute(
            text(
                "INSERT INTO stats_summary_months (organization_id, month, built_at) "
                "VALUES (:o, :m, :at)"
            ),
            {"o": organization_id, "m": month, "at": datetime.now(UTC)},
        )
        return True


def _zones(connection: Connection, organization_id: int) -> dict[int, str]:
    found = connection.execute(
        text("SELECT id, timezone FROM clinics WHERE organization_id = :o"), {"o": organization_id}
    ).all()
    return {int(i): str(tz) for i, tz in found}


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


# --------------------------------------------------------------------------- invalidation


def invalidate_months(connection: Connection, organization_id: int, days: Iterable[date]) -> None:
    """Drop the stored rows of the months of ``days`` (in the caller's transaction): call
    from any writer of appointments that bypasses the ORM."""
    months = sorted({month_of(d) for d in days})
    if not months:
        return
    params = {"o": organization_id, **{f"m{i}": m for i, m in enumerate(months)}}
    if connection.dialect.name == "postgresql":
        locks = ", ".join(f"pg_advisory_xact_lock_shared(:o, {_lock_key(m)})" for m in months)
        connection.execute(text(f"SELECT {locks}"), params)
    listed = ", ".join(f":m{i}" for i in range(len(months)))
    dropped = connection.execute(
        text(
            f"DELETE FROM stats_summary_months WHERE organization_id = :o "
            f"AND month IN ({listed}) RETURNING month"
        ),
        params,
    ).all()
    if dropped:
        connection.execute(
            text(
                f"DELETE FROM stats_summary_rows WHERE organization_id = :o AND month IN ({listed})"
            ),
            params,
        )


def invalidate_organization(connection: Connection, organization_id: int) -> None:
    """Drop every stored month of the organization (bulk writes, time-zone changes)."""
    if connection.dialect.name == "postgresql":
        connection.execute(
            text("SELECT pg_advisory_xact_lock(:o, :whole)"),
            {"o": organization_id, "whole": _WHOLE_ORGANIZATION},
        )
    params = {"o": organization_id}
    connection.execute(text("DELETE FROM stats_summary_months WHERE organization_id = :o"), params)
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
            invalidate_months(connection, organization_id, days)
