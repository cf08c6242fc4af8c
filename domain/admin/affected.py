"""Which future bookings an administration change touches.

Two questions, asked inside the change's own transaction:

- ``colliding``: the upcoming appointments an exception (leave, holiday, closure) overlaps,
  so staff can reschedule them; the exception never cancels anything.
- ``stranded``: the upcoming appointments that lie inside the practitioner's schedule now
  and would lie outside it after the change (hours shortened, block ended, assignment
  ended, clinic time zone changed, a block restricted to another appointment type). The
  test is the booking rule's own schedule check (``PractitionerDay.verdict`` without
  bookings or exceptions), so "inside the schedule" means exactly what booking means.

"Upcoming": not cancelled, not finished (completed, no-show) and not yet over.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from data.availability_queries import fetch_schedules
from data.models import Appointment, AppointmentType, Clinic, Patient, Practitioner
from domain.admin.errors import ConfirmationRequired
from domain.availability import blocks_from_rows
from domain.booking_rules import OrgRules, PractitionerDay
from domain.slots import ScheduleBlock, local_date, to_ts

UPCOMING_STATUSES: tuple[str, ...] = ("pending", "booked", "confirmed", "arrived", "in-progress")
# Bookings named one by one in an event payload (every id is kept, and the count).
MAX_LISTED = 200


@dataclass(frozen=True)
class AffectedAppointment:
    """A booking an administration change concerns, with what staff need to call the
    patient and rebook: who, when (clinic-local), where, with whom."""

    id: int
    start: datetime
    end: datetime
    status: str
    patient_id: int
    patient_name: str
    patient_phone: str | None
    practitioner_id: int
    practitioner_name: str
    clinic_id: int
    clinic_name: str
    timezone: str
    appointment_type_id: int
    appointment_type: str

    @property
    def when(self) -> str:
        tz = ZoneInfo(self.timezone)
        s, e = self.start.astimezone(tz), self.end.astimezone(tz)
        return f"{s:%a %d %b %Y %H:%M}–{e:%H:%M}"

    def summary(self) -> dict[str, Any]:
        """For event payloads: enough to read the history without joining."""
        return {
            "appointment_id": self.id,
            "start": self.start.isoformat(),
            "patient": self.patient_name,
            "practitioner": self.practitioner_name,
            "clinic": self.clinic_name,
        }


def upcoming(
    session: Session,
    organization_id: int,
    now: datetime,
    *,
    practitioner_ids: Collection[int] | None = None,
    clinic_id: int | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[AffectedAppointment]:
    """Upcoming appointments of some practitioners and/or a clinic, optionally only those
    overlapping [start, end); by start."""
    stmt = (
        select(
            Appointment.id,
            Appointment.start_at,
            Appointment.end_at,
            Appointment.status,
            Patient.id,
            Patient.given_name,
            Patient.family_name,
            Patient.phone,
            Practitioner.id,
            Practitioner.name,
            Clinic.id,
            Clinic.name,
            Clinic.timezone,
            AppointmentType.id,
            AppointmentType.name,
        )
        .join(Patient, Patient.id == Appointment.patient_id)
        .join(Practitioner, Practitioner.id == Appointment.practitioner_id)
        .join(Clinic, Clinic.id == Appointment.clinic_id)
        .join(AppointmentType, AppointmentType.id == Appointment.appointment_type_id)
        .where(
            Appointment.organization_id == organization_id,
            Appointment.status.in_(UPCOMING_STATUSES),
            Appointment.end_at > (now if start is None else max(now, start)),
        )
        .order_by(Appointment.start_at, Appointment.id)
    )
    if practitioner_ids is not None:
        if not practitioner_ids:
            return []
        stmt = stmt.where(Appointment.practitioner_id.in_(sorted(practitioner_ids)))
    if clinic_id is not None:
        stmt = stmt.where(Appointment.clinic_id == clinic_id)
    if end is not None:
        stmt = stmt.where(Appointment.start_at < end)
    return [
        AffectedAppointment(
            id=r[0],
            start=r[1],
            end=r[2],
            status=r[3],
            patient_id=r[4],
            patient_name=f"{r[5]} {r[6]}".strip(),
            patient_phone=r[7],
            practitioner_id=r[8],
            practitioner_name=r[9],
            clinic_id=r[10],
            clinic_name=r[11],
            timezone=r[12],
            appointment_type_id=r[13],
            appointment_type=r[14],
        )
        for r in session.execute(stmt)
    ]


def colliding(
    session: Session,
    organization_id: int,
    now: datetime,
    *,
    start: datetime,
    end: datetime,
    practitioner_id: int | None,
    clinic_id: int | None,
) -> list[AffectedAppointment]:
    """The upcoming appointments inside an exception's scope that overlap its time."""
    return upcoming(
        session,
        organization_id,
        now,
        practitioner_ids=None if practitioner_id is None else [practitioner_id],
        clinic_id=clinic_id,
        start=start,
        end=end,
    )


