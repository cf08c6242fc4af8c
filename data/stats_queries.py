"""Aggregate queries behind the appointment statistics (``domain/stats.py``).

Every appointment of a period is read once, by one statement, and leaves the database as
a few thousand grouped rows; pandas shapes those. The statement works in each clinic's
local time without any time-zone work at query time: every appointment stores its
clinic-local date, hour and booking lead time (``data/local_facts.py``, set by every
writer), so the period filter is a plain indexed range on ``local_date`` and day numbers,
hours and weekdays follow by arithmetic, the same on both stores.

The one statement groups six ways at once (GROUPING SETS on PostgreSQL, UNION ALL over a
shared derived table on SQLite), one margin per table of the statistics:

- ``PAIRS``: practitioner and clinic; ``TYPES``: appointment type; ``CATEGORIES``:
  cancellation category;
- ``WEEKS``: the week of the clinic-local date (day number of its Monday);
- ``TIMES``: clinic-local weekday and hour (no hour for date-only rows), date-only flag;
- ``COHORTS``: booking lead-time bucket, reminder sent, patient age group;

each with status and "start has passed" (``past``) so that rates can be formed later, and
``n`` (appointments) and ``minutes`` (sum of durations).

Dialect-specific SQL lives in the two ``_Dialect`` classes below and nowhere else. The
statement carries its values as literals rendered from typed Python values (ints, dates,
datetimes), so the benchmark can run exactly the same text on a raw connection.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import CompoundSelect, Select, String, func, literal, or_, select, union_all
from sqlalchemy.orm import Session

from data.models import (
    AppointmentType,
    Clinic,
    Organization,
    Patient,
    Practitioner,
    Schedule,
    ScheduleException,
)

EPOCH_DATE = date(1970, 1, 1)
AnySelect = Select[*tuple[Any, ...]]
AnyCompound = CompoundSelect[*tuple[Any, ...]]

# Codes the statement emits for its computed groups; labels are the domain's business.
LEAD_SAME_DAY, LEAD_1_7, LEAD_8_30, LEAD_31_PLUS, LEAD_AFTER = 0, 1, 2, 3, 4
AGE_UNKNOWN = 5
# Age groups by completed years at the visit: 0-12, 13-17, 18-39, 40-64, 65+. The age is
# (YYYYMMDD of the visit - YYYYMMDD of the birth) // 10000, so the thresholds below are
# the first age of each next group times 10000.
AGE_GROUP_LIMITS = (130000, 180000, 400000, 650000)

# Each grouping set holds exactly one of these columns; GROUPING() of them on PostgreSQL
# (1 bits for the columns a set leaves out) tells the sets apart, and the SQLite branches
# emit the same numbers.
_MARKERS = ("practitioner_id", "type_id", "category", "week", "weekday", "lead_bucket")
PAIRS, TYPES, CATEGORIES, WEEKS, TIMES, COHORTS = (
    63 - (1 << (len(_MARKERS) - 1 - i)) for i in range(len(_MARKERS))
)

AGGREGATE_COLUMNS = (
    "grp",
    "practitioner_id",
    "clinic_id",
    "type_id",
    "category",
    "week",
    "weekday",
    "hour",
    "date_only",
    "lead_bucket",
    "reminder_sent",
    "age_group",
    "status",
    "past",
    "n",
    "minutes",
)
# Each set is one margin the statistics need, so the grouped rows stay few (a year of a
# large organization: a few thousand): practitioner-clinic pairs, types, cancellation
# categories, weeks (day number of the Monday), clinic-local weekday and hour (hour NULL
# for date-only rows), and booking cohorts; each with status and whether the start has
# passed, from which every rate is formed.
_SET_KEYS = {
    PAIRS: ("practitioner_id", "clinic_id", "status", "past"),
    TYPES: ("type_id", "status", "past"),
    CATEGORIES: ("category", "status", "past"),
    WEEKS: ("week", "status", "past"),
    TIMES: ("weekday", "hour", "date_only", "status", "past"),
    COHORTS: ("lead_bucket", "reminder_sent", "age_group", "status", "past"),
}


@dataclass(frozen=True)
class StatsScope:
    """What to count: an organization's appointments whose clinic-local date lies in
    [start, end] (both inclusive), optionally narrowed; ``now`` decides which are past."""

    organization_id: int
    start: date
    end: date
    now: datetime
    practitioner_id: int | None = None
    clinic_id: int | None = None
    appointment_type_id: int | None = None

    @property
    def wide(self) -> bool:
        """No practitioner or clinic filter: most of the organization's rows are read."""
        return self.practitioner_id is None and self.clinic_id is None


