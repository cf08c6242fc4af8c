"""The read side for the daily and upcoming views: one joined select each, returning the
``AppointmentView`` rows pages render (patient, practitioner, clinic and type names
included), so the number of statements never grows with the number of rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from data.models import Appointment, AppointmentType, Clinic, Organization, Patient, Practitioner
from domain.actor import Actor
from domain.appointments import AppointmentView
from domain.context import AppContext
from domain.errors import BookingError
from domain.permissions import Permission, PermissionDenied, require, require_practitioner_scope


def _select() -> Any:
    return (
        select(
            Appointment.id,
            Appointment.organization_id,
            Appointment.patient_id,
            Patient.given_name,
            Patient.family_name,
            Appointment.practitioner_id,
            Practitioner.name.label("practitioner_name"),
            Appointment.clinic_id,
            Clinic.name.label("clinic_name"),
            Clinic.timezone,
            Appointment.appointment_type_id,
            AppointmentType.code,
            AppointmentType.name.label("type_name"),
            Appointment.start_at,
            Appointment.end_at,
            Appointment.duration_minutes,
            Appointment.status,
            Appointment.notes,
            Appointment.cancellation_category,
            Appointment.cancellation_reason,
            Appointment.booked_at,
            Appointment.version,
            Appointment.date_only,
        )
        .join(Patient, Patient.id == Appointment.patient_id)
        .join(Practitioner, Practitioner.id == Appointment.practitioner_id)
        .join(Clinic, Clinic.id == Appointment.clinic_id)
        .join(AppointmentType, AppointmentType.id == Appointment.appointment_type_id)
    )


def _row_view(r: Any) -> AppointmentView:
    return AppointmentView(
        id=r.id,
        organization_id=r.organization_id,
        patient_id=r.patient_id,
        patient_name=f"{r.given_name} {r.family_name}".strip(),
        practitioner_id=r.practitioner_id,
        practitioner_name=r.practitioner_name,
        clinic_id=r.clinic_id,
        clinic_name=r.clinic_name,
        clinic_timezone=r.timezone,
        appointment_type_id=r.appointment_type_id,
        appointment_type_code=r.code,
        appointment_type_name=r.type_name,
        start_at=r.start_at,
        end_at=r.end_at,
        duration_minutes=r.duration_minutes,
        status=r.status,
        notes=r.notes,
        cancellation_category=r.cancellation_category,
        cancellation_reason=r.cancellation_reason,
        booked_at=r.booked_at,
        version=r.version,
        date_only=r.date_only,
    )


def _local_day_bounds(day: date, timezone: str) -> tuple[datetime, datetime]:
    tz = ZoneInfo(timezone)
    return (
        datetime.combine(day, time(0), tz),
        datetime.combine(day + timedelta(days=1), time(0), tz),
    )


def get_today_appointments(
    ctx: AppContext,
    organization_id: int,
    practitioner_id: int | None = None,
    clinic_id: int | None = None,
    include_cancelled: bool = True,
    actor: Actor | None = None,
) -> list[AppointmentView]:
    """Today's appointments ordered by time (then practitioner).

    "Today" is each clinic's own local date at ``ctx.clock()``: for the whole organization
    (clinics in several time zones) an appointment is listed when it starts on today's
    date where it takes place, which is what the people at that clinic call today.

    With an ``actor`` (a page's user), it needs ``view_today`` in its own organization,
    and a user without ``all_practitioners`` gets only their own practitioner's day
    (asking for another practitioner is refused).
    """
    if actor is not None:
        require(actor, Permission.VIEW_TODAY)
        if not actor.is_system and actor.organization_id != organization_id:
            raise PermissionDenied("You can only see your own organization's appointments.")
        practitioner_id = require_practitioner_scope(actor, practitioner_id)
    now = ctx.clock()
    with ctx.db.read() as s:
        zones_q = select(Clinic.timezone).where(Clinic.organization_id == organization_id)
        if clinic_id is not None:
            zones_q = zones_q.where(Clinic.id == clinic_id)
        zones = sorted(set(s.scalars(zones_q.distinct())))
        if not zones:
            return []
        windows = []
        for tz in zones:
            lo, hi = _local_day_bounds(now.astimezone(ZoneInfo(tz)).date(), tz)
            windows.append(
                and_(Clinic.timezone == tz, Appointment.start_at >= lo, Appointment.start_at < hi)
            )
        stmt = _select().where(Appointment.organization_id == organization_id, or_(*windows))
        if practitioner_id is not None:
            stmt = stmt.where(Appointment.practitioner_id == practitioner_id)
        if clinic_id is not None:
            stmt = stmt.where(Appointment.clinic_id == clinic_id)
        if not include_cancelled:
            stmt = stmt.where(Appointment.status != "cancelled")
        stmt = stmt.order_by(Appointment.start_at, Practitioner.name, Appointment.id)
        return [_row_view(r) for r in s.execute(stmt)]


@dataclass(frozen=True)
class AppointmentSummary:
    total: int
    by_status: dict[str, int] = field(default_factory=dict)
    # Keyed by the appointment type's name.
    by_type: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class UpcomingAppointments:
    rows: list[AppointmentView]
    summary: AppointmentSummary | None = None
    # True when ``limit`` cut the list (the summary still counts everything).
    truncated: bool = False


def _bounds(s: Session, organization_id: int, start: date | datetime, end: date | datetime) -> Any:
    """Datetimes are taken as [start, end); dates as whole days, end included, in the
    organization's time zone."""
    if isinstance(start, datetime) and isinstance(end, datetime):
        if start.tzinfo is None or end.tzinfo is None:
            raise BookingError("INVALID_RANGE", "The range needs times with a time zone.")
        return start, end
    org = s.get(Organization, organization_id)
    if org is None:
        raise BookingError("ORGANIZATION_NOT_FOUND", "This organization was not found.")
    first = start.date() if isinstance(start, datetime) else start
    last = end.date() if isinstance(end, datetime) else end
    return _local_day_bounds(first, org.timezone)[0], _local_day_bounds(last, org.timezone)[1]


def get_upcoming_appointments(
    ctx: AppContext,
    organization_id: int,
    start: date | datetime,
    end: date | datetime,
    practitioner_id: int | None = None,
    patient_id: int | None = None,
    with_summary: bool = False,
    include_cancelled: bool = True,
    limit: int | None = None,
    clinic_id: int | None = None,
) -> UpcomingAppointments:
    """Appointments starting in the range, ordered by time, optionally for one
    practitioner, one patient and/or one clinic; ``with_summary`` adds counts by status
    and by type."""
    with ctx.db.read() as s:
        lo, hi = _bounds(s, organization_id, start, end)
        if hi <= lo:
            raise BookingError("INVALID_RANGE", "The end of the range is before its start.")
        where = [
            Appointment.organization_id == organization_id,
            Appointment.start_at >= lo,
            Appointment.start_at < hi,
        ]
        if practitioner_id is not None:
            where.append(Appointment.practitioner_id == practitioner_id)
        if patient_id is not None:
            where.append(Appointment.patient_id == patient_id)
        if clinic_id is not None:
            where.append(Appointment.clinic_id == clinic_id)
        if not include_cancelled:
            where.append(Appointment.status != "cancelled")
        stmt = (
            _select()
            .where(*where)
            .order_by(Appointment.start_at, Practitioner.name, Appointment.id)
        )
        if limit is not None:
            stmt = stmt.limit(limit + 1)
        rows = [_row_view(r) for r in s.execute(stmt)]
        truncated = limit is not None and len(rows) > limit
        if truncated:
            rows = rows[:limit]
        summary = None
        if with_summary:
            counts = s.execute(
                select(Appointment.status, AppointmentType.name, func.count())
                .join(AppointmentType, AppointmentType.id == Appointment.appointment_type_id)
                .where(*where)
                .group_by(Appointment.status, AppointmentType.name)
            ).all()
            by_status: dict[str, int] = {}
            by_type: dict[str, int] = {}
            for status, type_name, n in counts:
                by_status[status] = by_status.get(status, 0) + int(n)
                by_type[type_name] = by_type.get(type_name, 0) + int(n)
            summary = AppointmentSummary(sum(by_status.values()), by_status, by_type)
        return UpcomingAppointments(rows, summary, truncated)
