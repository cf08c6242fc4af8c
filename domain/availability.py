"""Availability services: when can this patient be seen, and where?

Every entry point takes the organization id and only ever reads that organization's rows;
an id from another organization is "not found", exactly like one that does not exist.

    get_practitioner_slots(ctx, organization_id, practitioner_id, day, *, clinic_id=None,
                           appointment_type_id=None, duration_minutes=None) -> list[Slot]
    get_practitioner_slots_range(ctx, organization_id, practitioner_id, start_date,
                                 end_date, *, clinic_id=None, appointment_type_id=None,
                                 duration_minutes=None) -> dict[date, list[Slot]]
    get_available_clinics(ctx, organization_id, day, *, specialty=None)
        -> list[ClinicAvailability]
    get_available_clinics_range(ctx, organization_id, start_date, end_date, *,
                                specialty=None, appointment_type_id=None)
        -> dict[date, list[ClinicAvailability]]
    get_clinic_slots_range(ctx, organization_id, clinic_id, start_date, end_date, *,
                           specialty=None, appointment_type_id=None)
        -> dict[date, list[ClinicSlot]]

Dates are local dates: each clinic's own calendar day in its own time zone. Slots start
and end as aware UTC datetimes. The rule itself lives in ``domain.booking_rules``; this
module fetches (``data.availability_queries``, one batched fetch per call whatever the
number of days), caches and shapes the results.

Caching (``ctx.cache``; in-process, or Redis when ``REDIS_URL`` is set):

- the organization's directory (buffer, notice, horizon, clinics and their zones,
  practitioners, appointment types, schedule blocks), per organization;
- the offers of one practitioner on one local date at each of their clinics, per
  (practitioner, date). One entry covers all their clinics because a booking at one
  clinic changes their availability at every other (nobody is in two places at once).

Entries do not depend on "now": past, minimum notice and horizon are applied when they
are read. The one exception is slot holds (``domain.holds``), which take a seat until
they expire: an entry computed while a hold was live records the earliest such expiry
and is a miss from that instant on (and its cache TTL is capped to it). Creating or
releasing a hold invalidates like a booking (``invalidate_appointment``).

Writers call the ``invalidate_*`` functions below AFTER their transaction
commits:

- booking, cancellation, reschedule, a status change that frees or takes time:
  ``invalidate_appointment`` (old and new times) or ``invalidate_availability``;
- a practitioner's leave: ``invalidate_practitioner``;
- settings (buffer, notice, horizon), clinics, practitioners, appointment types,
  schedule blocks, clinic assignments, clinic or organization closures:
  ``invalidate_organization``.

The booking service validates through ``check_booking_rules`` (the same rule, read fresh
inside its transaction).
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from operator import attrgetter, itemgetter
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session

from data.availability_queries import (
    CalendarRows,
    DirectoryRows,
    fetch_calendar,
    fetch_directory,
    fetch_schedules,
    has_live_hold,
)
from domain.booking_rules import (
    MAX_APPOINTMENT_MINUTES,
    BookingRequest,
    BookingWindow,
    Names,
    OrgRules,
    PractitionerDay,
    Violation,
    check_booking,
)
from domain.context import AppContext
from domain.slots import (
    Booking,
    ScheduleBlock,
    ScheduleException,
    local_date,
    new_booking,
    to_ts,
    utc_window,
)

MAX_RANGE_DAYS = 366

# --------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class Slot:
    """One bookable slot of a practitioner."""

    practitioner_id: int
    clinic_id: int
    start: datetime  # aware, UTC
    end: datetime
    capacity: int
    seats_left: int
    # When the schedule block only takes one appointment type (e.g. group therapy).
    appointment_type_id: int | None
    schedule_id: int

    @property
    def minutes(self) -> int:
        return int((self.end - self.start).total_seconds() // 60)


@dataclass(frozen=True, slots=True)
class ClinicSlot:
    """A time at a clinic with how many practitioners and seats are open then."""

    clinic_id: int
    start: datetime
    end: datetime
    providers: int
    seats: int
    practitioner_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class ClinicAvailability:
    """A clinic with at least one open slot on the day asked for."""

    clinic_id: int
    name: str
    timezone: str
    open_slots: int
    practitioners: int
    seats: int


class AvailabilityError(ValueError):
    """Bad input to an availability query: ``code`` is stable, ``message`` is for people.

    Codes: NOT_FOUND (an id that is not in this organization), INVALID_RANGE,
    INVALID_DURATION.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# --------------------------------------------------------------------------- directory