# --------------------------------------------------------------------------- time zones


@lru_cache(maxsize=8192)  # pure; asked hundreds of times per statistics call
def local_midnight(day: date, zone: str) -> datetime:
    return datetime.combine(day, time(0), ZoneInfo(zone)).astimezone(UTC)


def day_number(day: date) -> int:
    return (day - EPOCH_DATE).days


# --------------------------------------------------------------------------- dialects


class _Dialect:
    name: ClassVar[str]
    arrays: ClassVar[bool] = False
    # Keeps the planner from copying a derived column's expression into every place that
    # uses it (neither store eliminates common subexpressions).
    fence: ClassVar[str]

    def prelude(self, wide: bool) -> list[str]:
        return []

    def snapshot(self) -> list[str]:
        """Statements that make every later read of the transaction see one snapshot."""
        return []

    def birth_by_index(self, organization_id: int, first_id: int, ymd: str) -> str | None:
        """The visit's patient's birth YYYYMMDD looked up by ``patient_id - first_id`` in
        an array built once per statement, or None where the store has no arrays."""
        return None

    def day_number(self, column: str) -> str:
        """Days since 1970-01-01 of a DATE column."""
        raise NotImplementedError

    def date(self, value: date) -> str:
        raise NotImplementedError

    def timestamp(self, value: datetime) -> str:
        raise NotImplementedError

    def birth_ymd(self, column: str) -> str:
        raise NotImplementedError

    def grouped(self, derived: str, extra: Sequence[str] = ()) -> str:
        """The three grouping sets over ``derived``, each also grouped by ``extra``
        columns (selected after ``AGGREGATE_COLUMNS``)."""
        raise NotImplementedError

    def date_of_day_number(self, expression: str) -> str:
        raise NotImplementedError

    def weekday(self, day: str) -> str:
        """Monday = 0 of a day number (1970-01-01 was a Thursday), before 1970 too."""
        raise NotImplementedError


class _Postgres(_Dialect):
    name = "postgresql"
    arrays = True
    fence = "OFFSET 0"

    def prelude(self, wide: bool) -> list[str]:
        # JIT spends seconds optimizing the offset decision trees for a few ms of gain;
        # a larger work_mem keeps the patient hash and the grouping's three hash tables in
        # memory when the whole organization is read. Transaction-local, one round trip.
        memory = ", set_config('work_mem', '64MB', true)" if wide else ""
        return [f"SELECT set_config('jit', 'off', true){memory}"]

    def snapshot(self) -> list[str]:
        # Reference rows, the aggregate, schedules and exceptions then agree with each
        # other even while bookings are being written.
        return ["SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"]

    def birth_by_index(self, organization_id: int, first_id: int, ymd: str) -> str | None:
        # One array of every patient's birth date (0 = unknown), then a subscript per row:
        # much cheaper than hash-joining hundreds of thousands of rows to the patients.
        births = (
            f"(SELECT array_agg(COALESCE({ymd}, 0) ORDER BY id) FROM patients "
            f"WHERE organization_id = {int(organization_id)})"
        )
        return f"NULLIF({births}[a.patient_id - {int(first_id) - 1}], 0)"

    def day_number(self, column: str) -> str:
        return f"({column} - DATE '1970-01-01')"

    def date(self, value: date) -> str:
        return f"DATE '{value.isoformat()}'"

    def timestamp(self, value: datetime) -> str:
        return f"TIMESTAMPTZ '{value.astimezone(UTC):%Y-%m-%d %H:%M:%S.%f}+00'"

    def birth_ymd(self, column: str) -> str:
        return f"CAST(to_char({column}, 'YYYYMMDD') AS integer)"

    def grouped(self, derived: str, extra: Sequence[str] = ()) -> str:
        sets = ", ".join(f"({', '.join((*keys, *extra))})" for keys in _SET_KEYS.values())
        keys = ", ".join(AGGREGATE_COLUMNS[1:-2])
        more = "".join(f", {c}" for c in extra)
        return (
            f"SELECT GROUPING({', '.join(_MARKERS)}) AS grp, {keys}, "
            f"count(*) AS n, sum(minutes) AS minutes{more} FROM ({derived}) r "
            f"GROUP BY GROUPING SETS ({sets})"
        )

    def date_of_day_number(self, expression: str) -> str:
        return f"(DATE '1970-01-01' + {expression})"

    def weekday(self, day: str) -> str:
        # mod(), not %: the driver reads % as a placeholder.
        return f"mod(mod({day}, 7) + 10, 7)"


