"""Availability on the large organization, each beside its floor: the same schedules,
exceptions and appointments rows fetched by hand-written SQL on a raw psycopg connection.

"Cold" means the availability entries are invalidated before every timed call: the call
then reads exceptions and appointments from the database and recomputes. The
organization directory (buffer, notice, horizon, clinics, practitioners and schedule
blocks) stays cached, as it does in production until an administrator changes something,
and so does the memo of each block's slot grid per date (pure arithmetic, reused when a
day is recomputed after a booking); the floor still fetches the schedule rows too, since
the computation needs them. "Every cache cold" clears the directory and the grid memo as
well (the first request after such a change). "Warm" repeats the call on a
filled cache. The clock stands at the moment the bench organization was seeded, so the
days ahead are the fresh, partly booked future the app would show.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import text

from bench.harness import BenchEnv, Case, benchmark
from data.cache import InProcessCache
from domain.availability import (
    get_available_clinics,
    get_clinic_slots_range,
    get_directory,
    get_practitioner_slots,
    get_practitioner_slots_range,
    invalidate_organization,
    invalidate_practitioner,
)
from domain.booking_rules import MAX_APPOINTMENT_MINUTES
from domain.clock import fixed_clock
from domain.context import AppContext
from domain.slots import grid_cells, utc_window

_SCHEDULES = """
SELECT s.id, s.practitioner_id, s.clinic_id, s.weekday, s.start_time, s.end_time,
       s.slot_minutes, s.capacity, s.appointment_type_id, s.valid_from, s.valid_to,
       a.active_from, a.active_to
FROM schedules s
JOIN clinics c ON c.id = s.clinic_id
JOIN practitioners p ON p.id = s.practitioner_id
JOIN clinic_assignments a ON a.practitioner_id = s.practitioner_id AND a.clinic_id = s.clinic_id
WHERE c.organization_id = %(org)s AND p.organization_id = %(org)s AND c.active AND p.active
  AND s.weekday = ANY(%(weekdays)s)
  AND s.valid_from <= %(last_day)s AND (s.valid_to IS NULL OR s.valid_to >= %(first_day)s)
  AND a.active_from <= %(last_day)s AND (a.active_to IS NULL OR a.active_to >= %(first_day)s)
"""
_EXCEPTIONS = """
SELECT id, practitioner_id, clinic_id,
       CAST(FLOOR(EXTRACT(EPOCH FROM start_at)) AS BIGINT),
       CAST(FLOOR(EXTRACT(EPOCH FROM end_at)) AS BIGINT), reason, note
FROM schedule_exceptions
WHERE organization_id = %(org)s AND start_at < %(hi)s AND end_at > %(lo)s
"""
_APPOINTMENTS = """
SELECT id, practitioner_id, clinic_id,
       CAST(FLOOR(EXTRACT(EPOCH FROM start_at)) AS BIGINT),
       CAST(FLOOR(EXTRACT(EPOCH FROM end_at)) AS BIGINT)
FROM appointments
WHERE organization_id = %(org)s
  AND status IN ('pending', 'booked', 'confirmed', 'arrived', 'in-progress', 'completed',
                 'no-show')
  AND start_at >= %(reach)s AND start_at < %(hi)s AND end_at > %(lo)s