# --------------------------------------------------------------------------- coverage


def _active_zones(session: Session, organization_id: int) -> dict[int, str]:
    rows = session.execute(
        select(Clinic.id, Clinic.timezone).where(
            Clinic.organization_id == organization_id, Clinic.active.is_(True)
        )
    )
    return {int(cid): tz for cid, tz in rows}


def covered(
    session: Session, organization_id: int, appointments: Sequence[AffectedAppointment]
) -> set[int]:
    """Ids of the appointments lying wholly inside their practitioner's schedule at their
    clinic (the booking rule's OUTSIDE_SCHEDULE and WRONG_TYPE_FOR_BLOCK checks), as the
    session sees the schedules now (pending changes included)."""
    if not appointments:
        return set()
    session.flush()
    zones = _active_zones(session, organization_id)
    pids = sorted({a.practitioner_id for a in appointments})
    first = min(a.start for a in appointments).date() - timedelta(days=2)
    last = max(a.end for a in appointments).date() + timedelta(days=2)
    rows = fetch_schedules(session.connection(), organization_id, pids, first, last)
    return covered_by(blocks_from_rows(rows), zones, appointments)


def covered_by(
    blocks: dict[int, list[ScheduleBlock]],
    zones: dict[int, str],
    appointments: Iterable[AffectedAppointment],
) -> set[int]:
    """The pure half of ``covered``."""
    days: dict[tuple[int, date], PractitionerDay] = {}
    out: set[int] = set()
    rules = OrgRules()
    for a in appointments:
        zone = zones.get(a.clinic_id)
        if zone is None:
            continue  # an inactive clinic offers nothing
        start_ts, end_ts = to_ts(a.start), to_ts(a.end)
        day = local_date(zone, start_ts)
        plan = days.get((a.practitioner_id, day))
        if plan is None:
            plan = days[(a.practitioner_id, day)] = PractitionerDay(
                a.practitioner_id, day, blocks.get(a.practitioner_id, []), zones, [], [], rules
            )
        verdict = plan.verdict(a.clinic_id, start_ts, end_ts, a.appointment_type_id)
        if verdict is None:
            out.add(a.id)
    return out


def confirm_or_refuse(
    affected: Sequence[AffectedAppointment],
    confirmed_appointment_ids: Collection[int],
    message: str,
) -> None:
    """Refuse with the list unless the caller confirmed every affected appointment (a
    confirmation given for an older list does not cover a booking made since)."""
    if not affected:
        return
    confirmed = set(confirmed_appointment_ids or ())
    if any(a.id not in confirmed for a in affected):
        raise ConfirmationRequired(message, affected)


def count_text(n: int) -> str:
    return f"{n} upcoming appointment{'s' if n != 1 else ''}"


def counted(n: int, one: str, many: str) -> str:
    """'1 upcoming appointment remains ...' / '3 upcoming appointments remain ...'."""
    return f"{count_text(n)} {one if n == 1 else many}"


def outside_note(n: int) -> str:
    return counted(
        n,
        "now lies outside the schedule: reschedule it.",
        "now lie outside the schedule: reschedule them.",
    )


def recorded(affected: Sequence[AffectedAppointment]) -> dict[str, Any]:
    """The bookings a change concerns, for its event payload: how many, every id, and
    the first ``MAX_LISTED`` with who, when and where."""
    return {
        "count": len(affected),
        "ids": [a.id for a in affected],
        "appointments": [a.summary() for a in affected[:MAX_LISTED]],
    }