class _SQLite(_Dialect):
    name = "sqlite"
    fence = "LIMIT -1 OFFSET 0"

    def day_number(self, column: str) -> str:
        # Stored as 'YYYY-MM-DD'; julianday() of a date is its midnight, an exact .5 value.
        return f"CAST(julianday({column}) - 2440587.5 AS INTEGER)"

    def date(self, value: date) -> str:
        return f"'{value.isoformat()}'"

    def timestamp(self, value: datetime) -> str:
        # Whole seconds without a fraction, so that the comparison is right whether a value
        # was stored with microseconds ('... 07:00:00.000000') or without them.
        utc = value.astimezone(UTC)
        return (
            f"'{utc:%Y-%m-%d %H:%M:%S}'" if not utc.microsecond else f"'{utc:%Y-%m-%d %H:%M:%S.%f}'"
        )

    def birth_ymd(self, column: str) -> str:
        return f"CAST(replace({column}, '-', '') AS INTEGER)"

    def grouped(self, derived: str, extra: Sequence[str] = ()) -> str:
        branches = []
        more = "".join(f", {c}" for c in extra)
        for grp, keys in _SET_KEYS.items():
            # Named, so that the union's columns can be selected by name.
            cols = ", ".join(c if c in keys else f"NULL AS {c}" for c in AGGREGATE_COLUMNS[1:-2])
            branches.append(
                f"SELECT {grp} AS grp, {cols}, count(*) AS n, sum(minutes) AS minutes{more} "
                f"FROM r GROUP BY {', '.join((*keys, *extra))}"
            )
        return f"WITH r AS ({derived}) " + " UNION ALL ".join(branches)

    def date_of_day_number(self, expression: str) -> str:
        return f"date('1970-01-01', '+' || ({expression}) || ' days')"

    def weekday(self, day: str) -> str:
        return f"(({day} % 7 + 10) % 7)"


def dialect_for(name: str) -> _Dialect:
    if name == "postgresql":
        return _Postgres()
    if name == "sqlite":
        return _SQLite()
    raise ValueError(f"statistics are not implemented for the {name} dialect")


# --------------------------------------------------------------------------- the statement


def _tree(boundaries: Sequence[object], values: Sequence[str], column: str) -> str:
    """``values[i]`` where ``boundaries[i-1] <= column < boundaries[i]``, as a balanced
    CASE tree (about log2 comparisons per row)."""
    if len(values) == 1:
        return values[0]
    mid = len(values) // 2
    left = _tree(boundaries[: mid - 1], values[:mid], column)
    right = _tree(boundaries[mid:], values[mid:], column)
    return f"CASE WHEN {column} < {boundaries[mid - 1]} THEN {left} ELSE {right} END"