@dataclass(frozen=True)
class Directory:
    """An organization's configuration (cached per organization): booking settings,
    clinics, appointment types, practitioners and their schedule blocks."""

    organization_id: int
    timezone: str
    rules: OrgRules
    clinics: dict[int, tuple[str, str, bool]]  # id -> (name, timezone, active)
    appointment_types: dict[int, tuple[str, int, bool, bool]]  # (name, minutes, group, active)
    practitioners: dict[int, tuple[str, str, bool]]  # id -> (name, specialty, active)
    # Blocks of active practitioners at active clinics, validity narrowed to assignments.
    blocks: dict[int, list[ScheduleBlock]]
    zones: dict[int, str] = field(init=False)  # active clinics only
    roster: dict[int, tuple[int, ...]] = field(init=False)  # clinic -> practitioners there
    # practitioner -> weekday -> blocks, so a day's computation only sees its own blocks.
    by_weekday: dict[int, dict[int, list[ScheduleBlock]]] = field(init=False)

    def __post_init__(self) -> None:
        zones = {cid: tz for cid, (_, tz, active) in self.clinics.items() if active}
        roster: dict[int, set[int]] = defaultdict(set)
        by_weekday: dict[int, dict[int, list[ScheduleBlock]]] = {}
        for pid, blocks in self.blocks.items():
            days = by_weekday[pid] = defaultdict(list)
            for block in blocks:
                roster[block.clinic_id].add(pid)
                days[block.weekday].append(block)
        object.__setattr__(self, "zones", zones)
        object.__setattr__(self, "roster", {c: tuple(sorted(p)) for c, p in roster.items()})
        object.__setattr__(self, "by_weekday", by_weekday)

    @property
    def names(self) -> Names:
        return Names(
            practitioners={pid: p[0] for pid, p in self.practitioners.items()},
            clinics={cid: c[0] for cid, c in self.clinics.items()},
            appointment_types={tid: t[0] for tid, t in self.appointment_types.items()},
        )

    def active_practitioners(self, specialty: str | None = None) -> list[int]:
        return [
            pid
            for pid, (_, spec, active) in self.practitioners.items()
            if active and (specialty is None or spec == specialty)
        ]

    @classmethod
    def from_rows(cls, organization_id: int, rows: DirectoryRows) -> Directory:
        if rows.organization is None:
            raise AvailabilityError("NOT_FOUND", f"Organization #{organization_id} not found.")
        tz, buffer, notice, horizon = rows.organization
        return cls(
            organization_id=organization_id,
            timezone=tz,
            rules=OrgRules(int(buffer), int(notice), int(horizon)),
            clinics={int(i): (n, z, bool(a)) for i, n, z, a in rows.clinics},
            appointment_types={
                int(i): (n, int(m), bool(g), bool(a)) for i, n, m, g, a in rows.appointment_types
            },
            practitioners={int(i): (n, sp, bool(a)) for i, n, sp, a in rows.practitioners},
            blocks=blocks_from_rows(rows.schedules),
        )

    def to_payload(self) -> list[Any]:
        """A JSON-shaped copy for a shared cache (``from_payload`` reads it back)."""
        r = self.rules
        return [
            self.timezone,
            r.buffer_minutes,
            r.min_notice_minutes,
            r.booking_horizon_days,
            [[i, *c] for i, c in self.clinics.items()],
            [[i, *t] for i, t in self.appointment_types.items()],
            [[i, *p] for i, p in self.practitioners.items()],
            [
                [
                    *b[:4],
                    b.start_time.isoformat(),
                    b.end_time.isoformat(),
                    *b[6:9],
                    _iso(b.valid_from),
                    _iso(b.valid_to),
                ]
                for blocks in self.blocks.values()
                for b in blocks
            ],
        ]

    @classmethod
    def from_payload(cls, organization_id: int, payload: Sequence[Any]) -> Directory:
        tz, buffer, notice, horizon, clinics, types, practitioners, blocks = payload
        by_practitioner: dict[int, list[ScheduleBlock]] = defaultdict(list)
        for sid, pid, cid, wd, start, end, minutes, cap, tid, first, last in blocks:
            by_practitioner[pid].append(
                ScheduleBlock(
                    sid,
                    pid,
                    cid,
                    wd,
                    time.fromisoformat(start),
                    time.fromisoformat(end),
                    minutes,
                    cap,
                    tid,
                    None if first is None else date.fromisoformat(first),
                    None if last is None else date.fromisoformat(last),
                )
            )
        return cls(
            organization_id=organization_id,
            timezone=tz,
            rules=OrgRules(buffer, notice, horizon),
            clinics={c[0]: (c[1], c[2], c[3]) for c in clinics},
            appointment_types={t[0]: (t[1], t[2], t[3], t[4]) for t in types},
            practitioners={p[0]: (p[1], p[2], p[3]) for p in practitioners},
            blocks=dict(by_practitioner),
        )


def _iso(d: date | None) -> str | None:
    return None if d is None else d.isoformat()