"""


def _setup(env: BenchEnv) -> dict[str, Any]:
    if "availability" in env.facts:
        return env.facts["availability"]  # type: ignore[no-any-return]
    with env.db.read() as s:
        org = s.execute(
            text("SELECT id FROM organizations WHERE name = 'Metro Health System'")
        ).scalar_one()
        seeded = s.execute(text("SELECT value->>'seeded_at' FROM bench_meta")).scalar_one()
    now = datetime.fromisoformat(seeded).astimezone(UTC)
    ctx = AppContext(
        settings=env.ctx.settings,
        db=env.db,
        clock=fixed_clock(now),
        cache=InProcessCache(ttl_seconds=3600),
    )
    directory = get_directory(ctx, org)
    # A Tuesday ten days or so ahead: partly booked, inside notice and horizon.
    day = now.date() + timedelta(days=10)
    day += timedelta(days=(1 - day.weekday()) % 7)
    # The busiest clinic (most practitioners) and one practitioner working there that day.
    clinic = max(directory.roster, key=lambda c: len(directory.roster[c]))
    with env.db.read() as s:
        practitioner = s.execute(
            text(
                "SELECT practitioner_id FROM schedules WHERE clinic_id = :c AND weekday = :w "
                "AND capacity = 1 ORDER BY practitioner_id LIMIT 1"
            ),
            {"c": clinic, "w": day.weekday()},
        ).scalar_one()
    facts = {
        "ctx": ctx,
        "org": org,
        "day": day,
        "clinic": clinic,
        "practitioner": practitioner,
        "directory": directory,
    }
    env.facts["availability"] = facts
    return facts


def _floor(
    env: BenchEnv, facts: dict[str, Any], pids: list[int] | None, first: date, last: date
) -> Callable[[], Any]:
    """The three statements of the batched fetch, by hand on the raw connection."""
    directory = facts["directory"]
    buffer_s = directory.rules.buffer_minutes * 60
    lo, hi = utc_window(directory.zones.values(), first, last)
    lo, hi = lo - buffer_s, hi + buffer_s
    first_day = first - timedelta(days=1 if buffer_s else 0)
    last_day = last + timedelta(days=1 if buffer_s else 0)
    span = (last_day - first_day).days
    weekdays = (
        list(range(7))
        if span >= 6
        else sorted({(first_day.weekday() + k) % 7 for k in range(span + 1)})
    )
    params = {
        "org": facts["org"],
        "weekdays": weekdays,
        "first_day": first_day,
        "last_day": last_day,
        "lo": datetime.fromtimestamp(lo, UTC),
        "hi": datetime.fromtimestamp(hi, UTC),
        "reach": datetime.fromtimestamp(lo - MAX_APPOINTMENT_MINUTES * 60, UTC),
        "pids": pids,
    }
    scoped = " AND {col} = ANY(%(pids)s)" if pids is not None else ""
    schedules = _SCHEDULES + scoped.format(col="s.practitioner_id")
    exceptions = _EXCEPTIONS + (
        " AND (practitioner_id IS NULL OR practitioner_id = ANY(%(pids)s))" if pids else ""
    )
    appointments = _APPOINTMENTS + scoped.format(col="practitioner_id")

    def run() -> int:
        return (
            len(env.sql(schedules, params))
            + len(env.sql(exceptions, params))
            + len(env.sql(appointments, params))
        )

    return run


@benchmark("availability: one practitioner-day, cache cold")
def practitioner_day_cold(env: BenchEnv) -> Case:
    f = _setup(env)
    ctx, org, pid, day = f["ctx"], f["org"], f["practitioner"], f["day"]
    assert get_practitioner_slots(ctx, org, pid, day), "the bench practitioner has no slots"
    return Case(
        operation=lambda: get_practitioner_slots(ctx, org, pid, day),
        floor=_floor(env, f, [pid], day, day),
        before_each=lambda: invalidate_practitioner(ctx, org, pid),
        repeat=60,
        target_ms=5,
        max_ratio=3,
    )


@benchmark("availability: one practitioner-day, cache warm")
def practitioner_day_warm(env: BenchEnv) -> Case:
    f = _setup(env)
    ctx, org, pid, day = f["ctx"], f["org"], f["practitioner"], f["day"]
    get_practitioner_slots(ctx, org, pid, day)
    return Case(
        operation=lambda: get_practitioner_slots(ctx, org, pid, day),
        floor=_floor(env, f, [pid], day, day),
        repeat=60,
        note="floor: the uncached fetch",
    )


@benchmark("availability: one practitioner-day, every cache cold")
def practitioner_day_all_cold(env: BenchEnv) -> Case:
    f = _setup(env)
    ctx, org, pid, day = f["ctx"], f["org"], f["practitioner"], f["day"]
    return Case(
        operation=lambda: get_practitioner_slots(ctx, org, pid, day),
        floor=_floor(env, f, [pid], day, day),
        before_each=lambda: (invalidate_organization(ctx, org), grid_cells.cache_clear()),
        repeat=30,
        note="directory and slot grids rebuilt too",
    )


@benchmark("availability: 31-day practitioner range, cache cold")
def practitioner_range(env: BenchEnv) -> Case:
    f = _setup(env)
    ctx, org, pid, day = f["ctx"], f["org"], f["practitioner"], f["day"]
    last = day + timedelta(days=30)
    return Case(
        operation=lambda: get_practitioner_slots_range(ctx, org, pid, day, last),
        floor=_floor(env, f, [pid], day, last),
        before_each=lambda: invalidate_practitioner(ctx, org, pid),
        repeat=30,
        target_ms=25,
        max_ratio=3,
    )


@benchmark("availability: 14-day clinic range, cache cold")
def clinic_range(env: BenchEnv) -> Case:
    f = _setup(env)
    ctx, org, clinic, day = f["ctx"], f["org"], f["clinic"], f["day"]
    last = day + timedelta(days=13)
    pids = list(f["directory"].roster[clinic])

    def cold() -> None:
        for pid in pids:
            invalidate_practitioner(ctx, org, pid)

    return Case(
        operation=lambda: get_clinic_slots_range(ctx, org, clinic, day, last),
        floor=_floor(env, f, pids, day, last),
        before_each=cold,
        repeat=20,
        target_ms=60,
        max_ratio=3,
        note=f"{len(pids)} practitioners",
    )


@benchmark("availability: clinics available on one date, cache cold")
def available_clinics(env: BenchEnv) -> Case:
    f = _setup(env)
    ctx, org, day = f["ctx"], f["org"], f["day"]
    pids = f["directory"].active_practitioners()

    def cold() -> None:
        for pid in pids:
            invalidate_practitioner(ctx, org, pid)

    return Case(
        operation=lambda: get_available_clinics(ctx, org, day),
        floor=_floor(env, f, None, day, day),
        before_each=cold,
        repeat=20,
        target_ms=60,
        max_ratio=3,
        note=f"{len(f['directory'].zones)} clinics, {len(pids)} practitioners",
    )


@benchmark("availability: clinics available on one date, cache warm")
def available_clinics_warm(env: BenchEnv) -> Case:
    f = _setup(env)
    ctx, org, day = f["ctx"], f["org"], f["day"]
    get_available_clinics(ctx, org, day)
    return Case(
        operation=lambda: get_available_clinics(ctx, org, day),
        floor=_floor(env, f, None, day, day),
        repeat=20,
        note="floor: the uncached fetch",
    )