class AggregateStatement:
    """The one grouped statement for a scope, plus the UTC window it reads."""

    def __init__(
        self,
        dialect: str,
        scope: StatsScope,
        clinics: Sequence[tuple[int, str]],
        first_patient_id: int | None = None,
        ranges: Sequence[tuple[date, date]] | None = None,
        by_day: bool = False,
    ) -> None:
        """``first_patient_id``: set when the organization's patient ids are one unbroken
        run starting there (see ``dense_patient_ids``), which allows a lookup by index.
        ``ranges``: count only these runs of local dates (inclusive, inside the scope's
        period) instead of the whole period; the rest is read elsewhere (stored rows).
        ``by_day``: every grouping set also by clinic-local day, as a last column ``day``
        (days since 1970-01-01), for storing the rows of single days."""
        if not clinics:
            raise ValueError("a statistics statement needs at least one clinic")
        self.d = dialect_for(dialect)
        self.scope = scope
        self.zones = sorted({tz for _, tz in clinics})
        self.ranges = list(ranges) if ranges is not None else [(scope.start, scope.end)]
        # Only some days of the period: few enough rows to look birth dates up by key.
        self.partial = ranges is not None
        self.by_day = by_day
        # Widest UTC window that holds every clinic's local dates of the period.
        self.lo, self.hi = self._window(scope.start, scope.end)
        self.first_day = day_number(scope.start)
        self.last_day = day_number(scope.end)
        self.first_patient_id = first_patient_id

    def _window(self, first: date, last: date) -> tuple[datetime, datetime]:
        after = last + timedelta(days=1)
        return (
            min(local_midnight(first, z) for z in self.zones),
            max(local_midnight(after, z) for z in self.zones),
        )

    @property
    def wide(self) -> bool:
        return self.scope.wide

    def prelude(self) -> list[str]:
        return self.d.prelude(self.wide)

    def _ymd(self, day_column: str) -> str:
        """YYYYMMDD of a day number, from the months around the period (no date calls)."""
        first = EPOCH_DATE + timedelta(days=self.first_day - 1)
        last = EPOCH_DATE + timedelta(days=self.last_day + 1)
        month = first.replace(day=1)
        starts: list[int] = []
        values: list[str] = []
        while month <= last:
            starts.append(day_number(month))
            values.append(
                f"{day_column} + {month.year * 10000 + month.month * 100 + 1 - day_number(month)}"
            )
            month = (month + timedelta(days=32)).replace(day=1)
        return _tree(starts[1:], values, day_column)

    def sql(self) -> str:
        d, s = self.d, self.scope
        # The local dates decide; the UTC window around them (a superset) lets the
        # existing (organization | practitioner | clinic, start_at) indexes find the rows.
        if not self.ranges:
            raise ValueError("this statement has no dates left to count")
        arms = []
        for first, last in self.ranges:
            lo, hi = self._window(first, last)
            arms.append(
                f"a.organization_id = {int(s.organization_id)} "
                f"AND a.start_at >= {d.timestamp(lo)} AND a.start_at < {d.timestamp(hi)} "
                f"AND a.local_date >= {d.date(first)} AND a.local_date <= {d.date(last)}"
            )
        filters = [arms[0] if len(arms) == 1 else "(" + " OR ".join(f"({a})" for a in arms) + ")"]
        if s.practitioner_id is not None:
            filters.append(f"a.practitioner_id = {int(s.practitioner_id)}")
        if s.clinic_id is not None:
            filters.append(f"a.clinic_id = {int(s.clinic_id)}")
        if s.appointment_type_id is not None:
            filters.append(f"a.appointment_type_id = {int(s.appointment_type_id)}")

        if s.now >= self.hi:
            past = "1"
        elif s.now <= self.lo:
            past = "0"
        else:
            past = f"CASE WHEN a.start_at < {d.timestamp(s.now)} THEN 1 ELSE 0 END"
        # Without a narrowing filter nearly every patient is needed: look birth dates up by
        # index where ids allow it, else compute them once per patient (fenced) and
        # hash-join. A narrow scope, or a few days of a period, looks each one up by key.
        by_index = (
            d.birth_by_index(s.organization_id, self.first_patient_id, d.birth_ymd("birth_date"))
            if self.wide and self.first_patient_id is not None
            else None
        )
        if by_index is not None:
            birth, patients = by_index, ""
        elif self.wide and not self.partial:
            birth = "p.birth"
            patients = (
                f"JOIN (SELECT id, {d.birth_ymd('birth_date')} AS birth FROM patients "
                f"WHERE organization_id = {int(s.organization_id)} {d.fence}) p "
                "ON p.id = a.patient_id"
            )
        else:
            birth = (
                f"(SELECT {d.birth_ymd('p.birth_date')} FROM patients p WHERE p.id = a.patient_id)"
            )
            patients = ""
        keep = "practitioner_id, clinic_id, type_id, category, status, date_only, "
        keep += "reminder_sent, minutes, past" + (", day" if self.by_day else "")
        # The clinic-local date, hour and lead time are stored on every row
        # (data/local_facts.py): day numbers and hours follow by arithmetic.
        r1 = (
            "SELECT a.practitioner_id, a.clinic_id, a.appointment_type_id AS type_id, "
            "a.cancellation_category AS category, a.status, a.date_only, a.reminder_sent, "
            f"a.duration_minutes AS minutes, {past} AS past, {birth} AS birth, "
            f"{d.day_number('a.local_date')} AS day, a.local_hour AS hour, a.lead_days AS lead "
            f"FROM appointments a {patients} "
            f"WHERE {' AND '.join(filters)} {d.fence}"
        )
        weekday = d.weekday("day")
        r3 = (
            f"SELECT {keep}, day - {weekday} AS week, {weekday} AS weekday, hour, lead, "
            f"{self._ymd('day')} - birth AS age FROM ({r1}) r1 {d.fence}"
        )
        lead = (
            f"CASE WHEN lead < 0 THEN {LEAD_AFTER} WHEN lead = 0 THEN {LEAD_SAME_DAY} "
            f"WHEN lead <= 7 THEN {LEAD_1_7} WHEN lead <= 30 THEN {LEAD_8_30} "
            f"ELSE {LEAD_31_PLUS} END"
        )
        limits = " ".join(
            f"WHEN age < {limit} THEN {i}" for i, limit in enumerate(AGE_GROUP_LIMITS)
        )
        age = (
            f"CASE WHEN age IS NULL OR age < 0 THEN {AGE_UNKNOWN} {limits} "
            f"ELSE {len(AGE_GROUP_LIMITS)} END"
        )
        r4 = (
            f"SELECT {keep}, week, weekday, hour, {lead} AS lead_bucket, {age} AS age_group "
            f"FROM ({r3}) r3"
        )
        return d.grouped(r4, ("day",) if self.by_day else ())