# --------------------------------------------------------------------------- cache keys


def _org_version_key(org: int) -> str:
    return f"v:o:{org}"


def _practitioner_version_key(org: int, pid: int) -> str:
    return f"v:p:{org}:{pid}"


def _day_version_key(org: int, pid: int, day: date | str) -> str:
    """``day`` as a date or as its ISO form (an organization-wide read builds thousands
    of these keys from a few days)."""
    return f"v:d:{org}:{pid}:{day}"


def _directory_key(org: int) -> str:
    return f"dir:{org}"


def _entry_key(org: int, pid: int, day: date | str) -> str:
    return f"av:{org}:{pid}:{day}"


def _version(value: Any) -> int:
    return int(value) if value is not None else 0


def get_directory(ctx: AppContext, organization_id: int) -> Directory:
    """The organization's directory, from the process memo, the cache or the database."""
    cache = ctx.cache
    org_version = _version(cache.get_many([_org_version_key(organization_id)])[0])
    return _directory(ctx, organization_id, org_version)


def _directory(ctx: AppContext, organization_id: int, org_version: int) -> Directory:
    cache = ctx.cache
    memo_key = _directory_key(organization_id)
    memo = cache.memo.get(memo_key)
    if memo is not None and memo[0] == org_version:
        return memo[1]
    # Other processes may have loaded it already (a shared cache); this process's memo
    # is enough for an in-process cache.
    cached = cache.get_many([memo_key])[0] if cache.shared else None
    if cached is not None and cached[0] == org_version:
        directory = Directory.from_payload(organization_id, cached[1])
    else:
        with ctx.db.quick_read() as conn:
            rows = fetch_directory(conn, organization_id)
        directory = Directory.from_rows(organization_id, rows)
        if cache.shared:
            cache.set_many({memo_key: [org_version, directory.to_payload()]})
    cache.memo[memo_key] = (org_version, directory)
    return directory


# --------------------------------------------------------------------------- invalidation


def invalidate_availability(
    ctx: AppContext, organization_id: int, practitioner_id: int, dates: Iterable[date]
) -> None:
    """A practitioner's appointments changed on these local dates (booking, cancellation,
    reschedule, status change that frees or takes time). Call after the commit, with the
    dates of the old and the new time for a reschedule."""
    keys = [_day_version_key(organization_id, practitioner_id, d) for d in set(dates)]
    ctx.cache.bump(keys)


def invalidate_appointment(
    ctx: AppContext,
    organization_id: int,
    practitioner_id: int,
    start: datetime,
    end: datetime,
) -> None:
    """``invalidate_availability`` for an appointment's time: every local date its time,
    widened by the largest buffer an organization may set (4 hours), can touch in any
    time zone (UTC-12 to UTC+14, hence a day more each side)."""
    reach = timedelta(days=1, hours=4)
    first = (start.astimezone(UTC) - reach).date()
    last = (end.astimezone(UTC) + reach).date()
    days = [first + timedelta(days=k) for k in range((last - first).days + 1)]
    invalidate_availability(ctx, organization_id, practitioner_id, days)


def invalidate_practitioner(ctx: AppContext, organization_id: int, practitioner_id: int) -> None:
    """Every date of one practitioner: their leave changed. (A schedule change can change
    who works at which clinic: use ``invalidate_organization`` for those.)"""
    ctx.cache.bump([_practitioner_version_key(organization_id, practitioner_id)])


def invalidate_organization(ctx: AppContext, organization_id: int) -> None:
    """Everything of the organization: buffer, notice or horizon changed, or a clinic,
    practitioner, appointment type, schedule block, assignment or clinic-wide exception."""
    ctx.cache.bump([_org_version_key(organization_id)])
    ctx.cache.memo.pop(_directory_key(organization_id), None)


# --------------------------------------------------------------------------- computing

# One cached entry: ((clinic_id, ((start_ts, end_ts, capacity, seats, type_id, sched_id),
# ...)), ...); lists instead of tuples when it comes back from Redis as JSON.
Entry = Sequence[Any]


def blocks_from_rows(rows: Sequence[Sequence[Any]]) -> dict[int, list[ScheduleBlock]]:
    """Schedule rows (with their assignment periods) as blocks per practitioner, each
    block's validity narrowed to the period it is assigned in."""
    out: dict[int, list[ScheduleBlock]] = defaultdict(list)
    for (
        sid,
        pid,
        cid,
        weekday,
        start_time,
        end_time,
        minutes,
        capacity,
        type_id,
        valid_from,
        valid_to,
        active_from,
        active_to,
    ) in rows:
        # The block counts only while the practitioner is assigned to the clinic.
        first = max(valid_from, active_from)
        ends = [d for d in (valid_to, active_to) if d is not None]
        last = min(ends) if ends else None
        if last is not None and last < first:
            continue
        block = (sid, pid, cid, weekday, start_time, end_time, minutes, capacity, type_id)
        out[pid].append(ScheduleBlock(*block, first, last))
    return out


