"""The reads availability and booking validation need, as plain tuples.

Core selects (no ORM objects): availability of a whole organization is thousands of rows
and must stay within a few times the cost of the raw SQL. Instants come back as POSIX
seconds computed by the database (``epoch``), which spares a datetime object per value.

- ``fetch_directory``: an organization's configuration (settings, clinics, appointment
  types, practitioners, schedule blocks with their assignment periods); cached.
- ``fetch_calendar``: the exceptions and time-holding appointments of a set of
  practitioners (or the whole organization) over a UTC interval; two statements whatever
  the number of days.
- ``fetch_schedules``: the blocks of a set of practitioners over a date span, for the
  booking path, which reads everything fresh inside its transaction.

Statements are built once at import (no connection is made) and reused with parameters,
so SQLAlchemy's compiled cache is hit on every call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    and_,
    bindparam,
    or_,
    select,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from data.models import (
    Appointment,
    AppointmentType,
    Clinic,
    ClinicAssignment,
    Organization,
    Practitioner,
    Schedule,
    ScheduleException,
)
from data.vocabulary import TIME_HOLDING_STATUSES


class epoch(FunctionElement[int]):
    """POSIX seconds (floor) of a UTC timestamp column, computed by the database."""

    type = BigInteger()
    inherit_cache = True
    name = "epoch"


@compiles(epoch, "postgresql")
def _epoch_pg(element: epoch, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST(FLOOR(EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)})) AS BIGINT)"


@compiles(epoch, "sqlite")
def _epoch_sqlite(element: epoch, compiler: SQLCompiler, **kw: Any) -> str:
    # Stored as naive UTC text (data.types.UTCDateTime); strftime reads it as UTC.
    return f"CAST(strftime('%s', {compiler.process(element.clauses, **kw)}) AS INTEGER)"


def ts_param(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


# --------------------------------------------------------------------------- directory

_ORG = select(
    Organization.timezone,
    Organization.buffer_minutes,
    Organization.min_notice_minutes,
    Organization.booking_horizon_days,
).where(Organization.id == bindparam("org"))

_CLINICS = (
    select(Clinic.id, Clinic.name, Clinic.timezone, Clinic.active)
    .where(Clinic.organization_id == bindparam("org"))
    .order_by(Clinic.name, Clinic.id)
)

_TYPES = select(
    AppointmentType.id,
    AppointmentType.name,
    AppointmentType.default_duration_minutes,
    AppointmentType.is_group,
    AppointmentType.active,
).where(AppointmentType.organization_id == bindparam("org"))

_PRACTITIONERS = select(
    Practitioner.id, Practitioner.name, Practitioner.specialty, Practitioner.active
).where(Practitioner.organization_id == bindparam("org"))

_SCHEDULE_COLUMNS = (
    Schedule.id,
    Schedule.practitioner_id,
    Schedule.clinic_id,
    Schedule.weekday,
    Schedule.start_time,
    Schedule.end_time,
    Schedule.slot_minutes,
    Schedule.capacity,
    Schedule.appointment_type_id,
    Schedule.valid_from,
    Schedule.valid_to,
    ClinicAssignment.active_from,
    ClinicAssignment.active_to,
)


def _schedules(scoped: bool) -> Any:
    """Blocks of active practitioners at active clinics of the organization, joined to
    the assignment periods that make them count (one row per period)."""
    stmt = (
        select(*_SCHEDULE_COLUMNS)
        .join(Clinic, Clinic.id == Schedule.clinic_id)
        .join(Practitioner, Practitioner.id == Schedule.practitioner_id)
        .join(
            ClinicAssignment,
            and_(
                ClinicAssignment.practitioner_id == Schedule.practitioner_id,
                ClinicAssignment.clinic_id == Schedule.clinic_id,
            ),
        )
        .where(
            Clinic.organization_id == bindparam("org"),
            Practitioner.organization_id == bindparam("org"),
            Clinic.active.is_(True),
            Practitioner.active.is_(True),
        )
        .order_by(Schedule.id, ClinicAssignment.active_from)
    )
    if scoped:
        stmt = stmt.where(
            Schedule.practitioner_id.in_(bindparam("pids", expanding=True)),
            Schedule.valid_from <= bindparam("last_day"),
            or_(Schedule.valid_to.is_(None), Schedule.valid_to >= bindparam("first_day")),
            ClinicAssignment.active_from <= bindparam("last_day"),
            or_(
                ClinicAssignment.active_to.is_(None),
                ClinicAssignment.active_to >= bindparam("first_day"),
            ),
        )
    return stmt


_ALL_SCHEDULES = _schedules(scoped=False)
_SCOPED_SCHEDULES = _schedules(scoped=True)


@dataclass(frozen=True)
class DirectoryRows:
    organization: tuple[Any, ...] | None  # (timezone, buffer, notice, horizon)
    clinics: list[tuple[Any, ...]]  # (id, name, timezone, active)
    appointment_types: list[tuple[Any, ...]]  # (id, name, minutes, is_group, active)
    practitioners: list[tuple[Any, ...]]  # (id, name, specialty, active)
    # (id, practitioner_id, clinic_id, weekday, start_time, end_time, slot_minutes,
    #  capacity, appointment_type_id, valid_from, valid_to, active_from, active_to)
    schedules: list[tuple[Any, ...]]


def fetch_directory(conn: Connection, organization_id: int) -> DirectoryRows:
    """An organization's configuration: read rarely, cached until it changes."""
    p = {"org": organization_id}
    org = conn.execute(_ORG, p).first()
    return DirectoryRows(
        organization=tuple(org) if org else None,
        clinics=[tuple(r) for r in conn.execute(_CLINICS, p)],
        appointment_types=[tuple(r) for r in conn.execute(_TYPES, p)],
        practitioners=[tuple(r) for r in conn.execute(_PRACTITIONERS, p)],
        schedules=[tuple(r) for r in conn.execute(_ALL_SCHEDULES, p)],
    )


