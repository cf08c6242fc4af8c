"""Schedule exceptions: a practitioner's leave, a holiday, a clinic closure.

An exception takes time out of the schedules it applies to: every slot it touches stops
being offered at once. It never cancels a booking: the upcoming appointments it collides
with are returned (and recorded on its activity event) so staff can reschedule them.

Scope by reason:

- ``leave``: one practitioner (at every clinic, or at one clinic when given);
- ``clinic-closure``: everyone at one clinic;
- ``holiday``: everyone at one clinic, or the whole organization when no clinic is given;
- ``other``: any of the above.

Dates and times are entered on the clinic's clock: the clinic's zone when one is given,
else the zone of the practitioner's clinics when they share one, else the organization's
(``exception_zone`` tells a form which). No times: whole days, from the start of the
first date to the end of the last.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from data.models import Clinic, ClinicAssignment, Practitioner, Schedule, ScheduleException
from data.vocabulary import EXCEPTION_REASONS, MAX_REASON_LENGTH
from domain import waitlist
from domain.actor import Actor
from domain.admin import affected as aff
from domain.admin._common import (
    authorize,
    get_clinic,
    get_organization_row,
    get_practitioner,
    lock_practitioners,
    record,
)
from domain.admin.errors import (
    CLINIC_REQUIRED,
    IN_USE,
    INVALID_REASON,
    INVALID_TEXT,
    NOT_FOUND,
    PRACTITIONER_REQUIRED,
    AdminError,
)
from domain.admin.results import AdminResult
from domain.admin.rules import local_range, parse_date, parse_time
from domain.availability import invalidate_organization, invalidate_practitioner
from domain.context import AppContext
from domain.text import TextError, clean_text

REASON_LABELS = {
    "leave": "Leave",
    "holiday": "Holiday",
    "clinic-closure": "Clinic closure",
    "other": "Unavailable",
}


def _zone(
    s: Session, organization_id: int, practitioner_id: int | None, clinic_id: int | None
) -> str:
    if clinic_id is not None:
        return get_clinic(s, organization_id, clinic_id).timezone
    org = get_organization_row(s, organization_id)
    if practitioner_id is not None:
        zones = set(
            s.scalars(
                select(Clinic.timezone)
                .join(ClinicAssignment, ClinicAssignment.clinic_id == Clinic.id)
                .where(
                    ClinicAssignment.practitioner_id == practitioner_id,
                    Clinic.organization_id == organization_id,
                    Clinic.active.is_(True),
                )
            )
        )
        if len(zones) == 1:
            return zones.pop()
    return org.timezone


def exception_zone(
    ctx: AppContext,
    organization_id: int,
    practitioner_id: int | None = None,
    clinic_id: int | None = None,
) -> str:
    """The time zone an exception's dates and times are read in (see the module doc)."""
    with ctx.db.read() as s:
        return _zone(s, organization_id, practitioner_id, clinic_id)


def _check_scope(reason: object, practitioner_id: int | None, clinic_id: int | None) -> str:
    if reason not in EXCEPTION_REASONS:
        raise AdminError(
            INVALID_REASON, "Choose what it is: leave, holiday, clinic closure or other.", "reason"
        )
    assert isinstance(reason, str)
    if reason == "leave" and practitioner_id is None:
        raise AdminError(
            PRACTITIONER_REQUIRED, "Leave is for a practitioner: choose one.", "practitioner"
        )
    if reason == "clinic-closure" and clinic_id is None:
        raise AdminError(CLINIC_REQUIRED, "Choose the clinic that closes.", "clinic")
    if reason in ("clinic-closure", "holiday") and practitioner_id is not None:
        raise AdminError(
            INVALID_REASON,
            f"A {REASON_LABELS[reason].lower()} applies to everyone; for one practitioner "
            "choose Leave.",
            "reason",
        )
    return reason