def _compute(
    ctx: AppContext,
    directory: Directory,
    practitioner_ids: Sequence[int],
    days: Sequence[date],
    whole_organization: bool,
    *,
    duration_minutes: int | None = None,
    appointment_type_id: int | None = None,
    ignore_holds_of_user: int | None = None,
    expiries: dict[int, int] | None = None,
) -> dict[tuple[int, date], Entry]:
    """Offers of each (practitioner, day) from ONE batched fetch covering every day (the
    schedule blocks come from the directory). Slot holds live now take their seats
    (except ``ignore_holds_of_user``'s); ``expiries`` receives each practitioner's
    earliest hold expiry, after which these offers are stale."""
    if not practitioner_ids or not days:
        return {}
    zones = directory.zones
    buffer_s = directory.rules.buffer_minutes * 60
    lo, hi = utc_window(zones.values(), min(days), max(days))
    with ctx.db.quick_read() as conn:
        rows = fetch_calendar(
            conn,
            directory.organization_id,
            None if whole_organization else practitioner_ids,
            lo - buffer_s,
            hi + buffer_s,
            MAX_APPOINTMENT_MINUTES * 60,
            now=ctx.clock(),
            ignore_holds_of_user=ignore_holds_of_user,
        )
    if expiries is not None:
        expiries.update(rows.hold_expiries())
    return offers_from_rows(
        rows,
        directory.blocks,
        practitioner_ids,
        days,
        zones,
        directory.rules,
        duration_minutes=duration_minutes,
        appointment_type_id=appointment_type_id,
        by_weekday=directory.by_weekday,
    )


def offers_from_rows(
    rows: CalendarRows,
    blocks: Mapping[int, Sequence[ScheduleBlock]],
    practitioner_ids: Sequence[int],
    days: Sequence[date],
    zones: Mapping[int, str],
    rules: OrgRules,
    *,
    duration_minutes: int | None = None,
    appointment_type_id: int | None = None,
    by_weekday: Mapping[int, Mapping[int, Sequence[ScheduleBlock]]] | None = None,
) -> dict[tuple[int, date], Entry]:
    """The pure half of ``_compute``: each (practitioner, day)'s offers per clinic, day by
    day, from the blocks and from calendar rows covering all the days. ``by_weekday``
    (``Directory.by_weekday``) is the blocks grouped by weekday, derived if not given."""
    if by_weekday is None:
        grouped: dict[int, dict[int, list[ScheduleBlock]]] = {}
        for pid in practitioner_ids:
            days_of = grouped[pid] = defaultdict(list)
            for block in blocks.get(pid, ()):
                days_of[block.weekday].append(block)
        by_weekday = grouped
    buffer_s = rules.buffer_minutes * 60
    reach_s = MAX_APPOINTMENT_MINUTES * 60
    exceptions = [ScheduleException(*r) for r in rows.exceptions]
    bookings: dict[int, list[Booking]] = defaultdict(list)
    for aid, pid, cid, s, e in rows.seat_takers():
        bookings[pid].append(new_booking((aid, pid, cid, s, e, "booked")))
    starts: dict[int, list[int]] = {}
    for pid, items in bookings.items():
        items.sort(key=_booking_order)
        starts[pid] = [b.start_ts for b in items]

    out: dict[tuple[int, date], Entry] = {}
    for day in days:
        day_lo, day_hi = utc_window(zones.values(), day, day)
        day_exceptions = [e for e in exceptions if e.start_ts < day_hi and e.end_ts > day_lo]
        weekday = day.weekday()
        for pid in practitioner_ids:
            own_blocks = blocks.get(pid)
            if not own_blocks or weekday not in by_weekday[pid]:
                out[(pid, day)] = ()
                continue
            if not buffer_s:
                # Other days' blocks only matter for telling group seats in the buffer
                # margin apart; without a buffer the day's own blocks suffice.
                own_blocks = by_weekday[pid][weekday]
            own = bookings.get(pid, [])
            if own:
                i = bisect_left(starts[pid], day_lo - buffer_s - reach_s)
                j = bisect_left(starts[pid], day_hi + buffer_s)
                own = own[i:j]
            plan = PractitionerDay(pid, day, own_blocks, zones, day_exceptions, own, rules)
            # Tuples all the way down (ints and None inside): the garbage collector stops
            # tracking them, so thousands of cached entries do not slow its full passes.
            out[(pid, day)] = tuple(
                (cid, tuple(plan.open_slots(cid, duration_minutes, appointment_type_id)))
                for cid in plan.clinics
            )
    return out


