"""Appointment statistics for managers: volume, no-shows, cancellations, busiest times,
booking lead time, reminders, patient ages and utilization.

``get_appointment_stats`` counts in the database (one grouped statement, see
``data/stats_queries.py``) and shapes the few thousand grouped rows here with pandas.

How the numbers are defined (also in the README, "How the numbers are defined"):

- **Period**: the appointments whose start falls on a date from ``start`` to ``end``
  (both inclusive) in the local time of the appointment's clinic.
- **Appointments** (``total``): every appointment of the period, whatever its status.
- **Due**: the appointments whose outcome is (or should by now be) known: completed,
  no-show, arrived and in-progress ones, plus pending/booked/confirmed ones whose start has
  passed (``unresolved_past``: due but not yet marked). Cancelled ones are never due.
- **No-show rate** = no-shows / due. **Completion rate** = completed / due.
- **Cancellation rate** = cancelled / appointments (all statuses).
- **Average per day** = appointments / calendar days of the period (weekends and holidays
  included), so that periods of any shape compare.
- **Busiest times**: appointments that hold time (not cancelled) by clinic-local weekday
  and hour of their start. Date-only rows (imported history without a time of day) are
  left out of hour tables but counted everywhere else.
- **Booking lead time** = the clinic-local date of the start minus the clinic-local date
  of ``booked_at``, in days: same day (0), 1-7, 8-30, 31+, and "booked after the day"
  (negative, which real imported history contains).
- **Age group**: completed years on the clinic-local date of the visit; "unknown" when the
  birth date is missing or later than the visit.
- **Utilization** = booked minutes / capacity minutes. Booked minutes are the durations
  of appointments that hold time (every status but cancelled; a no-show held its slot).
  Capacity minutes are the schedule blocks of the period, minus schedule exceptions,
  times the block's seats. It can exceed 100% (appointments outside the schedule).
- A **rate over a zero denominator is 0.0**; the denominator is always beside the rate
  (``due``, ``appointments``, ``capacity_minutes``) so a page can show "-" instead.

Every table is a DataFrame with plain columns (documented on ``AppointmentStats``); rates
are fractions from 0 to 1.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from data.stats_queries import (
    AGE_UNKNOWN,
    CATEGORIES,
    COHORTS,
    EPOCH_DATE,
    LEAD_1_7,
    LEAD_8_30,
    LEAD_31_PLUS,
    LEAD_AFTER,
    LEAD_SAME_DAY,
    PAIRS,
    TIMES,
    TYPES,
    WEEKS,
    GroupedRows,
    StatsScope,
    begin_snapshot,
    day_number,
    exceptions_query,
    prepare_statement,
    reference_query,
    rows,
    run_aggregate,
    schedules_query,
    split_sets,
    table,
)
from data.stats_summaries import ensure_built, stored_parts, stored_rows, uncovered_ranges
from data.vocabulary import APPOINTMENT_STATUSES, CANCELLATION_CATEGORIES
from domain.actor import Actor
from domain.capacity import capacity_by_week, empty_capacity
from domain.context import AppContext
from domain.organizations import get_organization
from domain.permissions import Permission, PermissionDenied, require

# Statuses that say the visit happened or was missed; open ones become due once past.
ATTENDED_OR_MISSED: tuple[str, ...] = ("completed", "no-show", "arrived", "in-progress")
OPEN_STATUSES: tuple[str, ...] = ("pending", "booked", "confirmed")

LEAD_TIME_BUCKETS: tuple[str, ...] = (
    "same day",
    "1-7 days",
    "8-30 days",
    "31+ days",
    "booked after the day",
)
BOOKED_AHEAD: tuple[str, ...] = ("1-7 days", "8-30 days", "31+ days")
_LEAD_LABEL = {
    LEAD_SAME_DAY: "same day",
    LEAD_1_7: "1-7 days",
    LEAD_8_30: "8-30 days",
    LEAD_31_PLUS: "31+ days",
    LEAD_AFTER: "booked after the day",
}
AGE_GROUPS: tuple[str, ...] = ("0-12", "13-17", "18-39", "40-64", "65+", "unknown")
_AGE_LABEL = {i: label for i, label in enumerate(AGE_GROUPS[:-1])} | {AGE_UNKNOWN: "unknown"}
NOT_RECORDED = "not recorded"
WEEKDAYS: tuple[str, ...] = (
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
)
OUTCOME_COLUMNS: tuple[str, ...] = (
    "appointments",
    "cancelled",
    "due",
    "completed",
    "no_shows",
    "no_show_rate",
    "completion_rate",
    "cancellation_rate",
)
_COUNTS = OUTCOME_COLUMNS[:5]


def rate(numerator: float, denominator: float) -> float:
    """numerator / denominator, or 0.0 when there is nothing to divide by."""
    return float(numerator) / float(denominator) if denominator else 0.0


@dataclass(frozen=True)
class Outcomes:
    """Counts of a group of appointments and the rates formed from them."""

    appointments: int = 0
    cancelled: int = 0
    due: int = 0
    completed: int = 0
    no_shows: int = 0

    @property
    def no_show_rate(self) -> float:
        return rate(self.no_shows, self.due)

    @property
    def completion_rate(self) -> float:
        return rate(self.completed, self.due)

    @property
    def cancellation_rate(self) -> float:
        return rate(self.cancelled, self.appointments)

    @classmethod
    def of(cls, table: pd.DataFrame) -> Outcomes:
        """Sum of the count columns of some rows of an outcome table."""
        return cls(**{c: int(table[c].sum()) for c in _COUNTS})


@dataclass(frozen=True)
class AppointmentStats:
    """Statistics of one organization's appointments over a period.

    Figures: ``days`` (calendar days of the period), ``overall`` (Outcomes of every
    appointment), ``by_status`` (all eight statuses, zeros included), ``unresolved_past``
    (due but still pending/booked/confirmed), ``date_only_appointments`` (no time of day),
    ``booked_minutes`` and ``capacity_minutes``; properties ``total``, ``average_per_day``,
    ``no_show_rate``, ``completion_rate``, ``cancellation_rate``, ``utilization``,
    ``booked_ahead`` (lead >= 1 day) and ``lead_time(buckets)``. ``as_of`` is the instant
    that decided which appointments were past.

    Tables (DataFrames; ``<outcomes>`` stands for the columns appointments, cancelled, due,
    completed, no_shows (ints) and no_show_rate, completion_rate, cancellation_rate
    (floats 0-1); utilization columns are booked_minutes, capacity_minutes (ints) and
    utilization (float, booked / capacity)):

    - ``by_type``: appointment_type_id, code, name, <outcomes>, booked_minutes, share
      (of all appointments). Every type of the organization (only the filtered one when
      filtered), zeros included.
    - ``cancellations``: category (the four cancellation categories, then "not recorded"),
      cancelled, share (of all cancellations). Always five rows.
    - ``busiest_times``: index weekday 0-6 (Monday = 0), columns hours 0-23; appointments
      holding time with a known time of day, by clinic-local start. Always 7 x 24.
    - ``no_show_times`` and ``due_times``: like ``busiest_times`` (7 x 24, clinic-local,
      date-only rows left out), counting no-shows and due appointments; the no-show rate
      of each weekday and hour is ``no_show_rate_times()``.
    - ``by_weekday``: weekday (0-6), weekday_name, <outcomes>; date-only rows included.
      Always seven rows.
    - ``by_practitioner``: practitioner_id, name, is_placeholder, <outcomes>, utilization
      columns; practitioners with appointments or capacity in the period.
    - ``by_clinic``: clinic_id, name, timezone, <outcomes>, utilization columns; clinics with
      appointments or capacity in the period.
    - ``weekly``: week_start (date, the Monday), <outcomes>, utilization columns; every
      week that overlaps the period (the first and last may be partial weeks).
    - ``by_lead_time``: lead_time (LEAD_TIME_BUCKETS, in that order), <outcomes>.
    - ``by_reminder``: reminder_sent (False, True), <outcomes>.
    - ``by_age_group``: age_group (AGE_GROUPS, in that order), <outcomes>.
    """

    organization_id: int
    start: date
    end: date
    as_of: datetime
    practitioner_id: int | None
    clinic_id: int | None
    appointment_type_id: int | None
    days: int
    overall: Outcomes
    by_status: dict[str, int]
    unresolved_past: int
    date_only_appointments: int
    booked_minutes: int
    capacity_minutes: int
    by_type: pd.DataFrame = field(repr=False)
    cancellations: pd.DataFrame = field(repr=False)
    busiest_times: pd.DataFrame = field(repr=False)
    no_show_times: pd.DataFrame = field(repr=False)
    due_times: pd.DataFrame = field(repr=False)
    by_weekday: pd.DataFrame = field(repr=False)
    by_practitioner: pd.DataFrame = field(repr=False)
    by_clinic: pd.DataFrame = field(repr=False)
    weekly: pd.DataFrame = field(repr=False)
    by_lead_time: pd.DataFrame = field(repr=False)
    by_reminder: pd.DataFrame = field(repr=False)
    by_age_group: pd.DataFrame = field(repr=False)

    @property
    def total(self) -> int:
        return self.overall.appointments

    @property
    def average_per_day(self) -> float:
        return rate(self.total, self.days)

    @property
    def no_show_rate(self) -> float:
        return self.overall.no_show_rate

    @property
    def completion_rate(self) -> float:
        return self.overall.completion_rate

    @property
    def cancellation_rate(self) -> float:
        return self.overall.cancellation_rate

    @property
    def utilization(self) -> float:
        return rate(self.booked_minutes, self.capacity_minutes)

    def no_show_rate_times(self) -> pd.DataFrame:
        """No-shows / due per clinic-local weekday (index 0-6) and hour (columns 0-23);
        0.0 where nothing with a known time of day was due (see ``due_times``)."""
        due = self.due_times.to_numpy(dtype=float)
        rates = np.zeros(due.shape, dtype=float)
        np.divide(self.no_show_times.to_numpy(dtype=float), due, out=rates, where=due != 0)
        return pd.DataFrame(rates, index=self.due_times.index, columns=self.due_times.columns)

    def lead_time(self, buckets: Iterable[str]) -> Outcomes:
        """Outcomes of several lead-time buckets together, e.g. BOOKED_AHEAD."""
        wanted = list(buckets)
        unknown = set(wanted) - set(LEAD_TIME_BUCKETS)
        if unknown:
            raise ValueError(f"unknown lead-time buckets {sorted(unknown)}")
        return Outcomes.of(self.by_lead_time[self.by_lead_time["lead_time"].isin(wanted)])

    @property
    def booked_ahead(self) -> Outcomes:
        """Appointments booked at least one day before their day (lead >= 1)."""
        return self.lead_time(BOOKED_AHEAD)


# --------------------------------------------------------------------------- pure shaping

_LEAD_LABELS = np.array([_LEAD_LABEL[i] for i in range(len(_LEAD_LABEL))], dtype=object)
_AGE_LABELS = np.array([_AGE_LABEL[i] for i in range(len(_AGE_LABEL))], dtype=object)


def _div(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """Element-wise ratio, 0.0 where the denominator is 0."""
    num = np.asarray(numerator, dtype=float)
    den = np.asarray(denominator, dtype=float)
    out = np.zeros(len(num), dtype=float)
    np.divide(num, den, out=out, where=den != 0)
    return out


def _sum_by(
    columns: dict[str, np.ndarray], key: np.ndarray, order: Sequence[object]
) -> dict[str, np.ndarray]:
    """Each column summed per value of ``key``, one entry per value of ``order`` (zeros
    where absent; rows whose key is not in ``order`` are left out)."""
    if len(key) == 0 or len(order) == 0:
        return {c: np.zeros(len(order), dtype=np.int64) for c in columns}
    pos = pd.Index(list(order)).get_indexer(key)
    keep = pos >= 0
    return {
        c: np.bincount(pos[keep], weights=a[keep], minlength=len(order)).astype(np.int64)
        for c, a in columns.items()
    }


_STATUS_INDEX = pd.Index(APPOINTMENT_STATUSES)
# Per status position (and a last entry for -1, an unknown status): is it ...?
_IS = {
    name: np.array([s in members for s in APPOINTMENT_STATUSES] + [False])
    for name, members in (
        ("cancelled", ("cancelled",)),
        ("completed", ("completed",)),
        ("no-show", ("no-show",)),
        ("attended", ATTENDED_OR_MISSED),
        ("open", OPEN_STATUSES),
    )
}


class _Tally:
    """Outcome counts of grouped rows (status, past, n, minutes), summable by any key."""

    def __init__(self, rows: GroupedRows) -> None:
        self.keys = rows
        # Status as a position in APPOINTMENT_STATUSES (one hash lookup per row), then
        # every flag by table lookup rather than string comparisons.
        code = _STATUS_INDEX.get_indexer(self.keys["status"].astype(object))
        n = self.keys["n"].astype(np.int64)
        cancelled = _IS["cancelled"][code]
        due = _IS["attended"][code] | (_IS["open"][code] & self.keys["past"].astype(bool))
        self.counts = {
            "appointments": n,
            "cancelled": n * cancelled,
            "due": n * due,
            "completed": n * _IS["completed"][code],
            "no_shows": n * _IS["no-show"][code],
            "booked_minutes": self.keys["minutes"].astype(np.int64) * ~cancelled,
        }

    def by(self, key: np.ndarray | str, order: Sequence[object]) -> dict[str, np.ndarray]:
        return _sum_by(self.counts, self.keys[key] if isinstance(key, str) else key, order)

    def total(self) -> dict[str, int]:
        return {c: int(a.sum()) for c, a in self.counts.items()}


def outcome_table(
    leading: Mapping[str, Any],
    counts: dict[str, np.ndarray],
    capacity: np.ndarray | None = None,
) -> pd.DataFrame:
    """A table of ``leading`` columns, the five counts, the three rates and, when
    ``capacity`` is given, booked_minutes, capacity_minutes and utilization."""
    columns: dict[str, Any] = {**leading, **{c: counts[c] for c in _COUNTS}}
    columns["no_show_rate"] = _div(counts["no_shows"], counts["due"])
    columns["completion_rate"] = _div(counts["completed"], counts["due"])
    columns["cancellation_rate"] = _div(counts["cancelled"], counts["appointments"])
    if capacity is not None:
        columns["booked_minutes"] = counts["booked_minutes"]
        columns["capacity_minutes"] = capacity
        columns["utilization"] = _div(counts["booked_minutes"], capacity)
    return pd.DataFrame(columns)


def busiest_times(weekday: np.ndarray, hour: np.ndarray, n: np.ndarray) -> pd.DataFrame:
    """Weekday (Monday = 0) x hour (0-23) counts of clinic-local starts."""
    grid = np.zeros((7, 24), dtype=np.int64)
    np.add.at(grid, (weekday, hour), n)
    table = pd.DataFrame(grid, index=pd.RangeIndex(7, name="weekday"), columns=range(24))
    table.columns.name = "hour"
    return table


def cancellations(category: np.ndarray, n: np.ndarray) -> pd.DataFrame:
    """Cancelled appointments by category (the vocabulary, then "not recorded")."""
    order = [*CANCELLATION_CATEGORIES, NOT_RECORDED]
    known = np.array([c if isinstance(c, str) else NOT_RECORDED for c in category], dtype=object)
    counts = _sum_by({"n": n}, known, order)["n"]
    total = np.full(len(order), counts.sum())
    return pd.DataFrame({"category": order, "cancelled": counts, "share": _div(counts, total)})


def _week_numbers(start: date, end: date) -> list[int]:
    """Day numbers (days since 1970-01-01) of the Mondays of the weeks overlapping."""
    first = day_number(start) - start.weekday()
    return list(range(first, day_number(end) + 1, 7))


@dataclass(frozen=True)
class Reference:
    """Names of what the statistics count, by id."""

    clinics: dict[int, tuple[str, str]]  # name, time zone
    practitioners: dict[int, tuple[str, bool]]  # name, is_placeholder
    types: dict[int, tuple[str, str]]  # code, name


def shape(
    scope: StatsScope,
    sets: dict[int, GroupedRows],
    capacity: pd.DataFrame,
    reference: Reference,
) -> AppointmentStats:
    """Every table of the statistics from the grouped rows and the capacity (pure)."""
    dims, types, categories = _Tally(sets[PAIRS]), _Tally(sets[TYPES]), _Tally(sets[CATEGORIES])
    weeks_of, times, cohorts = _Tally(sets[WEEKS]), _Tally(sets[TIMES]), _Tally(sets[COHORTS])
    totals = dims.total()
    overall = Outcomes(**{c: totals[c] for c in _COUNTS})
    status = dims.keys["status"]
    by_status = dict(
        zip(
            APPOINTMENT_STATUSES,
            _sum_by({"n": dims.counts["appointments"]}, status, APPOINTMENT_STATUSES)["n"].tolist(),
            strict=True,
        )
    )
    open_past = np.isin(status, OPEN_STATUSES) & dims.keys["past"].astype(bool)
    cap = {c: capacity[c].to_numpy() for c in capacity.columns}
    cap_minutes = {"capacity_minutes": cap["capacity_minutes"].astype(np.int64)}

    # Types: every type of the organization (or the filtered one).
    type_ids = sorted(t for t in reference.types if scope.appointment_type_id in (None, t))
    counts = types.by("type_id", type_ids)
    type_table = outcome_table(
        {
            "appointment_type_id": type_ids,
            "code": [reference.types[t][0] for t in type_ids],
            "name": [reference.types[t][1] for t in type_ids],
        },
        counts,
    )
    type_table["booked_minutes"] = counts["booked_minutes"]
    type_table["share"] = _div(counts["appointments"], np.full(len(type_ids), overall.appointments))

    def with_capacity(key: str, names: dict[int, tuple[str, Any]], extra: str) -> pd.DataFrame:
        # Every id that had appointments or capacity in the period, ordered by name.
        seen = (set(dims.keys[key].tolist()) | set(cap[key].tolist())) & set(names)
        ids = sorted(seen, key=lambda i: (names[i][0], i))
        leading = {key: ids, "name": [names[i][0] for i in ids], extra: [names[i][1] for i in ids]}
        capacity_of = _sum_by(cap_minutes, cap[key], ids)["capacity_minutes"]
        return outcome_table(leading, dims.by(key, ids), capacity_of)

    # Weeks (day numbers of their Mondays) and weekdays/hours of the clinic-local start.
    weeks = _week_numbers(scope.start, scope.end)
    cap_week = cap["week_start"].astype("datetime64[D]").astype(np.int64)
    weekly = outcome_table(
        {"week_start": [EPOCH_DATE + timedelta(days=w) for w in weeks]},
        weeks_of.by("week", weeks),
        _sum_by(cap_minutes, cap_week, weeks)["capacity_minutes"],
    )
    weekday, hour = times.keys["weekday"], times.keys["hour"]
    date_only = times.keys["date_only"].astype(bool)
    timed = ~date_only & (times.keys["status"] != "cancelled")
    # Weekday x hour outcome grids, from the same timed rows as the busiest times.
    known = ~date_only
    cancelled = categories.keys["status"] == "cancelled"

    return AppointmentStats(
        organization_id=scope.organization_id,
        start=scope.start,
        end=scope.end,
        as_of=scope.now,
        practitioner_id=scope.practitioner_id,
        clinic_id=scope.clinic_id,
        appointment_type_id=scope.appointment_type_id,
        days=(scope.end - scope.start).days + 1,
        overall=overall,
        by_status=by_status,
        unresolved_past=int(dims.counts["appointments"][open_past].sum()),
        date_only_appointments=int(times.counts["appointments"][date_only].sum()),
        booked_minutes=totals["booked_minutes"],
        capacity_minutes=int(cap_minutes["capacity_minutes"].sum()),
        by_type=type_table,
        cancellations=cancellations(
            categories.keys["category"][cancelled], categories.counts["appointments"][cancelled]
        ),
        busiest_times=busiest_times(
            weekday[timed], hour[timed], times.counts["appointments"][timed]
        ),
        no_show_times=busiest_times(weekday[known], hour[known], times.counts["no_shows"][known]),
        due_times=busiest_times(weekday[known], hour[known], times.counts["due"][known]),
        by_weekday=outcome_table(
            {"weekday": list(range(7)), "weekday_name": list(WEEKDAYS)},
            times.by("weekday", range(7)),
        ),
        by_practitioner=with_capacity("practitioner_id", reference.practitioners, "is_placeholder"),
        by_clinic=with_capacity("clinic_id", reference.clinics, "timezone"),
        weekly=weekly,
        by_lead_time=outcome_table(
            {"lead_time": list(LEAD_TIME_BUCKETS)},
            cohorts.by(
                _LEAD_LABELS[cohorts.keys["lead_bucket"].astype(np.int64)], LEAD_TIME_BUCKETS
            ),
        ),
        by_reminder=outcome_table(
            {"reminder_sent": [False, True]},
            cohorts.by(cohorts.keys["reminder_sent"].astype(bool), [False, True]),
        ),
        by_age_group=outcome_table(
            {"age_group": list(AGE_GROUPS)},
            cohorts.by(_AGE_LABELS[cohorts.keys["age_group"].astype(np.int64)], AGE_GROUPS),
        ),
    )


# --------------------------------------------------------------------------- the service


def get_appointment_stats(
    ctx: AppContext,
    organization_id: int,
    start: date,
    end: date,
    practitioner_id: int | None = None,
    clinic_id: int | None = None,
    appointment_type_id: int | None = None,
    *,
    actor: Actor | None = None,
) -> AppointmentStats:
    """Statistics of an organization's appointments on the local dates ``start`` to
    ``end`` (both inclusive), optionally for one practitioner, clinic or appointment type.

    ``actor`` (default: the system, for scripts and jobs) must hold ``view_analytics`` and,
    unless it is the system, act for this organization; otherwise ``PermissionDenied``.
    Raises ``LookupError`` for an unknown organization and ``ValueError`` for a period that
    ends before it starts or a filter that names another organization's practitioner,
    clinic or type. Definitions: see the module docstring.
    """
    actor = actor or Actor.system()
    require(actor, Permission.VIEW_ANALYTICS)
    if not actor.is_system and actor.organization_id != organization_id:
        raise PermissionDenied("You can only see your own organization's statistics.")
    if isinstance(start, datetime) or isinstance(end, datetime):
        raise TypeError("start and end are calendar dates, not datetimes")
    if end < start:
        raise ValueError(f"the period ends ({end}) before it starts ({start})")
    scope = StatsScope(
        organization_id=organization_id,
        start=start,
        end=end,
        now=ctx.clock(),
        practitioner_id=practitioner_id,
        clinic_id=clinic_id,
        appointment_type_id=appointment_type_id,
    )
    summarized = clinic_id is None and practitioner_id is None and appointment_type_id is None
    if summarized:
        # The period's days that are over are read from stored rows; store missing ones
        # first (their own short transactions), then read everything in one snapshot.
        ensure_built(ctx.db, organization_id, start, end, scope.now)
    with ctx.db.read() as session:
        begin_snapshot(session)
        reference = _reference(
            rows(session, reference_query(organization_id, practitioner_id)), organization_id
        )
        for value, known, what in (
            (practitioner_id, reference.practitioners, "practitioner"),
            (clinic_id, reference.clinics, "clinic"),
            (appointment_type_id, reference.types, "appointment type"),
        ):
            if value is not None and value not in known:
                raise ValueError(f"{what} {value} is not in organization {organization_id}")
        zones = {
            cid: tz
            for cid, (_, tz) in reference.clinics.items()
            if clinic_id is None or cid == clinic_id
        }
        if zones:
            connection = session.connection()
            parts = (
                stored_parts(connection, organization_id, start, end, (zones.values(), scope.now))
                if summarized
                else []
            )
            ranges = uncovered_ranges(start, end, parts)
            statement = prepare_statement(
                session, scope, list(zones.items()), ranges if parts else None
            )
            for sql in statement.prelude():
                connection.exec_driver_sql(sql)
            found = stored_rows(connection, organization_id, parts)
            if ranges:
                found += run_aggregate(session, statement)
            sets = split_sets(found)
            capacity = _capacity(
                table(session, schedules_query(scope)),
                table(session, exceptions_query(scope, statement.lo, statement.hi)),
                zones,
                start,
                end,
            )
        else:
            sets, capacity = split_sets([]), empty_capacity()
    return shape(scope, sets, capacity, reference)


Table = tuple[tuple[str, ...], tuple[tuple[Any, ...], ...]]  # column names, rows
_CAPACITY_MEMO: OrderedDict[tuple[Any, ...], pd.DataFrame] = OrderedDict()
_CAPACITY_MEMO_SIZE = 16
_capacity_lock = threading.Lock()


def _capacity(
    schedules: Table, exceptions: Table, zones: dict[int, str], start: date, end: date
) -> pd.DataFrame:
    """``capacity_by_week`` of the rows, remembered for the last few inputs: laying out a
    large organization's year of blocks takes tens of milliseconds, while schedules
    change rarely. The key is the rows themselves, so a change is never served stale."""
    key = (schedules, exceptions, tuple(sorted(zones.items())), start, end)
    with _capacity_lock:
        known = _CAPACITY_MEMO.get(key)
        if known is not None:
            _CAPACITY_MEMO.move_to_end(key)
            return known.copy()
    capacity = capacity_by_week(
        pd.DataFrame(list(schedules[1]), columns=list(schedules[0])),
        pd.DataFrame(list(exceptions[1]), columns=list(exceptions[0])),
        zones,
        start,
        end,
    )
    with _capacity_lock:
        _CAPACITY_MEMO[key] = capacity.copy()
        while len(_CAPACITY_MEMO) > _CAPACITY_MEMO_SIZE:
            _CAPACITY_MEMO.popitem(last=False)
    return capacity


def store_statistics(ctx: AppContext, organization_id: int, months: int = 24) -> int:
    """Store the counts of the days that are over in the last ``months`` calendar months
    (whole months, and the days of the running month), so that the first look at the
    analytics does not pay for them; returns how many parts were stored. Safe to run at
    any time, beside the app and beside itself (see ``data/stats_summaries.py``)."""
    if not 1 <= months <= 120:
        raise ValueError("months must be from 1 to 120")
    now = ctx.clock()
    org = get_organization(ctx, organization_id)
    if org is None:
        raise LookupError(f"organization {organization_id} not found")
    today = org.local_today(now)
    first = today.replace(day=1)
    for _ in range(months - 1):
        first = (first - timedelta(days=1)).replace(day=1)
    return ensure_built(ctx.db, organization_id, first, today, now)


def _reference(found: list[tuple[Any, ...]], organization_id: int) -> Reference:
    by_kind: dict[str, dict[int, tuple[Any, Any]]] = {
        "organization": {},
        "clinic": {},
        "practitioner": {},
        "type": {},
    }
    for kind, id_, name, detail, flag in found:
        if kind == "clinic":
            by_kind[kind][int(id_)] = (name, detail)
        elif kind == "practitioner":
            by_kind[kind][int(id_)] = (name, bool(flag))
        elif kind == "type":
            by_kind[kind][int(id_)] = (detail, name)
        else:
            by_kind[kind][int(id_)] = (name, None)
    if not by_kind["organization"]:
        raise LookupError(f"organization {organization_id} not found")
    return Reference(by_kind["clinic"], by_kind["practitioner"], by_kind["type"])


def get_stats_reference(
    ctx: AppContext, organization_id: int, *, actor: Actor | None = None
) -> Reference:
    """What the statistics can be filtered by: every clinic, practitioner and appointment
    type of the organization, inactive ones and imported placeholders included (past
    periods count them), by id. Same permission as ``get_appointment_stats``."""
    actor = actor or Actor.system()
    require(actor, Permission.VIEW_ANALYTICS)
    if not actor.is_system and actor.organization_id != organization_id:
        raise PermissionDenied("You can only see your own organization's statistics.")
    with ctx.db.read() as session:
        return _reference(rows(session, reference_query(organization_id)), organization_id)