def create_exception(
    ctx: AppContext,
    actor: Actor,
    organization_id: int,
    *,
    reason: str | None,
    practitioner_id: int | None = None,
    clinic_id: int | None = None,
    start_date: object,
    end_date: object = None,
    start_time: object = None,
    end_time: object = None,
    note: str | None = None,
) -> AdminResult:
    """Record an exception; returns the upcoming appointments it collides with."""
    authorize(actor, organization_id)
    kind = _check_scope(reason, practitioner_id, clinic_id)
    first = parse_date(start_date, "start", "The start date")
    assert first is not None
    last = parse_date(end_date, "end", "The end date", required=False) or first
    from_t = None if start_time in (None, "") else parse_time(start_time, "start", "Start time")
    to_t = None if end_time in (None, "") else parse_time(end_time, "end", "End time")
    try:
        clean_note = clean_text(note, field="note", max_length=MAX_REASON_LENGTH, multiline=True)
    except TextError as exc:
        raise AdminError(INVALID_TEXT, exc.message, "note") from exc
    now = ctx.clock()
    with ctx.db.transaction(write_lock=True) as s:
        prac = (
            get_practitioner(s, organization_id, practitioner_id)
            if practitioner_id is not None
            else None
        )
        clinic = get_clinic(s, organization_id, clinic_id) if clinic_id is not None else None
        zone = _zone(s, organization_id, practitioner_id, clinic_id)
        start, end = local_range(zone, first, from_t, last, to_t)
        lock_practitioners(
            s, organization_id, _practitioners_in_scope(s, organization_id, prac, clinic)
        )
        row = ScheduleException(
            organization_id=organization_id,
            practitioner_id=prac.id if prac else None,
            clinic_id=clinic.id if clinic else None,
            start_at=start,
            end_at=end,
            reason=kind,
            note=clean_note,
            created_at=now,
        )
        s.add(row)
        s.flush()
        hits = aff.colliding(
            s,
            organization_id,
            now,
            start=start,
            end=end,
            practitioner_id=row.practitioner_id,
            clinic_id=row.clinic_id,
        )
        label = describe(kind, prac.name if prac else None, clinic.name if clinic else None)
        record(
            s,
            actor,
            organization_id,
            "EXCEPTION_CREATED",
            {
                "exception_id": row.id,
                "reason": kind,
                "practitioner_id": row.practitioner_id,
                "practitioner": prac.name if prac else None,
                "clinic_id": row.clinic_id,
                "clinic": clinic.name if clinic else None,
                "start": start.isoformat(),
                "end": end.isoformat(),
                "timezone": zone,
                "note": clean_note,
                "colliding": aff.recorded(hits),
            },
            now,
            to_reschedule=hits,
            subject=f"{label}, {span_text(start, end, zone)}, collides with",
        )
        exception_id = row.id
    _invalidate(ctx, organization_id, practitioner_id)
    notes = (
        [
            aff.counted(
                len(hits),
                "collides with it and is still booked: reschedule it.",
                "collide with it and are still booked: reschedule them.",
            )
        ]
        if hits
        else []
    )
    return AdminResult(exception_id, f"{label} saved ({span_text(start, end, zone)}).", hits, notes)


def _practitioners_in_scope(
    s: Session, organization_id: int, prac: Practitioner | None, clinic: Clinic | None
) -> list[int]:
    if prac is not None:
        return [prac.id]
    stmt = select(Practitioner.id).where(Practitioner.organization_id == organization_id)
    if clinic is not None:
        stmt = select(Schedule.practitioner_id).where(Schedule.clinic_id == clinic.id).distinct()
    return list(s.scalars(stmt))


def _invalidate(ctx: AppContext, organization_id: int, practitioner_id: int | None) -> None:
    if practitioner_id is not None:
        invalidate_practitioner(ctx, organization_id, practitioner_id)
    else:
        invalidate_organization(ctx, organization_id)


def _get_exception(s: Session, organization_id: int, exception_id: object) -> ScheduleException:
    row = (
        s.get(ScheduleException, exception_id)
        if isinstance(exception_id, int) and exception_id > 0
        else None
    )
    if row is None or row.organization_id != organization_id:
        raise AdminError(NOT_FOUND, "This exception no longer exists.")
    return row