_booking_order = attrgetter("start_ts", "end_ts")


def _entries(
    ctx: AppContext,
    directory: Directory,
    org_version: int,
    practitioner_ids: Sequence[int],
    days: Sequence[date],
    whole_organization: bool = False,
) -> dict[tuple[int, date], Entry]:
    """Cached offers for every (practitioner, day); the misses computed in one fetch."""
    org = directory.organization_id
    cache = ctx.cache
    pairs = [(pid, d) for pid in practitioner_ids for d in days]
    keys = [_practitioner_version_key(org, pid) for pid in practitioner_ids]
    iso = [d.isoformat() for d in days]
    keys += [_day_version_key(org, pid, d) for pid in practitioner_ids for d in iso]
    keys += [_entry_key(org, pid, d) for pid in practitioner_ids for d in iso]
    values = cache.get_many(keys)
    n_p, n = len(practitioner_ids), len(pairs)
    p_versions = {pid: _version(v) for pid, v in zip(practitioner_ids, values[:n_p], strict=True)}
    out: dict[tuple[int, date], Entry] = {}
    missing: list[tuple[int, date]] = []
    tags: dict[tuple[int, date], tuple[int, int, int]] = {}
    now_ts = to_ts(ctx.clock())
    for k, pair in enumerate(pairs):
        tag = (org_version, p_versions[pair[0]], _version(values[n_p + k]))
        entry = values[n_p + n + k]
        # (JSON from Redis comes back as lists.) An entry computed while a slot hold was
        # live carries that hold's expiry: from then on it is a miss, so an expired hold
        # never keeps its seat in a cached result (judged by the service's clock).
        if (
            entry is not None
            and tuple(entry[:3]) == tag
            and (len(entry) < 5 or entry[4] is None or now_ts < entry[4])
        ):
            out[pair] = entry[3]
        else:
            missing.append(pair)
            tags[pair] = tag
    if missing:
        miss_pids = sorted({pid for pid, _ in missing})
        miss_days = sorted({d for _, d in missing})
        expiries: dict[int, int] = {}
        computed = _compute(
            ctx,
            directory,
            miss_pids,
            miss_days,
            whole_organization and len(miss_pids) == len(practitioner_ids),
            expiries=expiries,
        )
        fresh: dict[str, Any] = {}
        short: dict[int, dict[str, Any]] = defaultdict(dict)
        for pair in missing:
            entry = computed.get(pair, ())
            out[pair] = entry
            expires = expiries.get(pair[0])
            # Tagged with the versions read before the fetch: if a booking committed in
            # between, its invalidation already moved the versions on and this entry is
            # a miss for the next reader.
            value = (*tags[pair], entry, expires)
            if expires is None:
                fresh[_entry_key(org, *pair)] = value
            else:
                # Also cap its life in the cache itself: it is useless after the expiry.
                ttl = max(1, min(cache.ttl_seconds, expires - now_ts))
                short[ttl][_entry_key(org, *pair)] = value
        cache.set_many(fresh)
        for ttl, values_ in short.items():
            cache.set_many(values_, ttl_seconds=ttl)
    return out


# --------------------------------------------------------------------------- helpers


def _dates(start_date: date, end_date: date) -> list[date]:
    if end_date < start_date:
        raise AvailabilityError(
            "INVALID_RANGE", f"The end date {end_date} is before the start date {start_date}."
        )
    n = (end_date - start_date).days + 1
    if n > MAX_RANGE_DAYS:
        raise AvailabilityError(
            "INVALID_RANGE", f"Ask for at most {MAX_RANGE_DAYS} days at a time ({n} asked)."
        )
    return [start_date + timedelta(days=k) for k in range(n)]


def _bookable_days(directory: Directory, window: BookingWindow, days: list[date]) -> list[date]:
    """Leave out days wholly in the past or beyond the horizon in every clinic's zone:
    they can offer nothing, so they are neither computed nor cached."""
    zones = set(directory.zones.values()) or {directory.timezone}
    earliest = min(local_date(z, window.earliest_ts) for z in zones)
    latest = max(window.last_bookable_day(z) for z in zones)
    return [d for d in days if earliest <= d <= latest]


def _check_practitioner(directory: Directory, practitioner_id: int) -> bool:
    """Raise for an unknown practitioner; False for an inactive one (no slots)."""
    info = directory.practitioners.get(practitioner_id)
    if info is None:
        raise AvailabilityError("NOT_FOUND", f"Practitioner #{practitioner_id} not found.")
    return info[2]


def _check_clinic(directory: Directory, clinic_id: int | None) -> None:
    if clinic_id is not None and clinic_id not in directory.clinics:
        raise AvailabilityError("NOT_FOUND", f"Clinic #{clinic_id} not found.")