# One grouping set's rows: its key columns and n, minutes, as equal-length arrays.
GroupedRows = dict[str, np.ndarray]


def run_aggregate(session: Session, statement: AggregateStatement) -> list[tuple[Any, ...]]:
    """Execute the statement in the session's transaction (after its ``prelude()``); its
    grouped rows in ``AGGREGATE_COLUMNS`` order (``split_sets`` makes arrays of them)."""
    connection = session.connection()
    result = connection.exec_driver_sql(statement.sql())
    try:
        # Plain DBAPI tuples: a full organization yields thousands of groups, and the
        # Row objects would only be unpacked again.
        return list(result.cursor.fetchall()) if result.cursor is not None else []
    finally:
        result.close()


def split_sets(rows: Sequence[Sequence[Any]]) -> dict[int, GroupedRows]:
    """Rows of the statement (AGGREGATE_COLUMNS order) by grouping set (PAIRS, TYPES,
    ...), each with its own keys and n, minutes; booleans as bool, ids, weeks, hours and
    counts as int64 (hour -1 for date-only rows), status and category as objects. A key
    may repeat (rows from several sources): every consumer sums."""
    table = np.array(rows, dtype=object).reshape(len(rows), len(AGGREGATE_COLUMNS))
    index = {c: i for i, c in enumerate(AGGREGATE_COLUMNS)}
    grp = table[:, 0].astype(np.int64)
    out: dict[int, GroupedRows] = {}
    for set_id, keys in _SET_KEYS.items():
        part = table[grp == set_id]
        columns: dict[str, np.ndarray] = {}
        for column in (*keys, "n", "minutes"):
            values = part[:, index[column]]
            if column in ("category", "status"):
                columns[column] = values
            elif column in ("date_only", "reminder_sent", "past"):
                columns[column] = values.astype(bool)
            elif column == "hour":
                columns[column] = np.array([-1 if v is None else v for v in values], np.int64)
            else:
                columns[column] = values.astype(np.float64).astype(np.int64)
        out[set_id] = columns
    return out


# --------------------------------------------------------------------------- lookups


def reference_query(organization_id: int, practitioner_id: int | None = None) -> AnyCompound:
    """The organization's own row, clinics, practitioners (only the filtered one when
    filtered) and appointment types in one round trip: (kind, id, name, detail, flag).

    detail: the clinic's zone or the type's code; flag: the practitioner's placeholder mark.
    """
    none = literal(None, String)
    no = literal(False)
    practitioners = select(
        literal("practitioner"),
        Practitioner.id,
        Practitioner.name,
        none,
        Practitioner.is_placeholder,
    ).where(Practitioner.organization_id == organization_id)
    if practitioner_id is not None:
        practitioners = practitioners.where(Practitioner.id == practitioner_id)
    return union_all(
        select(literal("organization"), Organization.id, Organization.name, none, no).where(
            Organization.id == organization_id
        ),
        select(literal("clinic"), Clinic.id, Clinic.name, Clinic.timezone, no).where(
            Clinic.organization_id == organization_id
        ),
        practitioners,
        select(
            literal("type"), AppointmentType.id, AppointmentType.name, AppointmentType.code, no
        ).where(AppointmentType.organization_id == organization_id),
    )