def delete_exception(
    ctx: AppContext, actor: Actor, organization_id: int, exception_id: int
) -> AdminResult:
    """Withdraw an exception that is not over yet: its time is offered again at once.
    Past exceptions stay on record (analytics count them)."""
    authorize(actor, organization_id)
    now = ctx.clock()
    directory = waitlist.directory_for(ctx, organization_id)
    with ctx.db.transaction(write_lock=True) as s:
        row = _get_exception(s, organization_id, exception_id)
        if row.end_at <= now:
            raise AdminError(IN_USE, "This exception is over; it stays on record.")
        prac = s.get(Practitioner, row.practitioner_id) if row.practitioner_id else None
        clinic = s.get(Clinic, row.clinic_id) if row.clinic_id else None
        # The freed time may be offered to the waitlist (holds): the booking locks.
        in_scope = _practitioners_in_scope(s, organization_id, prac, clinic)
        lock_practitioners(s, organization_id, in_scope)
        zone = _zone(s, organization_id, row.practitioner_id, row.clinic_id)
        label = describe(row.reason, prac.name if prac else None, clinic.name if clinic else None)
        payload: dict[str, Any] = {
            "exception_id": row.id,
            "reason": row.reason,
            "practitioner_id": row.practitioner_id,
            "practitioner": prac.name if prac else None,
            "clinic_id": row.clinic_id,
            "clinic": clinic.name if clinic else None,
            "start": row.start_at.isoformat(),
            "end": row.end_at.isoformat(),
            "timezone": zone,
            "note": row.note,
        }
        practitioner_id = row.practitioner_id
        span = span_text(row.start_at, row.end_at, zone)
        freed = (row.start_at, row.end_at)
        s.delete(row)
        record(s, actor, organization_id, "EXCEPTION_DELETED", payload, now)
        if directory is not None:
            waitlist.offer_after_exception_withdrawn(
                ctx, s, organization_id, directory, now, actor, in_scope, *freed
            )
    _invalidate(ctx, organization_id, practitioner_id)
    return AdminResult(exception_id, f"{label} ({span}) withdrawn: that time is bookable again.")


def exception_collisions(
    ctx: AppContext, organization_id: int, exception_id: int
) -> list[aff.AffectedAppointment]:
    """The upcoming appointments an existing exception collides with (still booked)."""
    with ctx.db.read() as s:
        row = _get_exception(s, organization_id, exception_id)
        return aff.colliding(
            s,
            organization_id,
            ctx.clock(),
            start=row.start_at,
            end=row.end_at,
            practitioner_id=row.practitioner_id,
            clinic_id=row.clinic_id,
        )


def describe(reason: str, practitioner: str | None, clinic: str | None) -> str:
    """'Leave of Dr. Ana Silva', 'Clinic closure of Downtown Clinic', 'Holiday (all
    clinics)'."""
    label = REASON_LABELS.get(reason, reason)
    if practitioner and clinic:
        return f"{label} of {practitioner} at {clinic}"
    if practitioner:
        return f"{label} of {practitioner}"
    if clinic:
        return f"{label} at {clinic}"
    return f"{label} (all clinics)"


def span_text(start: datetime, end: datetime, zone: str) -> str:
    """'Sat 21 Mar 2026' (a whole day), 'Sat 21 Mar 2026 – Mon 23 Mar 2026' (whole days),
    or with times on the clinic's clock."""
    tz = ZoneInfo(zone)
    s, e = start.astimezone(tz), end.astimezone(tz)
    if s.time() == time(0) and e.time() == time(0):
        last = (e - timedelta(days=1)).date()
        if last == s.date():
            return f"{s:%a %d %b %Y}, all day"
        return f"{s:%a %d %b %Y} – {last:%a %d %b %Y}, all day"
    if s.date() == e.date():
        return f"{s:%a %d %b %Y} {s:%H:%M}–{e:%H:%M}"
    return f"{s:%a %d %b %Y %H:%M} – {e:%a %d %b %Y %H:%M}"