def _check_type(directory: Directory, appointment_type_id: int | None) -> None:
    if appointment_type_id is not None and appointment_type_id not in directory.appointment_types:
        raise AvailabilityError("NOT_FOUND", f"Appointment type #{appointment_type_id} not found.")


def _check_duration(duration_minutes: int | None) -> None:
    if duration_minutes is None:
        return
    if (
        not isinstance(duration_minutes, int)
        or isinstance(duration_minutes, bool)
        or not 1 <= duration_minutes <= MAX_APPOINTMENT_MINUTES
    ):
        raise AvailabilityError(
            "INVALID_DURATION",
            f"The duration must be a whole number of minutes from 1 to {MAX_APPOINTMENT_MINUTES}.",
        )


def _slots(
    pid: int,
    entry: Entry,
    directory: Directory,
    window: BookingWindow,
    clinic_id: int | None,
    appointment_type_id: int | None,
) -> list[Slot]:
    out: list[Slot] = []
    zones = directory.zones
    for cid, offers in entry:
        if clinic_id is not None and cid != clinic_id:
            continue
        tz_name = zones.get(cid)
        if tz_name is None:
            continue
        earliest, horizon_end = window.earliest_ts, window.horizon_end_ts(tz_name)
        for start, end, capacity, seats, type_id, sid in offers:
            if not earliest <= start < horizon_end:
                continue
            if appointment_type_id is not None and type_id not in (None, appointment_type_id):
                continue
            out.append(
                Slot(
                    pid,
                    cid,
                    datetime.fromtimestamp(start, UTC),
                    datetime.fromtimestamp(end, UTC),
                    capacity,
                    seats,
                    type_id,
                    sid,
                )
            )
    out.sort(key=lambda s: (s.start, s.clinic_id))
    return out


# --------------------------------------------------------------------------- services


def _holds_any(ctx: AppContext, organization_id: int, user_id: int, practitioner_id: int) -> bool:
    with ctx.db.quick_read() as conn:
        return has_live_hold(conn, organization_id, user_id, practitioner_id, ctx.clock())


def get_practitioner_slots(
    ctx: AppContext,
    organization_id: int,
    practitioner_id: int,
    day: date,
    *,
    clinic_id: int | None = None,
    appointment_type_id: int | None = None,
    duration_minutes: int | None = None,
    holder_user_id: int | None = None,
) -> list[Slot]:
    """The open slots of one practitioner on one local date, at one clinic or all of
    theirs, with the seats left in each (``holder_user_id``: as that staff member sees
    them, their own slot holds not counted).

    ``appointment_type_id`` keeps the slots whose block takes that type;
    ``duration_minutes`` offers the starts where an appointment that long fits (default:
    each slot's own length).
    """
    return get_practitioner_slots_range(
        ctx,
        organization_id,
        practitioner_id,
        day,
        day,
        clinic_id=clinic_id,
        appointment_type_id=appointment_type_id,
        duration_minutes=duration_minutes,
        holder_user_id=holder_user_id,
    )[day]


def get_practitioner_slots_range(
    ctx: AppContext,
    organization_id: int,
    practitioner_id: int,
    start_date: date,
    end_date: date,
    *,
    clinic_id: int | None = None,
    appointment_type_id: int | None = None,
    duration_minutes: int | None = None,
    holder_user_id: int | None = None,
) -> dict[date, list[Slot]]:
    """``get_practitioner_slots`` for every date from ``start_date`` to ``end_date``
    (inclusive; every date is a key), from one batched fetch. ``holder_user_id``: as that
    staff member sees it, whose own slot holds leave their seats open (for them)."""
    days = _dates(start_date, end_date)
    _check_duration(duration_minutes)
    org_version = _version(ctx.cache.get_many([_org_version_key(organization_id)])[0])
    directory = _directory(ctx, organization_id, org_version)
    active = _check_practitioner(directory, practitioner_id)
    _check_clinic(directory, clinic_id)
    _check_type(directory, appointment_type_id)
    result: dict[date, list[Slot]] = {d: [] for d in days}
    window = BookingWindow(ctx.clock(), directory.rules)
    wanted = _bookable_days(directory, window, days)
    if not active or not wanted:
        return result
    own_holds = holder_user_id is not None and _holds_any(
        ctx, organization_id, holder_user_id, practitioner_id
    )
    if duration_minutes is None and not own_holds:
        entries = _entries(ctx, directory, org_version, [practitioner_id], wanted)
    else:
        # A custom duration changes which starts fit, and the holder's view differs from
        # everybody else's: computed directly, not cached.
        entries = _compute(
            ctx,
            directory,
            [practitioner_id],
            wanted,
            False,
            duration_minutes=duration_minutes,
            appointment_type_id=appointment_type_id,
            ignore_holds_of_user=holder_user_id if own_holds else None,
        )
    for d in wanted:
        result[d] = _slots(
            practitioner_id,
            entries.get((practitioner_id, d), []),
            directory,
            window,
            clinic_id,
            appointment_type_id,
        )
    return result


