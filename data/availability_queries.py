"""The reads availability and booking validation need, as plain tuples.

Core selects (no ORM objects): availability of a whole organization is thousands of rows
and must stay within a few times the cost of the raw SQL. Instants come back as POSIX
seconds computed by the database (``epoch``), which spares a datetime object per value.

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

# Who works where: every (clinic, practitioner) pair with a schedule block there.
_ROSTER = (
    select(Schedule.clinic_id, Schedule.practitioner_id)
    .join(Clinic, Clinic.id == Schedule.clinic_id)
    .where(Clinic.organization_id == bindparam("org"))
    .distinct()
)


@dataclass(frozen=True)
class DirectoryRows:
    organization: tuple[Any, ...] | None  # (timezone, buffer, notice, horizon)
    clinics: list[tuple[Any, ...]]  # (id, name, timezone, active)
    appointment_types: list[tuple[Any, ...]]  # (id, name, minutes, is_group, active)
    practitioners: list[tuple[Any, ...]]  # (id, name, specialty, active)
    roster: list[tuple[int, int]]  # (clinic_id, practitioner_id)


def fetch_directory(conn: Connection, organization_id: int) -> DirectoryRows:
    """The organization's settings and who is who: small, read rarely (it is cached)."""
    p = {"org": organization_id}
    org = conn.execute(_ORG, p).first()
    return DirectoryRows(
        organization=tuple(org) if org else None,
        clinics=[tuple(r) for r in conn.execute(_CLINICS, p)],
        appointment_types=[tuple(r) for r in conn.execute(_TYPES, p)],
        practitioners=[tuple(r) for r in conn.execute(_PRACTITIONERS, p)],
        roster=[(int(c), int(pr)) for c, pr in conn.execute(_ROSTER, p)],
    )


# --------------------------------------------------------------------------- calendar

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


def _schedules(scope: str) -> Any:
    """Blocks valid in the date span, of active practitioners at active clinics of the
    organization, joined to the assignment periods that make them count."""
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
            Schedule.weekday.in_(bindparam("weekdays", expanding=True)),
            Schedule.valid_from <= bindparam("last_day"),
            or_(Schedule.valid_to.is_(None), Schedule.valid_to >= bindparam("first_day")),
            ClinicAssignment.active_from <= bindparam("last_day"),
            or_(
                ClinicAssignment.active_to.is_(None),
                ClinicAssignment.active_to >= bindparam("first_day"),
            ),
        )
    )
    if scope == "practitioners":
        stmt = stmt.where(Schedule.practitioner_id.in_(bindparam("pids", expanding=True)))
    return stmt


def _exceptions(scope: str) -> Any:
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
    if scope == "practitioners":
        stmt = stmt.where(
            or_(
                ScheduleException.practitioner_id.is_(None),
                ScheduleException.practitioner_id.in_(bindparam("pids", expanding=True)),
            )
        )
    return stmt


def _appointments(scope: str) -> Any:
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
    if scope == "practitioners":
        stmt = stmt.where(Appointment.practitioner_id.in_(bindparam("pids", expanding=True)))
    return stmt


_STATEMENTS = {
    scope: (_schedules(scope), _exceptions(scope), _appointments(scope))
    for scope in ("practitioners", "organization")
}


@dataclass(frozen=True)
class CalendarRows:
    # (id, practitioner_id, clinic_id, weekday, start_time, end_time, slot_minutes,
    #  capacity, appointment_type_id, valid_from, valid_to, active_from, active_to)
    schedules: Sequence[Sequence[Any]]
    # (id, practitioner_id, clinic_id, start_ts, end_ts, reason, note)
    exceptions: Sequence[Sequence[Any]]
    # (id, practitioner_id, clinic_id, start_ts, end_ts), time-holding only
    appointments: Sequence[Sequence[Any]]


def fetch_calendar(
    conn: Connection,
    organization_id: int,
    practitioner_ids: Sequence[int] | None,
    first_day: date,
    last_day: date,
    lo_ts: int,
    hi_ts: int,
    max_appointment_seconds: int,
) -> CalendarRows:
    """Schedules, exceptions and time-holding appointments for a set of practitioners
    (None: the whole organization) in three statements, whatever the number of days.

    ``first_day``..``last_day`` bound the schedule blocks (local dates); ``lo_ts``/``hi_ts``
    the instants (POSIX seconds) that exceptions and appointments must overlap.
    """
    scope = "organization" if practitioner_ids is None else "practitioners"
    schedules_q, exceptions_q, appointments_q = _STATEMENTS[scope]
    span = (last_day - first_day).days
    weekdays = (
        list(range(7))
        if span >= 6
        else sorted({(first_day.weekday() + k) % 7 for k in range(span + 1)})
    )
    params: dict[str, Any] = {
        "org": organization_id,
        "first_day": first_day,
        "last_day": last_day,
        "weekdays": weekdays,
        "lo": ts_param(lo_ts),
        "hi": ts_param(hi_ts),
        "reach": ts_param(lo_ts - max_appointment_seconds),
    }
    if practitioner_ids is not None:
        params["pids"] = list(practitioner_ids)
        if not practitioner_ids:
            return CalendarRows([], [], [])
    return CalendarRows(
        schedules=list(conn.execute(schedules_q, params).all()),
        exceptions=list(conn.execute(exceptions_q, params).all()),
        appointments=list(conn.execute(appointments_q, params).all()),
    )