def patient_span_query(organization_id: int) -> AnySelect:
    return select(func.min(Patient.id), func.max(Patient.id), func.count()).where(
        Patient.organization_id == organization_id
    )


def prepare_statement(
    session: Session,
    scope: StatsScope,
    clinics: Sequence[tuple[int, str]],
    ranges: Sequence[tuple[date, date]] | None = None,
    *,
    by_day: bool = False,
) -> AggregateStatement:
    """The aggregate for a scope (or some ``ranges`` of its dates) on the session's store,
    with the patient lookup by index where the store and the patient ids allow it."""
    dialect = session.connection().dialect.name
    first = None
    # The birth-date array pays off over a whole period; a few days around stored months
    # are as quick by a join, without the query that checks the patient ids.
    if scope.wide and ranges is None and dialect_for(dialect).arrays:
        first = dense_patient_ids(session, scope.organization_id)
    return AggregateStatement(dialect, scope, clinics, first, ranges, by_day)


def dense_patient_ids(session: Session, organization_id: int) -> int | None:
    """The first patient id when the organization's patient ids form one unbroken run
    (one organization per database, or patients imported in bulk), else None."""
    first, last, count = session.connection().execute(patient_span_query(organization_id)).one()
    if not count or last - first + 1 != count:
        return None
    return int(first)


def begin_snapshot(session: Session) -> None:
    """Make the rest of the session's transaction read one consistent snapshot."""
    connection = session.connection()
    for sql in dialect_for(connection.dialect.name).snapshot():
        connection.exec_driver_sql(sql)


def schedules_query(scope: StatsScope) -> AnySelect:
    """Weekly blocks in force during the period, of the scope's practitioners and clinics."""
    q: AnySelect = (
        select(
            Schedule.practitioner_id,
            Schedule.clinic_id,
            Schedule.weekday,
            Schedule.start_time,
            Schedule.end_time,
            Schedule.capacity,
            Schedule.valid_from,
            Schedule.valid_to,
        )
        .join(Practitioner, Practitioner.id == Schedule.practitioner_id)
        .join(Clinic, Clinic.id == Schedule.clinic_id)
        .where(
            Practitioner.organization_id == scope.organization_id,
            Clinic.organization_id == scope.organization_id,
            Schedule.valid_from <= scope.end,
            or_(Schedule.valid_to.is_(None), Schedule.valid_to >= scope.start),
        )
    )
    if scope.practitioner_id is not None:
        q = q.where(Schedule.practitioner_id == scope.practitioner_id)
    if scope.clinic_id is not None:
        q = q.where(Schedule.clinic_id == scope.clinic_id)
    return q


def exceptions_query(scope: StatsScope, lo: datetime, hi: datetime) -> AnySelect:
    """Exceptions overlapping [lo, hi) that can touch the scope's schedules."""
    e = ScheduleException
    q: AnySelect = select(e.practitioner_id, e.clinic_id, e.start_at, e.end_at).where(
        e.organization_id == scope.organization_id, e.start_at < hi, e.end_at > lo
    )
    if scope.practitioner_id is not None:
        q = q.where(or_(e.practitioner_id.is_(None), e.practitioner_id == scope.practitioner_id))
        # Closures of clinics where this practitioner never works cannot matter.
        worked = select(Schedule.clinic_id).where(Schedule.practitioner_id == scope.practitioner_id)
        q = q.where(or_(e.clinic_id.is_(None), e.clinic_id.in_(worked)))
    if scope.clinic_id is not None:
        q = q.where(or_(e.clinic_id.is_(None), e.clinic_id == scope.clinic_id))
    return q


def rows(session: Session, query: Any) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in session.connection().execute(query).all()]


def table(
    session: Session, query: AnySelect
) -> tuple[tuple[str, ...], tuple[tuple[Any, ...], ...]]:
    """A small lookup as (column names, rows of plain values), hashable (a memo key).

    The driver's own values, without SQLAlchemy's result processing (a few thousand
    schedule rows a call): datetimes come aware (PostgreSQL) or as naive-UTC text
    (SQLite), dates and times as objects or ISO text; pandas reads either."""
    result = session.connection().execute(query)
    try:
        names = tuple(result.keys())
        return names, tuple(map(tuple, result.cursor.fetchall())) if result.cursor else ()
    finally:
        result.close()