def get_clinic_slots_range(
    ctx: AppContext,
    organization_id: int,
    clinic_id: int,
    start_date: date,
    end_date: date,
    *,
    specialty: str | None = None,
    appointment_type_id: int | None = None,
) -> dict[date, list[ClinicSlot]]:
    """Availability at one clinic across all its practitioners ("any provider"), per
    date and time: how many practitioners and seats are open. One batched fetch."""
    days = _dates(start_date, end_date)
    org_version = _version(ctx.cache.get_many([_org_version_key(organization_id)])[0])
    directory = _directory(ctx, organization_id, org_version)
    _check_clinic(directory, clinic_id)
    _check_type(directory, appointment_type_id)
    result: dict[date, list[ClinicSlot]] = {d: [] for d in days}
    window = BookingWindow(ctx.clock(), directory.rules)
    wanted = _bookable_days(directory, window, days)
    if clinic_id not in directory.zones or not wanted:
        return result
    active = set(directory.active_practitioners(specialty))
    pids = [p for p in directory.roster.get(clinic_id, ()) if p in active]
    entries = _entries(ctx, directory, org_version, pids, wanted)
    tz_name = directory.zones[clinic_id]
    earliest, horizon_end = window.earliest_ts, window.horizon_end_ts(tz_name)
    for d in wanted:
        # (start_ts, end_ts) -> (practitioner ids, seats); datetimes only for the result.
        per_time: dict[tuple[int, int], list[Any]] = {}  # -> [practitioner ids, seats]
        for pid in pids:
            for cid, offers in entries.get((pid, d), []):
                if cid != clinic_id:
                    continue
                for start, end, _, seats, type_id, _ in offers:
                    if start < earliest or start >= horizon_end:
                        continue
                    if appointment_type_id is not None and type_id not in (
                        None,
                        appointment_type_id,
                    ):
                        continue
                    item = per_time.get((start, end))
                    if item is None:
                        per_time[(start, end)] = [{pid}, seats]
                    else:
                        item[0].add(pid)
                        item[1] += seats
        result[d] = [
            ClinicSlot(
                clinic_id,
                datetime.fromtimestamp(start, UTC),
                datetime.fromtimestamp(end, UTC),
                len(who),
                seats,
                tuple(sorted(who)),
            )
            for (start, end), (who, seats) in sorted(per_time.items())
        ]
    return result


def get_available_clinics(
    ctx: AppContext, organization_id: int, day: date, *, specialty: str | None = None
) -> list[ClinicAvailability]:
    """The clinics with at least one open slot on ``day`` (their local date), with the
    number of open slots, of practitioners offering them, and of seats; by name."""
    return get_available_clinics_range(ctx, organization_id, day, day, specialty=specialty)[day]


def get_available_clinics_range(
    ctx: AppContext,
    organization_id: int,
    start_date: date,
    end_date: date,
    *,
    specialty: str | None = None,
    appointment_type_id: int | None = None,
) -> dict[date, list[ClinicAvailability]]:
    """``get_available_clinics`` for every date from ``start_date`` to ``end_date``
    (inclusive; every date is a key), from one batched fetch: the organization-wide
    overview of where there is room. ``appointment_type_id`` keeps the slots whose block
    takes that type."""
    days = _dates(start_date, end_date)
    org_version = _version(ctx.cache.get_many([_org_version_key(organization_id)])[0])
    directory = _directory(ctx, organization_id, org_version)
    _check_type(directory, appointment_type_id)
    result: dict[date, list[ClinicAvailability]] = {d: [] for d in days}
    window = BookingWindow(ctx.clock(), directory.rules)
    wanted = _bookable_days(directory, window, days)
    if not wanted:
        return result
    pids = directory.active_practitioners(specialty)
    entries = _entries(
        ctx, directory, org_version, pids, wanted, whole_organization=specialty is None
    )
    bounds = {
        cid: (window.earliest_ts, window.horizon_end_ts(tz)) for cid, tz in directory.zones.items()
    }
    for day in wanted:
        counts: dict[int, list[Any]] = {}
        for pid in pids:
            for cid, offers in entries.get((pid, day), []):
                limits = bounds.get(cid)
                if limits is None or not offers:
                    continue
                earliest, horizon_end = limits
                # Most days lie wholly inside the bookable window and most requests name
                # no type: then every offer counts, and C-level builtins count them (this
                # loop runs for every practitioner-day of the organization).
                if (
                    appointment_type_id is None
                    and earliest <= min(map(_START, offers))
                    and max(map(_START, offers)) < horizon_end
                ):
                    n, seats = len(offers), sum(map(_SEATS, offers))
                else:
                    open_here = [
                        o
                        for o in offers
                        if earliest <= o[0] < horizon_end
                        and (appointment_type_id is None or o[4] in (None, appointment_type_id))
                    ]
                    if not open_here:
                        continue
                    n, seats = len(open_here), sum(o[3] for o in open_here)
                c = counts.setdefault(cid, [0, set(), 0])
                c[0] += n
                c[1].add(pid)
                c[2] += seats
        out = [
            ClinicAvailability(
                cid, directory.clinics[cid][0], directory.zones[cid], n, len(who), seats
            )
            for cid, (n, who, seats) in counts.items()
        ]
        out.sort(key=lambda c: (c.name, c.clinic_id))
        result[day] = out
    return result


