"""The reads availability and booking validation need, as plain tuples.

Core selects (no ORM objects): availability of a whole organization is thousands of rows
and must stay within a few times the cost of the raw SQL. Instants come back as POSIX
seconds computed by the database (``epoch``), which spares a datetime object per value.

- ``fetch_directory``: an organization's configuration (settings, clinics, appointment
  types, practitioners, schedule blocks with their assignment periods); cached.
- ``fetch_calendar``: the exceptions, time-holding appointments and live slot holds of a
  set of practitioners (or the whole organization) over a UTC interval; three statements
  whatever the number of days.
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
    SlotHold,
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


def _holds(scoped: bool) -> Any:
    """Slot holds not expired at ``now``, except the ones the caller ignores (its own:
    the holder's booking consumes them rather than competing with them)."""
    stmt = select(
        SlotHold.id,
        SlotHold.practitioner_id,
        SlotHold.clinic_id,
        epoch(SlotHold.start_at),
        epoch(SlotHold.end_at),
        epoch(SlotHold.expires_at),
    ).where(
        SlotHold.organization_id == bindparam("org"),
        SlotHold.expires_at > bindparam("now"),
        SlotHold.start_at < bindparam("hi"),
        SlotHold.end_at > bindparam("lo"),
        # 0 matches no row: one compiled statement serves callers that ignore nothing.
        or_(SlotHold.user_id.is_(None), SlotHold.user_id != bindparam("ignore_user")),
        SlotHold.id != bindparam("ignore_hold"),
    )
    if scoped:
        stmt = stmt.where(SlotHold.practitioner_id.in_(bindparam("pids", expanding=True)))
    return stmt


_CALENDAR = {
    scoped: (_exceptions(scoped), _appointments(scoped), _holds(scoped)) for scoped in (False, True)
}


@dataclass(frozen=True)
class CalendarRows:
    # (id, practitioner_id, clinic_id, start_ts, end_ts, reason, note)
    exceptions: Sequence[Sequence[Any]]
    # (id, practitioner_id, clinic_id, start_ts, end_ts), time-holding only
    appointments: Sequence[Sequence[Any]]
    # (id, practitioner_id, clinic_id, start_ts, end_ts, expires_ts): live slot holds,
    # each taking a seat like an appointment until it expires
    holds: Sequence[Sequence[Any]] = ()

    def seat_takers(self) -> list[tuple[Any, ...]]:
        """Appointments and holds alike as (id, practitioner_id, clinic_id, start_ts,
        end_ts); a hold's id is negated so it can never be taken for an appointment's."""
        return [tuple(r) for r in self.appointments] + [
            (-h[0], h[1], h[2], h[3], h[4]) for h in self.holds
        ]

    def hold_expiries(self) -> dict[int, int]:
        """The earliest expiry (POSIX seconds) among each practitioner's holds: what was
        computed from these rows is wrong from that instant on."""
        out: dict[int, int] = {}
        for h in self.holds:
            pid, expires = int(h[1]), int(h[5])
            if pid not in out or expires < out[pid]:
                out[pid] = expires
        return out


def fetch_calendar(
    conn: Connection,
    organization_id: int,
    practitioner_ids: Sequence[int] | None,
    lo_ts: int,
    hi_ts: int,
    max_appointment_seconds: int,
    *,
    now: datetime | None = None,
    ignore_holds_of_user: int | None = None,
    ignore_hold_id: int | None = None,
) -> CalendarRows:
    """Exceptions, time-holding appointments and slot holds live at ``now`` (None: no
    holds) overlapping [lo_ts, hi_ts) (POSIX seconds) of some practitioners (None: the
    whole organization), in three statements whatever the number of days. The holds of
    ``ignore_holds_of_user`` and the hold ``ignore_hold_id`` are left out."""
    exceptions_q, appointments_q, holds_q = _CALENDAR[practitioner_ids is not None]
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
    holds: list[Any] = []
    if now is not None:
        hold_params = {
            **params,
            "now": now,
            "ignore_user": ignore_holds_of_user or 0,
            "ignore_hold": ignore_hold_id or 0,
        }
        del hold_params["reach"]
        holds = list(conn.execute(holds_q, hold_params).all())
    return CalendarRows(
        exceptions=list(conn.execute(exceptions_q, params).all()),
        appointments=list(conn.execute(appointments_q, params).all()),
        holds=holds,
    )


_LIVE_HOLD = (
    select(SlotHold.id)
    .where(
        SlotHold.organization_id == bindparam("org"),
        SlotHold.user_id == bindparam("user"),
        SlotHold.practitioner_id == bindparam("pid"),
        SlotHold.expires_at > bindparam("now"),
    )
    .limit(1)
)


def has_live_hold(
    conn: Connection, organization_id: int, user_id: int, practitioner_id: int, now: datetime
) -> bool:
    """Whether the staff member holds one of the practitioner's seats at ``now``."""
    params = {"org": organization_id, "user": user_id, "pid": practitioner_id, "now": now}
    return conn.execute(_LIVE_HOLD, params).first() is not None