def fetch_schedules(
    conn: Connection,
    organization_id: int,
    practitioner_ids: Sequence[int],
    first_day: date,
    last_day: date,
) -> list[tuple[Any, ...]]:
    """The blocks (rows as in ``DirectoryRows.schedules``) of some practitioners that may
    apply between two local dates."""
    params = {
        "org": organization_id,
        "pids": list(practitioner_ids),
        "first_day": first_day,
        "last_day": last_day,
    }
    return [tuple(r) for r in conn.execute(_SCOPED_SCHEDULES, params)]


# --------------------------------------------------------------------------- calendar


def _exceptions(scoped: bool) -> Any:
    stmt = select(
        ScheduleException.id,
        ScheduleException.practitioner_id,
        ScheduleException.clinic_id,
        epoch(ScheduleException.start_at),
        epoch(ScheduleException.end_at),
        ScheduleException.reason,
        ScheduleException.note,
    ).where(
        ScheduleException.organization_id == bindparam("org"),
        ScheduleException.start_at < bindparam("hi"),
        ScheduleException.end_at > bindparam("lo"),
    )
    if scoped:
        stmt = stmt.where(
            or_(
                ScheduleException.practitioner_id.is_(None),
                ScheduleException.practitioner_id.in_(bindparam("pids", expanding=True)),
            )
        )
    return stmt


def _appointments(scoped: bool) -> Any:
    stmt = select(
        Appointment.id,
        Appointment.practitioner_id,
        Appointment.clinic_id,
        epoch(Appointment.start_at),
        epoch(Appointment.end_at),
    ).where(
        Appointment.organization_id == bindparam("org"),
        Appointment.status.in_(TIME_HOLDING_STATUSES),
        # The lower bound on start_at lets the (practitioner|organization, start_at)
        # indexes do the work; no appointment is longer than `reach`.
        Appointment.start_at >= bindparam("reach"),
        Appointment.start_at < bindparam("hi"),
        Appointment.end_at > bindparam("lo"),
    )
    if scoped:
        stmt = stmt.where(Appointment.practitioner_id.in_(bindparam("pids", expanding=True)))
    return stmt


_CALENDAR = {scoped: (_exceptions(scoped), _appointments(scoped)) for scoped in (False, True)}


@dataclass(frozen=True)
class CalendarRows:
    # (id, practitioner_id, clinic_id, start_ts, end_ts, reason, note)
    exceptions: Sequence[Sequence[Any]]
    # (id, practitioner_id, clinic_id, start_ts, end_ts), time-holding only
    appointments: Sequence[Sequence[Any]]


def fetch_calendar(
    conn: Connection,
    organization_id: int,
    practitioner_ids: Sequence[int] | None,
    lo_ts: int,
    hi_ts: int,
    max_appointment_seconds: int,
) -> CalendarRows:
    """Exceptions and time-holding appointments overlapping [lo_ts, hi_ts) (POSIX
    seconds) of some practitioners (None: the whole organization), in two statements
    whatever the number of days."""
    exceptions_q, appointments_q = _CALENDAR[practitioner_ids is not None]
    params: dict[str, Any] = {
        "org": organization_id,
        "lo": ts_param(lo_ts),
        "hi": ts_param(hi_ts),
        "reach": ts_param(lo_ts - max_appointment_seconds),
    }
    if practitioner_ids is not None:
        if not practitioner_ids:
            return CalendarRows([], [])
        params["pids"] = list(practitioner_ids)
    return CalendarRows(
        exceptions=list(conn.execute(exceptions_q, params).all()),
        appointments=list(conn.execute(appointments_q, params).all()),
    )