# An offer's start and open seats (see ``PractitionerDay.open_slots``).
_START, _SEATS = itemgetter(0), itemgetter(3)


def slots_frame(slots: Iterable[Slot | ClinicSlot]) -> pd.DataFrame:
    """Slots as a DataFrame (one row each) for tables and charts."""
    rows = [{f: getattr(s, f) for f in s.__dataclass_fields__} for s in slots]
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- booking


def practitioner_day_for(
    ctx: AppContext,
    session: Session,
    organization_id: int,
    request: BookingRequest,
    *,
    now: datetime | None = None,
    ignore_holds_of_user: int | None = None,
    ignore_hold_id: int | None = None,
) -> PractitionerDay:
    """The rule's input for a request, read fresh through the caller's session (inside
    the booking transaction, after its lock): see ``practitioner_day``; the day is the
    request's local date at its clinic."""
    directory = get_directory(ctx, organization_id)
    tz_name = directory.zones.get(request.clinic_id, directory.timezone)
    day = local_date(tz_name, to_ts(request.start))
    return practitioner_day(
        ctx,
        session,
        directory,
        request.practitioner_id,
        day,
        now=now,
        ignore_holds_of_user=ignore_holds_of_user,
        ignore_hold_id=ignore_hold_id,
        exclude_appointment_id=request.exclude_appointment_id,
    )


def practitioner_day(
    ctx: AppContext,
    session: Session,
    directory: Directory,
    practitioner_id: int,
    day: date,
    *,
    now: datetime | None = None,
    ignore_holds_of_user: int | None = None,
    ignore_hold_id: int | None = None,
    exclude_appointment_id: int | None = None,
) -> PractitionerDay:
    """One practitioner's local date read fresh through the caller's session: schedule
    blocks, exceptions, appointments and the slot holds live at ``now`` (default: the
    context's clock), except the booker's own (``ignore_holds_of_user``,
    ``ignore_hold_id``: a hold is consumed by its holder's booking, never competes with
    it); the organization's settings, zones and names from ``directory``."""
    rules = directory.rules
    buffer_s = rules.buffer_minutes * 60
    lo, hi = utc_window(directory.zones.values(), day, day)
    conn = session.connection()
    pid = practitioner_id
    # A day more each side: an appointment in the buffer margin may sit in a
    # neighbouring day's group session (which exempts it from the buffer).
    schedules = fetch_schedules(
        conn, directory.organization_id, [pid], day - timedelta(days=1), day + timedelta(days=1)
    )
    rows = fetch_calendar(
        conn,
        directory.organization_id,
        [pid],
        lo - buffer_s,
        hi + buffer_s,
        MAX_APPOINTMENT_MINUTES * 60,
        now=ctx.clock() if now is None else now,
        ignore_holds_of_user=ignore_holds_of_user,
        ignore_hold_id=ignore_hold_id,
    )
    return PractitionerDay(
        pid,
        day,
        blocks_from_rows(schedules).get(pid, []),
        directory.zones,
        [ScheduleException(*r) for r in rows.exceptions],
        [Booking(*r) for r in rows.seat_takers()],
        rules,
        exclude_appointment_id=exclude_appointment_id,
        names=directory.names,
    )


def check_booking_rules(
    ctx: AppContext, session: Session, organization_id: int, request: BookingRequest
) -> Violation | None:
    """The booking half of the one rule: None when ``request`` may be booked now
    (``ctx.clock()``), else the ``Violation`` (code, receptionist's sentence, details).

    Checks duration, past, minimum notice, horizon, schedule hours, block type,
    exceptions, seats (conflicts) and buffer, exactly as availability does. Identity and
    membership checks (patient, practitioner, clinic assignment, type exists) are the
    caller's. Run it inside the booking transaction, after taking the booking lock.
    """
    day = practitioner_day_for(ctx, session, organization_id, request)
    return check_booking(day, request, ctx.clock())
