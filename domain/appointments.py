"""AppointmentService: the only way appointments change.

Every writer here is one unit of work: it opens ONE transaction (``write_lock=True``, i.e.
BEGIN IMMEDIATE on SQLite), takes the row locks of ``data.locks`` when the change can make
a practitioner's time more taken, validates, writes the appointment, its activity event and
its notifications, and commits; any failure rolls all of it back. Availability caches are
invalidated right after the commit (a reader between commit and invalidation may see the
old availability for that instant; the cache TTL bounds anything missed, e.g. a crash).

Booking validation order (create, reschedule and reinstate alike), first failure wins:

1. the patient exists in the organization                    PATIENT_NOT_FOUND
2. the practitioner exists and is active                      PRACTITIONER_NOT_FOUND,
                                                              PRACTITIONER_INACTIVE
3. the clinic exists, is open, and the practitioner is        CLINIC_NOT_FOUND, CLINIC_INACTIVE,
   assigned to it on that (clinic-local) date                 NOT_ASSIGNED_TO_CLINIC
   then the appointment type and the duration                 APPOINTMENT_TYPE_NOT_FOUND,
                                                              APPOINTMENT_TYPE_INACTIVE,
                                                              INVALID_DURATION
4-6. the availability engine's rule, the very one that        IN_PAST, INSIDE_MIN_NOTICE,
   decides which slots are offered: time window, schedule     BEYOND_HORIZON, OUTSIDE_SCHEDULE,
   block and exceptions, capacity, buffer                     EXCEPTION, WRONG_TYPE_FOR_BLOCK,
                                                              CONFLICT, BUFFER
7. the patient is not already somewhere else at that time     PATIENT_OVERLAP

An id of another organization fails exactly like an id that does not exist.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from data.locks import lock_appointment, lock_patient, lock_practitioners
from data.models import (
    ActivityEvent,
    Appointment,
    AppointmentSeries,
    AppointmentType,
    Clinic,
    ClinicAssignment,
    Encounter,
    Organization,
    Patient,
    Practitioner,
)
from data.vocabulary import MAX_NOTES_LENGTH, MAX_REASON_LENGTH
from domain import activity, holds, waitlist
from domain.activity import (
    NotifySettings,
    Recipient,
    patient_recipient,
    practitioner_recipient,
    role_recipient,
)
from domain.actor import Actor
from domain.availability import (
    AvailabilityError,
    get_directory,
    invalidate_appointment,
    practitioner_day_for,
)
from domain.booking_rules import (
    MAX_APPOINTMENT_MINUTES,
    BookingRequest,
    BookingWindow,
    check_booking,
)
from domain.context import AppContext
from domain.errors import BookingError, clean_field
from domain.permissions import Permission, PermissionDenied, require, require_practitioner_scope
from domain.series import Recurrence, in_scope, occurrence_starts, wall_clock
from domain.timefmt import fmt_span, fmt_when
from domain.workflow import (
    PATIENT_BUSY_STATUSES,
    RESCHEDULABLE_STATUSES,
    Transition,
    allowed_next,
    path_to,
    plan_transition,
    status_label,
)

# One limit for availability and booking (the rule's): longer is a typing error.
MAX_DURATION_MINUTES = MAX_APPOINTMENT_MINUTES
# The form field each availability-rule refusal points at (default: the start).
_RULE_FIELDS = {"INVALID_DURATION": "duration", "WRONG_TYPE_FOR_BLOCK": "appointment_type"}
COORDINATOR_ROLE = "coordinator"


# --------------------------------------------------------------------------- read model


@dataclass(frozen=True)
class AppointmentView:
    """One appointment as pages show it."""

    id: int
    organization_id: int
    patient_id: int
    patient_name: str
    practitioner_id: int
    practitioner_name: str
    clinic_id: int
    clinic_name: str
    clinic_timezone: str
    appointment_type_id: int
    appointment_type_code: str
    appointment_type_name: str
    start_at: datetime
    end_at: datetime
    duration_minutes: int
    status: str
    notes: str | None
    cancellation_category: str | None
    cancellation_reason: str | None
    booked_at: datetime
    version: int
    date_only: bool = False
    # The recurring series it belongs to (None: a single appointment).
    series_id: int | None = None

    @property
    def local_start(self) -> datetime:
        return self.start_at.astimezone(ZoneInfo(self.clinic_timezone))

    @property
    def local_end(self) -> datetime:
        return self.end_at.astimezone(ZoneInfo(self.clinic_timezone))

    @property
    def local_date(self) -> date:
        return self.local_start.date()

    @property
    def allowed_next(self) -> tuple[str, ...]:
        return allowed_next(self.status)


def _view(
    a: Appointment,
    patient: Patient,
    practitioner: Practitioner,
    clinic: Clinic,
    kind: AppointmentType,
) -> AppointmentView:
    return AppointmentView(
        id=a.id,
        organization_id=a.organization_id,
        patient_id=a.patient_id,
        patient_name=patient.full_name,
        practitioner_id=a.practitioner_id,
        practitioner_name=practitioner.name,
        clinic_id=a.clinic_id,
        clinic_name=clinic.name,
        clinic_timezone=clinic.timezone,
        appointment_type_id=a.appointment_type_id,
        appointment_type_code=kind.code,
        appointment_type_name=kind.name,
        start_at=a.start_at,
        end_at=a.end_at,
        duration_minutes=a.duration_minutes,
        status=a.status,
        notes=a.notes,
        cancellation_category=a.cancellation_category,
        cancellation_reason=a.cancellation_reason,
        booked_at=a.booked_at,
        version=a.version,
        date_only=a.date_only,
        series_id=a.series_id,
    )


def get_appointment(ctx: AppContext, organization_id: int, appointment_id: int) -> AppointmentView:
    with ctx.db.read() as s:
        a = _get(s, organization_id, appointment_id)
        return _view_of(s, a)


def _view_of(s: Session, a: Appointment) -> AppointmentView:
    return _view(
        a,
        s.get_one(Patient, a.patient_id),
        s.get_one(Practitioner, a.practitioner_id),
        s.get_one(Clinic, a.clinic_id),
        s.get_one(AppointmentType, a.appointment_type_id),
    )


def _get(s: Session, organization_id: int, appointment_id: int) -> Appointment:
    a = s.get(Appointment, appointment_id)
    if a is None or a.organization_id != organization_id:
        raise BookingError("APPOINTMENT_NOT_FOUND", "This appointment was not found.")
    return a


# --------------------------------------------------------------------------- validation


@dataclass
class _Target:
    """An appointment-to-be that passed validation."""

    patient: Patient
    practitioner: Practitioner
    clinic: Clinic
    kind: AppointmentType
    start: datetime
    duration: int
    # The capacity of the slot it sits in: 1 makes it exclusive (see the constraint).
    capacity: int

    @property
    def end(self) -> datetime:
        return self.start + timedelta(minutes=self.duration)

    @property
    def local_date(self) -> date:
        return self.start.astimezone(ZoneInfo(self.clinic.timezone)).date()


def _check_start(start: Any) -> datetime:
    if not isinstance(start, datetime) or start.tzinfo is None or start.utcoffset() is None:
        raise BookingError(
            "INVALID_START", "Choose a date and a start time for the appointment.", "start"
        )
    return start


def _check_duration(duration: Any) -> int:
    if isinstance(duration, bool) or not isinstance(duration, int):
        raise BookingError(
            "INVALID_DURATION", "The duration must be a whole number of minutes.", "duration"
        )
    if duration <= 0:
        raise BookingError(
            "INVALID_DURATION", "The duration must be at least one minute.", "duration"
        )
    if duration > MAX_DURATION_MINUTES:
        raise BookingError(
            "INVALID_DURATION",
            f"An appointment can last at most {MAX_DURATION_MINUTES // 60} hours "
            f"({MAX_DURATION_MINUTES} minutes); {duration} minutes is too long.",
            "duration",
        )
    return duration


def _validate(
    ctx: AppContext,
    s: Session,
    org: Organization,
    now: datetime,
    *,
    patient: Patient | None,
    practitioners: dict[int, Practitioner],
    practitioner_id: int,
    clinic_id: int,
    appointment_type_id: int,
    start: datetime,
    duration: int | None,
    require_active_type: bool = True,
    exclude_appointment_id: int | None = None,
    ignore_holds_of_user: int | None = None,
    ignore_hold_id: int | None = None,
) -> _Target:
    # 1. patient
    if patient is None:
        raise BookingError("PATIENT_NOT_FOUND", "This patient was not found.", "patient")
    # 2. practitioner
    practitioner = practitioners.get(practitioner_id)
    if practitioner is None:
        raise BookingError(
            "PRACTITIONER_NOT_FOUND", "This practitioner was not found.", "practitioner"
        )
    if not practitioner.active:
        raise BookingError(
            "PRACTITIONER_INACTIVE",
            f"{practitioner.name} is no longer active and cannot take appointments.",
            "practitioner",
        )
    if practitioner.is_placeholder:
        raise BookingError(
            "PRACTITIONER_INACTIVE",
            f"{practitioner.name} stands in for imported history and cannot take appointments.",
            "practitioner",
        )
    # 3. clinic and assignment on the clinic-local date
    clinic = s.get(Clinic, clinic_id)
    if clinic is None or clinic.organization_id != org.id:
        raise BookingError("CLINIC_NOT_FOUND", "This clinic was not found.", "clinic")
    if not clinic.active:
        raise BookingError("CLINIC_INACTIVE", f"{clinic.name} is closed for bookings.", "clinic")
    local_day = start.astimezone(ZoneInfo(clinic.timezone)).date()
    _check_assignment(s, practitioner, clinic, local_day)
    # ... then what the appointment is: type and duration
    kind = s.get(AppointmentType, appointment_type_id)
    if kind is None or kind.organization_id != org.id:
        raise BookingError(
            "APPOINTMENT_TYPE_NOT_FOUND", "This appointment type was not found.", "appointment_type"
        )
    if require_active_type and not kind.active:
        raise BookingError(
            "APPOINTMENT_TYPE_INACTIVE",
            f"'{kind.name}' appointments are no longer offered.",
            "appointment_type",
        )
    duration = _check_duration(kind.default_duration_minutes if duration is None else duration)
    target = _Target(patient, practitioner, clinic, kind, start, duration, capacity=1)
    # 4-6. schedule, exceptions, capacity, buffer, time window: the availability rule
    target.capacity = _availability_rule(
        ctx,
        s,
        org,
        target,
        now,
        exclude_appointment_id,
        ignore_holds_of_user=ignore_holds_of_user,
        ignore_hold_id=ignore_hold_id,
    )
    # 7. one patient, one place
    _check_patient_free(s, org, target, exclude_appointment_id)
    return target


def _check_assignment(s: Session, practitioner: Practitioner, clinic: Clinic, day: date) -> None:
    periods = s.execute(
        select(ClinicAssignment.active_from, ClinicAssignment.active_to).where(
            ClinicAssignment.practitioner_id == practitioner.id,
            ClinicAssignment.clinic_id == clinic.id,
        )
    ).all()
    if any(f <= day and (t is None or day <= t) for f, t in periods):
        return
    when = day.strftime("%a %d %b %Y")
    if not periods:
        message = f"{practitioner.name} does not work at {clinic.name}."
    else:
        spans = ", ".join(
            f"from {f:%d %b %Y}" + (f" to {t:%d %b %Y}" if t else "") for f, t in sorted(periods)
        )
        message = f"{practitioner.name} works at {clinic.name} only {spans}, not on {when}."
    raise BookingError("NOT_ASSIGNED_TO_CLINIC", message, "clinic")


def _availability_rule(
    ctx: AppContext,
    s: Session,
    org: Organization,
    target: _Target,
    now: datetime,
    exclude_appointment_id: int | None,
    *,
    ignore_holds_of_user: int | None = None,
    ignore_hold_id: int | None = None,
) -> int:
    """Validations 4-6 and the booking window, decided by the availability engine's rule
    on data read through this transaction (after its locks), so that whatever
    availability offers, booking accepts. Live slot holds take seats like appointments,
    except the booker's own (``ignore_*``), which the booking consumes. Returns the
    largest capacity among the slots the appointment takes (1: it has the practitioner
    to itself)."""
    request = BookingRequest(
        practitioner_id=target.practitioner.id,
        clinic_id=target.clinic.id,
        start=target.start,
        duration_minutes=target.duration,
        appointment_type_id=target.kind.id,
        exclude_appointment_id=exclude_appointment_id,
    )
    day = practitioner_day_for(
        ctx,
        s,
        org.id,
        request,
        now=now,
        ignore_holds_of_user=ignore_holds_of_user,
        ignore_hold_id=ignore_hold_id,
    )
    violation = check_booking(day, request, now)
    if violation is not None:
        raise BookingError(
            violation.code,
            violation.message,
            _RULE_FIELDS.get(violation.code, "start"),
            **dict(violation.details),
        )
    return day.slot_capacity(target.clinic.id, target.start, target.end)


def _check_patient_free(
    s: Session, org: Organization, target: _Target, exclude_appointment_id: int | None
) -> None:
    stmt = (
        select(
            Appointment.id,
            Appointment.start_at,
            Appointment.end_at,
            Practitioner.name,
            Clinic.name,
            Clinic.timezone,
        )
        .join(Practitioner, Practitioner.id == Appointment.practitioner_id)
        .join(Clinic, Clinic.id == Appointment.clinic_id)
        .where(
            Appointment.organization_id == org.id,
            Appointment.patient_id == target.patient.id,
            Appointment.status.in_(PATIENT_BUSY_STATUSES),
            # No appointment is longer than the maximum: this lower bound keeps the
            # (patient_id, start_at) index scan to the day instead of the whole history.
            Appointment.start_at > target.start - timedelta(minutes=MAX_DURATION_MINUTES),
            Appointment.start_at < target.end,
            Appointment.end_at > target.start,
        )
        .order_by(Appointment.start_at)
        .limit(1)
    )
    if exclude_appointment_id is not None:
        stmt = stmt.where(Appointment.id != exclude_appointment_id)
    row = s.execute(stmt).first()
    if row is None:
        return
    other_id, other_start, other_end, practitioner_name, clinic_name, tz = row
    raise BookingError(
        "PATIENT_OVERLAP",
        f"{target.patient.full_name} already has an appointment at that time: "
        f"{fmt_span(other_start, other_end, tz)} with {practitioner_name} at {clinic_name}.",
        "start",
        conflicting_appointment_id=other_id,
    )


def _authorize(actor: Actor, organization_id: int, *permissions: str) -> None:
    """The role check of ``domain.permissions`` (any of ``permissions``), and never for
    another organization than the actor's own."""
    if actor.organization_id is not None and actor.organization_id != organization_id:
        raise PermissionDenied("You can only work in your own organization.")
    require(actor, *permissions)


def _organization(s: Session, organization_id: int) -> Organization:
    org = s.get(Organization, organization_id)
    if org is None:
        raise BookingError("ORGANIZATION_NOT_FOUND", "This organization was not found.")
    return org


def _flush(s: Session) -> None:
    """Flush, turning the database's last-line refusals into the errors users see."""
    try:
        s.flush()
    except StaleDataError as exc:
        raise _stale() from exc
    except IntegrityError as exc:
        if getattr(exc.orig, "sqlstate", None) == "23P01":  # exclusion_violation
            raise BookingError(
                "CONFLICT",
                "The practitioner already has an appointment at that time.",
                "start",
            ) from exc
        raise


def _stale(who: str | None = None, when: str | None = None) -> BookingError:
    by = f" by {who}" if who else ""
    at = f" at {when}" if when else ""
    return BookingError(
        "STALE",
        f"This appointment was changed{by}{at} since you opened it. "
        "Reload it to see the change, then try again.",
    )


def _check_version(s: Session, a: Appointment, expected_version: int | None, tz: str) -> None:
    if expected_version is None or a.version == expected_version:
        return
    last = s.execute(
        select(ActivityEvent.actor_name, ActivityEvent.created_at)
        .where(ActivityEvent.appointment_id == a.id)
        .order_by(ActivityEvent.created_at.desc(), ActivityEvent.id.desc())
        .limit(1)
    ).first()
    if last is None:
        raise _stale()
    raise _stale(last[0], fmt_when(last[1], tz))


def _warm_rules(ctx: AppContext, organization_id: int) -> None:
    """Load the organization's booking settings (cached) BEFORE the booking transaction:
    on a cache miss they are read on a connection of their own, and taking a second
    connection while holding SQLite's write lock can wait forever on a pool that the
    queued bookings have emptied."""
    with contextlib.suppress(AvailabilityError):  # an unknown one is reported later
        get_directory(ctx, organization_id)


def _invalidate(
    ctx: AppContext, organization_id: int, spans: Iterable[tuple[int, datetime, datetime]]
) -> None:
    """Give freed or taken time back to availability, after the commit: each
    (practitioner, start, end) whose seats changed."""
    for practitioner_id, start, end in set(spans):
        invalidate_appointment(ctx, organization_id, practitioner_id, start, end)


# --------------------------------------------------------------------------- create


def create_appointment(
    ctx: AppContext,
    organization_id: int,
    *,
    patient_id: int,
    practitioner_id: int,
    clinic_id: int,
    start: datetime,
    appointment_type_id: int,
    actor: Actor,
    duration_minutes: int | None = None,
    notes: str | None = None,
    waitlist_offer_id: int | None = None,
) -> AppointmentView:
    """Book an appointment (status booked). ``duration_minutes`` defaults to the type's
    default duration. Raises BookingError naming the first check that fails.

    The booker's own slot holds of this practitioner (``domain.holds``) do not compete
    with the booking and end with it; ``waitlist_offer_id`` books an open waitlist offer
    (this patient, practitioner, clinic and start): its held seat is the one taken and
    the entry is fulfilled in the same transaction."""
    _authorize(actor, organization_id, Permission.BOOK)
    require_practitioner_scope(actor, practitioner_id)
    start = _check_start(start)
    notes = clean_field(notes, "notes", MAX_NOTES_LENGTH)
    now = ctx.clock()
    _warm_rules(ctx, organization_id)
    with ctx.db.transaction(write_lock=True) as s:
        org = _organization(s, organization_id)
        practitioners = lock_practitioners(s, org.id, [practitioner_id])
        patient = lock_patient(s, org.id, patient_id)
        offer, offer_hold = None, None
        if waitlist_offer_id is not None:
            offer, offer_hold = waitlist.open_offer_for_booking(
                s,
                org.id,
                waitlist_offer_id,
                now,
                patient_id=patient_id,
                practitioner_id=practitioner_id,
                clinic_id=clinic_id,
                start=start,
            )
        t = _validate(
            ctx,
            s,
            org,
            now,
            patient=patient,
            practitioners=practitioners,
            practitioner_id=practitioner_id,
            clinic_id=clinic_id,
            appointment_type_id=appointment_type_id,
            start=start,
            duration=duration_minutes,
            ignore_holds_of_user=actor.user_id,
            ignore_hold_id=offer_hold,
        )
        a, event = _insert(s, org, t, actor, now, notes)
        freed = holds.consume_user_holds(s, org.id, actor.user_id, t.practitioner.id)
        if offer is not None:
            freed += waitlist.fulfil_offer(s, offer, a.id, now)
        settings = NotifySettings.from_json(org.settings)
        when = fmt_span(t.start, t.end, t.clinic.timezone)
        if settings.practitioner:
            activity.notify(
                s,
                event,
                [practitioner_recipient(t.practitioner.id)],
                "New appointment",
                f"{t.patient.full_name}, {t.kind.name}, {when} at {t.clinic.name}.",
            )
        if settings.patient:
            activity.notify(
                s,
                event,
                [patient_recipient(t.patient)],
                "Appointment booked",
                f"Your {t.kind.name.lower()} appointment with {t.practitioner.name} at "
                f"{t.clinic.name}: {when}.",
            )
        view = _view(a, t.patient, t.practitioner, t.clinic, t.kind)
    _invalidate(ctx, org.id, [(t.practitioner.id, t.start, t.end), *freed])
    return view


def _insert(
    s: Session,
    org: Organization,
    t: _Target,
    actor: Actor,
    now: datetime,
    notes: str | None,
    series_id: int | None = None,
) -> tuple[Appointment, ActivityEvent]:
    """Write a validated booking and its APPOINTMENT_CREATED event (no notifications:
    a single booking and a series word theirs differently)."""
    a = Appointment(
        organization_id=org.id,
        patient_id=t.patient.id,
        practitioner_id=t.practitioner.id,
        clinic_id=t.clinic.id,
        appointment_type_id=t.kind.id,
        start_at=t.start,
        end_at=t.end,
        duration_minutes=t.duration,
        status="booked",
        notes=notes,
        booked_at=now,
        created_at=now,
        updated_at=now,
        created_by_user_id=actor.user_id,
        exclusive=t.capacity == 1,
        series_id=series_id,
    )
    s.add(a)
    _flush(s)
    payload = _created_payload(a, t)
    if series_id is not None:
        payload["series_id"] = series_id
    event = activity.record_event(
        s,
        organization_id=org.id,
        event_type=activity.EVENT_CREATED,
        appointment_id=a.id,
        payload=payload,
        actor=actor,
        at=now,
    )
    return a, event


def book_waitlist_offer(
    ctx: AppContext,
    organization_id: int,
    offer_id: int,
    actor: Actor,
    notes: str | None = None,
) -> AppointmentView:
    """Book an open waitlist offer as offered (``create_appointment`` with the offer):
    the entry leaves the waitlist, booked."""
    _authorize(actor, organization_id, Permission.BOOK)
    target = waitlist.offer_target(ctx, organization_id, offer_id)
    return create_appointment(
        ctx, organization_id, actor=actor, notes=notes, waitlist_offer_id=offer_id, **target
    )


def _created_payload(a: Appointment, t: _Target) -> dict[str, Any]:
    return {
        "patient_id": t.patient.id,
        "patient_name": t.patient.full_name,
        "practitioner_id": t.practitioner.id,
        "practitioner_name": t.practitioner.name,
        "clinic_id": t.clinic.id,
        "clinic_name": t.clinic.name,
        "clinic_timezone": t.clinic.timezone,
        "appointment_type_id": t.kind.id,
        "appointment_type": t.kind.name,
        "start": t.start.astimezone(ZoneInfo("UTC")).isoformat(),
        "end": t.end.astimezone(ZoneInfo("UTC")).isoformat(),
        "duration_minutes": t.duration,
        "status": a.status,
    }


# --------------------------------------------------------------------------- status


def update_appointment_status(
    ctx: AppContext,
    organization_id: int,
    appointment_id: int,
    new_status: str,
    actor: Actor,
    reason: str | None = None,
    expected_version: int | None = None,
    cancellation_category: str | None = None,
) -> AppointmentView:
    """Move an appointment along the workflow (``domain.workflow.TRANSITIONS``).

    Cancelling needs a ``cancellation_category``; ``expected_version`` (the version the
    form was opened at) turns a concurrent change into a STALE error instead of an
    overwrite. Arriving or starting opens the visit record (encounter) once.
    """
    _authorize(
        actor,
        organization_id,
        Permission.CANCEL if new_status == "cancelled" else Permission.CHANGE_STATUS,
    )
    now = ctx.clock()
    _warm_rules(ctx, organization_id)
    with ctx.db.transaction(write_lock=True) as s:
        org = _organization(s, organization_id)
        a = _get(s, org.id, appointment_id)
        require_practitioner_scope(actor, a.practitioner_id)
        reinstating = a.status == "cancelled"
        practitioners: dict[int, Practitioner] = {}
        patient: Patient | None = None
        if reinstating:
            # Taking time again: the same locks as a booking, in the same order.
            practitioners = lock_practitioners(s, org.id, [a.practitioner_id])
            patient = lock_patient(s, org.id, a.patient_id)
        elif new_status == "cancelled":
            # The freed seat may be offered to the waitlist (a hold): the booking lock,
            # taken before the appointment's as everywhere.
            lock_practitioners(s, org.id, [a.practitioner_id])
        locked = lock_appointment(s, org.id, appointment_id)
        if locked is None:
            raise BookingError("APPOINTMENT_NOT_FOUND", "This appointment was not found.")
        a = locked
        if (a.status == "cancelled") != reinstating:
            raise _stale()
        clinic = s.get_one(Clinic, a.clinic_id)
        _check_version(s, a, expected_version, clinic.timezone)
        tz = ZoneInfo(clinic.timezone)
        transition = plan_transition(
            a.status,
            new_status,
            start_at=a.start_at,
            local_start_date=a.start_at.astimezone(tz).date(),
            now=now,
            local_today=now.astimezone(tz).date(),
            actor_role=actor.role,
            reason=reason,
            cancellation_category=cancellation_category,
        )
        if transition.takes_time_again:
            t = _validate(
                ctx,
                s,
                org,
                now,
                patient=patient,
                practitioners=practitioners,
                practitioner_id=a.practitioner_id,
                clinic_id=a.clinic_id,
                appointment_type_id=a.appointment_type_id,
                start=a.start_at,
                duration=a.duration_minutes,
                require_active_type=False,
                exclude_appointment_id=a.id,
            )
            a.exclusive = t.capacity == 1
        _apply_transition(s, org, a, transition, actor, now)
        view = _view_of(s, a)
        offered: list[tuple[int, datetime, datetime]] = []
        if transition.frees_time:
            offered = waitlist.offer_freed_seats(
                ctx,
                s,
                org,
                get_directory(ctx, org.id),
                now,
                actor,
                [a.practitioner_id],
                [view.local_date],
                [(view.start_at, view.end_at)],
            )
    if transition.frees_time or transition.takes_time_again:
        _invalidate(ctx, org.id, [(view.practitioner_id, view.start_at, view.end_at), *offered])
    return view


def cancel_appointment(
    ctx: AppContext,
    organization_id: int,
    appointment_id: int,
    actor: Actor,
    cancellation_category: str,
    reason: str | None = None,
    expected_version: int | None = None,
) -> AppointmentView:
    """Cancel: the seat returns to availability at once; practitioner, patient and (when
    the organization wants it) coordinators are told."""
    return update_appointment_status(
        ctx,
        organization_id,
        appointment_id,
        "cancelled",
        actor,
        reason=reason,
        expected_version=expected_version,
        cancellation_category=cancellation_category,
    )


def _apply_transition(
    s: Session,
    org: Organization,
    a: Appointment,
    transition: Transition,
    actor: Actor,
    now: datetime,
    *,
    notify: bool = True,
) -> None:
    """Write one workflow step: the status, the encounter it opens, event, notifications
    (``notify=False``: the caller words one notification for several steps)."""
    a.status = transition.new
    a.updated_at = now
    if transition.new == "cancelled":
        a.cancellation_category = transition.cancellation_category
        a.cancellation_reason = transition.reason
    elif transition.old == "cancelled":
        a.cancellation_category = None
        a.cancellation_reason = None
    _flush(s)
    encounter_id = None
    if transition.opens_encounter:
        encounter_id = _ensure_encounter(s, org, a, actor, now).id
    clinic = s.get_one(Clinic, a.clinic_id)
    payload: dict[str, Any] = {
        "old_status": transition.old,
        "new_status": transition.new,
        "reason": transition.reason,
        "cancellation_category": transition.cancellation_category,
        "correction": transition.correction,
        "start": a.start_at.astimezone(ZoneInfo("UTC")).isoformat(),
        "clinic_timezone": clinic.timezone,
    }
    if encounter_id is not None:
        payload["encounter_id"] = encounter_id
    event = activity.record_event(
        s,
        organization_id=org.id,
        event_type=activity.EVENT_STATUS_CHANGED,
        appointment_id=a.id,
        payload=payload,
        actor=actor,
        at=now,
        priority=transition.priority,
    )
    if notify:
        _notify_status(s, org, a, clinic, transition, event)


def _notify_status(
    s: Session,
    org: Organization,
    a: Appointment,
    clinic: Clinic,
    transition: Transition,
    event: ActivityEvent,
) -> None:
    settings = NotifySettings.from_json(org.settings)
    patient = s.get_one(Patient, a.patient_id)
    practitioner = s.get_one(Practitioner, a.practitioner_id)
    when = fmt_span(a.start_at, a.end_at, clinic.timezone)
    who = [practitioner_recipient(a.practitioner_id)] if settings.practitioner else []
    coordinators = [role_recipient(COORDINATOR_ROLE)] if settings.coordinators else []
    if transition.new == "cancelled":
        why = f" ({transition.cancellation_category}" + (
            f": {transition.reason})" if transition.reason else ")"
        )
        staff: list[Recipient | None] = [*who, *coordinators]
        activity.notify(
            s,
            event,
            staff,
            "Appointment cancelled",
            f"{patient.full_name}, {when} with {practitioner.name} at {clinic.name} was "
            f"cancelled{why}.",
        )
        if settings.patient:
            activity.notify(
                s,
                event,
                [patient_recipient(patient)],
                "Appointment cancelled",
                f"Your appointment with {practitioner.name} at {clinic.name} on {when} is "
                "cancelled. Call us to book another time.",
            )
    elif transition.takes_time_again:
        activity.notify(
            s,
            event,
            list(who),
            "Cancellation undone",
            f"{patient.full_name}, {when} at {clinic.name} is booked again.",
        )
        if settings.patient:
            activity.notify(
                s,
                event,
                [patient_recipient(patient)],
                "Appointment booked",
                f"Your appointment with {practitioner.name} at {clinic.name}: {when}.",
            )
    elif transition.new == "arrived":
        activity.notify(
            s,
            event,
            list(who),
            "Patient arrived",
            f"{patient.full_name} has checked in for {fmt_when(a.start_at, clinic.timezone)}.",
        )
    elif transition.new == "no-show":
        activity.notify(
            s,
            event,
            list(coordinators),
            "No-show",
            f"{patient.full_name} did not come to {when} with {practitioner.name}; "
            "they may need a new appointment.",
        )


# --------------------------------------------------------------------------- encounters


@dataclass(frozen=True)
class EncounterView:
    id: int
    appointment_id: int | None
    patient_id: int
    practitioner_id: int
    clinic_id: int
    encounter_date: date
    encounter_type: str
    status: str
    started_at: datetime
    finalized_at: datetime | None
    # Set by finalize_encounter: the appointment's status afterwards.
    appointment_status: str | None = None


def _encounter_view(e: Encounter, appointment_status: str | None = None) -> EncounterView:
    return EncounterView(
        id=e.id,
        appointment_id=e.appointment_id,
        patient_id=e.patient_id,
        practitioner_id=e.practitioner_id,
        clinic_id=e.clinic_id,
        encounter_date=e.encounter_date,
        encounter_type=e.encounter_type,
        status=e.status,
        started_at=e.started_at,
        finalized_at=e.finalized_at,
        appointment_status=appointment_status,
    )


def _encounter_not_found() -> BookingError:
    return BookingError("ENCOUNTER_NOT_FOUND", "This visit record was not found.", "encounter")


def _encounter_payload(e: Encounter) -> dict[str, Any]:
    return {
        "encounter_id": e.id,
        "encounter_type": e.encounter_type,
        "encounter_date": e.encounter_date.isoformat(),
    }


def _ensure_encounter(
    s: Session, org: Organization, a: Appointment, actor: Actor, now: datetime
) -> Encounter:
    """The appointment's visit record, created on first need (arrival or start)."""
    existing = s.scalars(select(Encounter).where(Encounter.appointment_id == a.id)).first()
    if existing is not None:
        return existing
    clinic = s.get_one(Clinic, a.clinic_id)
    kind = s.get_one(AppointmentType, a.appointment_type_id)
    e = Encounter(
        organization_id=org.id,
        appointment_id=a.id,
        patient_id=a.patient_id,
        practitioner_id=a.practitioner_id,
        clinic_id=a.clinic_id,
        encounter_date=a.start_at.astimezone(ZoneInfo(clinic.timezone)).date(),
        encounter_type=kind.encounter_type,
        status="in-progress",
        started_at=now,
        created_at=now,
    )
    s.add(e)
    s.flush()
    activity.record_event(
        s,
        organization_id=org.id,
        event_type=activity.EVENT_ENCOUNTER_CREATED,
        appointment_id=a.id,
        payload=_encounter_payload(e),
        actor=actor,
        at=now,
        priority="low",
    )
    return e


def get_encounter_for_appointment(
    ctx: AppContext, organization_id: int, appointment_id: int
) -> EncounterView | None:
    with ctx.db.read() as s:
        _get(s, organization_id, appointment_id)
        e = s.scalars(select(Encounter).where(Encounter.appointment_id == appointment_id)).first()
        return _encounter_view(e) if e else None


def link_encounter(
    ctx: AppContext,
    organization_id: int,
    appointment_id: int,
    encounter_id: int,
    actor: Actor,
) -> EncounterView:
    """Attach a visit record staff created by hand to its appointment."""
    _authorize(actor, organization_id, Permission.CHANGE_STATUS)
    now = ctx.clock()
    with ctx.db.transaction(write_lock=True) as s:
        org = _organization(s, organization_id)
        a = lock_appointment(s, org.id, appointment_id)
        if a is None:
            raise BookingError("APPOINTMENT_NOT_FOUND", "This appointment was not found.")
        require_practitioner_scope(actor, a.practitioner_id)
        e = s.scalars(
            select(Encounter)
            .where(Encounter.id == encounter_id, Encounter.organization_id == org.id)
            .with_for_update(key_share=True)
        ).one_or_none()
        if e is None:
            raise _encounter_not_found()
        if e.appointment_id == a.id:
            return _encounter_view(e)
        if e.appointment_id is not None:
            raise BookingError(
                "ENCOUNTER_ALREADY_LINKED",
                "This visit record already belongs to another appointment.",
                "encounter",
            )
        if e.patient_id != a.patient_id:
            raise BookingError(
                "ENCOUNTER_MISMATCH",
                "This visit record is for another patient.",
                "encounter",
            )
        other = s.scalars(select(Encounter.id).where(Encounter.appointment_id == a.id)).first()
        if other is not None:
            raise BookingError(
                "APPOINTMENT_HAS_ENCOUNTER",
                f"This appointment already has visit record #{other}.",
                "encounter",
            )
        e.appointment_id = a.id
        s.flush()
        activity.record_event(
            s,
            organization_id=org.id,
            event_type=activity.EVENT_ENCOUNTER_LINKED,
            appointment_id=a.id,
            payload=_encounter_payload(e),
            actor=actor,
            at=now,
        )
        return _encounter_view(e)


def finalize_encounter(
    ctx: AppContext, organization_id: int, encounter_id: int, actor: Actor
) -> EncounterView:
    """Finish a visit record and complete its appointment through the workflow: each step
    (e.g. arrived -> in-progress -> completed) is its own status change with its event.
    An appointment the workflow cannot complete (cancelled, no-show) is left as it is."""
    _authorize(actor, organization_id, Permission.CHANGE_STATUS)
    now = ctx.clock()
    with ctx.db.transaction(write_lock=True) as s:
        org = _organization(s, organization_id)
        e = s.get(Encounter, encounter_id)
        if e is None or e.organization_id != org.id:
            raise _encounter_not_found()
        require_practitioner_scope(actor, e.practitioner_id)
        a = lock_appointment(s, org.id, e.appointment_id) if e.appointment_id else None
        s.refresh(e, with_for_update={"key_share": True})
        if e.status != "in-progress":
            raise BookingError(
                "ENCOUNTER_NOT_OPEN",
                "This visit record is already "
                f"{'finalized' if e.status == 'finished' else e.status}.",
                "encounter",
            )
        e.status = "finished"
        e.finalized_at = now
        s.flush()
        activity.record_event(
            s,
            organization_id=org.id,
            event_type=activity.EVENT_ENCOUNTER_FINALIZED,
            appointment_id=e.appointment_id,
            payload=_encounter_payload(e),
            actor=actor,
            at=now,
        )
        status = None
        if a is not None:
            clinic = s.get_one(Clinic, a.clinic_id)
            tz = ZoneInfo(clinic.timezone)
            for step in path_to(a.status, "completed") or []:
                transition = plan_transition(
                    a.status,
                    step,
                    start_at=a.start_at,
                    local_start_date=a.start_at.astimezone(tz).date(),
                    now=now,
                    local_today=now.astimezone(tz).date(),
                    actor_role=actor.role,
                    reason="Visit record finalized",
                )
                _apply_transition(s, org, a, transition, actor, now)
            status = a.status
        return _encounter_view(e, status)


# --------------------------------------------------------------------------- update


def update_appointment(
    ctx: AppContext,
    organization_id: int,
    appointment_id: int,
    actor: Actor,
    *,
    start: datetime | None = None,
    duration_minutes: int | None = None,
    practitioner_id: int | None = None,
    clinic_id: int | None = None,
    appointment_type_id: int | None = None,
    notes: str | None = None,
    reason: str | None = None,
    expected_version: int | None = None,
) -> AppointmentView:
    """Reschedule (start, duration, practitioner, clinic) or change type or notes.

    None leaves a field as it is; ``notes=""`` clears the notes. Any change of when, who,
    where, type or duration runs the full booking validation, with this appointment left
    out of its own conflict, buffer and patient checks, and is allowed only before the
    patient arrives. A new type keeps the current duration unless one is given.
    """
    moving = any(
        v is not None
        for v in (start, duration_minutes, practitioner_id, clinic_id, appointment_type_id)
    )
    if moving:
        _authorize(actor, organization_id, Permission.RESCHEDULE)
    else:  # notes: whoever may book or work the appointment
        _authorize(
            actor, organization_id, Permission.BOOK, Permission.RESCHEDULE, Permission.CHANGE_STATUS
        )
    if start is not None:
        start = _check_start(start)
    new_notes = None if notes is None else clean_field(notes, "notes", MAX_NOTES_LENGTH)
    reason = clean_field(reason, "reason", MAX_REASON_LENGTH)
    now = ctx.clock()
    _warm_rules(ctx, organization_id)
    with ctx.db.transaction(write_lock=True) as s:
        org = _organization(s, organization_id)
        a = _get(s, org.id, appointment_id)
        require_practitioner_scope(actor, a.practitioner_id)
        if practitioner_id is not None:
            require_practitioner_scope(actor, practitioner_id)
        requested = {
            "start": start,
            "duration_minutes": duration_minutes,
            "practitioner_id": practitioner_id,
            "clinic_id": clinic_id,
            "appointment_type_id": appointment_type_id,
        }
        current = {
            "start": a.start_at,
            "duration_minutes": a.duration_minutes,
            "practitioner_id": a.practitioner_id,
            "clinic_id": a.clinic_id,
            "appointment_type_id": a.appointment_type_id,
        }
        timing = any(v is not None and v != current[k] for k, v in requested.items())
        old_practitioner = a.practitioner_id
        practitioners: dict[int, Practitioner] = {}
        patient: Patient | None = None
        if timing:
            practitioners = lock_practitioners(
                s, org.id, {a.practitioner_id, practitioner_id or a.practitioner_id}
            )
            patient = lock_patient(s, org.id, a.patient_id)
        locked = lock_appointment(s, org.id, appointment_id)
        if locked is None:
            raise BookingError("APPOINTMENT_NOT_FOUND", "This appointment was not found.")
        a = locked
        old_clinic = s.get_one(Clinic, a.clinic_id)
        _check_version(s, a, expected_version, old_clinic.timezone)
        if timing and a.practitioner_id != old_practitioner:
            raise _stale()
        before = _snapshot(s, a)
        if timing:
            if a.status not in RESCHEDULABLE_STATUSES:
                raise BookingError(
                    "NOT_EDITABLE",
                    f"A {status_label(a.status)} appointment can no longer be moved or "
                    "changed; only its notes can be edited.",
                    "start" if start is not None else None,
                )
            t = _validate(
                ctx,
                s,
                org,
                now,
                patient=patient,
                practitioners=practitioners,
                practitioner_id=practitioner_id or a.practitioner_id,
                clinic_id=clinic_id or a.clinic_id,
                appointment_type_id=appointment_type_id or a.appointment_type_id,
                start=start or a.start_at,
                duration=duration_minutes if duration_minutes is not None else a.duration_minutes,
                require_active_type=appointment_type_id not in (None, a.appointment_type_id),
                exclude_appointment_id=a.id,
            )
            a.start_at, a.end_at, a.duration_minutes = t.start, t.end, t.duration
            a.practitioner_id, a.clinic_id = t.practitioner.id, t.clinic.id
            a.appointment_type_id = t.kind.id
            a.exclusive = t.capacity == 1
        if notes is not None:
            a.notes = new_notes
        after = _snapshot(s, a)
        changes = {
            k: {"before": before[k], "after": after[k]} for k in before if before[k] != after[k]
        }
        if not changes:
            return _view_of(s, a)
        a.updated_at = now
        _flush(s)
        view_tz = s.get_one(Clinic, a.clinic_id).timezone
        event = activity.record_event(
            s,
            organization_id=org.id,
            event_type=activity.EVENT_UPDATED,
            appointment_id=a.id,
            payload={"changes": changes, "reason": reason, "clinic_timezone": view_tz},
            actor=actor,
            at=now,
        )
        view = _view_of(s, a)
        if set(changes) - {"notes"}:
            _notify_update(s, org, a, view, before, changes, event)
        offered: list[tuple[int, datetime, datetime]] = []
        if timing:
            # The time it left may suit someone on the waitlist.
            old_start = datetime.fromisoformat(before["start"])
            old_day = old_start.astimezone(ZoneInfo(old_clinic.timezone)).date()
            offered = waitlist.offer_freed_seats(
                ctx,
                s,
                org,
                get_directory(ctx, org.id),
                now,
                actor,
                [before["practitioner_id"]],
                [old_day],
                [(old_start, datetime.fromisoformat(before["end"]))],
            )
    if timing:
        _invalidate(
            ctx,
            org.id,
            [
                (
                    before["practitioner_id"],
                    datetime.fromisoformat(before["start"]),
                    datetime.fromisoformat(before["end"]),
                ),
                (view.practitioner_id, view.start_at, view.end_at),
                *offered,
            ],
        )
    return view


def _snapshot(s: Session, a: Appointment) -> dict[str, Any]:
    practitioner = s.get_one(Practitioner, a.practitioner_id)
    clinic = s.get_one(Clinic, a.clinic_id)
    kind = s.get_one(AppointmentType, a.appointment_type_id)
    return {
        "start": a.start_at.astimezone(ZoneInfo("UTC")).isoformat(),
        "end": a.end_at.astimezone(ZoneInfo("UTC")).isoformat(),
        "duration_minutes": a.duration_minutes,
        "practitioner_id": a.practitioner_id,
        "practitioner_name": practitioner.name,
        "clinic_id": a.clinic_id,
        "clinic_name": clinic.name,
        "appointment_type_id": a.appointment_type_id,
        "appointment_type": kind.name,
        "notes": a.notes,
    }


def _notify_update(
    s: Session,
    org: Organization,
    a: Appointment,
    view: AppointmentView,
    before: dict[str, Any],
    changes: dict[str, Any],
    event: ActivityEvent,
) -> None:
    settings = NotifySettings.from_json(org.settings)
    when = fmt_span(view.start_at, view.end_at, view.clinic_timezone)
    now_line = f"{view.patient_name}, {view.appointment_type_name}, {when} at {view.clinic_name}"
    if settings.practitioner:
        activity.notify(
            s,
            event,
            [practitioner_recipient(view.practitioner_id)],
            "Appointment changed",
            f"{now_line}.",
        )
        if "practitioner_id" in changes:
            old_when = fmt_span(
                datetime.fromisoformat(before["start"]),
                datetime.fromisoformat(before["end"]),
                view.clinic_timezone,
            )
            activity.notify(
                s,
                event,
                [practitioner_recipient(before["practitioner_id"])],
                "Appointment moved to a colleague",
                f"{view.patient_name}, {old_when}, now sees {view.practitioner_name}.",
            )
    if settings.patient and set(changes) & {"start", "practitioner_id", "clinic_id"}:
        activity.notify(
            s,
            event,
            [patient_recipient(s.get_one(Patient, a.patient_id))],
            "Appointment changed",
            f"Your appointment is now with {view.practitioner_name} at {view.clinic_name}: {when}.",
        )


# --------------------------------------------------------------------------- series

# Refusals that concern the whole series (who, where, what), not one of its dates: a
# preview or a booking stops on them instead of marking every occurrence.
_SERIES_WIDE_CODES = frozenset(
    {
        "PATIENT_NOT_FOUND",
        "PRACTITIONER_NOT_FOUND",
        "PRACTITIONER_INACTIVE",
        "CLINIC_NOT_FOUND",
        "CLINIC_INACTIVE",
        "APPOINTMENT_TYPE_NOT_FOUND",
        "APPOINTMENT_TYPE_INACTIVE",
        "INVALID_DURATION",
    }
)


@dataclass(frozen=True)
class OccurrenceCheck:
    """One occurrence of a previewed series and what booking it now would say."""

    number: int
    start: datetime
    end: datetime
    timezone: str
    code: str | None = None  # None: it can be booked
    message: str | None = None

    @property
    def ok(self) -> bool:
        return self.code is None

    @property
    def label(self) -> str:
        return fmt_span(self.start, self.end, self.timezone)


@dataclass(frozen=True)
class SeriesPreview:
    occurrences: list[OccurrenceCheck]
    rule: Recurrence
    timezone: str
    clinic_name: str
    # The rule runs past the booking horizon: it stops at this last bookable date.
    cut_at_horizon: date | None
    cut_at_maximum: bool

    @property
    def bookable(self) -> list[OccurrenceCheck]:
        return [o for o in self.occurrences if o.ok]


@dataclass(frozen=True)
class SeriesBooking:
    series_id: int
    booked: list[AppointmentView]
    # Occurrences of the rule that were not chosen, hence not booked.
    skipped: list[datetime]


@dataclass(frozen=True)
class SeriesChange:
    """What an edit or cancellation with scope did: the occurrences it changed and the
    ones it left as they were, each with why (already past, cancelled, completed...)."""

    changed: list[AppointmentView]
    left_alone: list[tuple[AppointmentView, str]]


@dataclass(frozen=True)
class SeriesOverview:
    series_id: int
    interval_weeks: int
    # (appointment id, start, status) of every occurrence, by time.
    occurrences: list[tuple[int, datetime, str]]

    def position(self, appointment_id: int) -> int:
        """1-based number of the occurrence (0 when it is not in the series)."""
        ids = [o[0] for o in self.occurrences]
        return ids.index(appointment_id) + 1 if appointment_id in ids else 0


def get_series_overview(ctx: AppContext, organization_id: int, series_id: int) -> SeriesOverview:
    with ctx.db.read() as s:
        series = s.get(AppointmentSeries, series_id)
        if series is None or series.organization_id != organization_id:
            raise BookingError("SERIES_NOT_FOUND", "This series was not found.")
        rows = s.execute(
            select(Appointment.id, Appointment.start_at, Appointment.status)
            .where(
                Appointment.organization_id == organization_id,
                Appointment.series_id == series_id,
            )
            .order_by(Appointment.start_at, Appointment.id)
        ).all()
        return SeriesOverview(series.id, series.interval_weeks, [tuple(r) for r in rows])  # type: ignore[misc]


def _series_plan(
    ctx: AppContext,
    s: Session,
    org: Organization,
    clinic_id: int,
    first_start: datetime,
    rule: Recurrence,
    now: datetime,
) -> tuple[Clinic, list[datetime], date | None, bool]:
    """The clinic and the occurrence starts of ``rule``, bounded by the organization's
    booking horizon in the clinic's zone (the first occurrence is always kept, so that
    a first date beyond the horizon is refused by the rule with its own message)."""
    clinic = s.get(Clinic, clinic_id)
    if clinic is None or clinic.organization_id != org.id:
        raise BookingError("CLINIC_NOT_FOUND", "This clinic was not found.", "clinic")
    window = BookingWindow(now, get_directory(ctx, org.id).rules)
    last = window.last_bookable_day(clinic.timezone)
    occ = occurrence_starts(first_start, clinic.timezone, rule, last)
    return clinic, occ.starts, occ.cut_at_horizon, occ.cut_at_maximum


def _occurrence_error(exc: BookingError, number: int, start: datetime, tz: str) -> BookingError:
    details = {**exc.details, "occurrence": number, "occurrence_start": start.isoformat()}
    return BookingError(
        exc.code,
        f"Appointment {number} of the series ({fmt_when(start, tz)}): {exc.message}",
        "repeat",
        **details,
    )


def preview_series(
    ctx: AppContext,
    organization_id: int,
    *,
    patient_id: int,
    practitioner_id: int,
    clinic_id: int,
    first_start: datetime,
    appointment_type_id: int,
    rule: Recurrence,
    actor: Actor,
    duration_minutes: int | None = None,
) -> SeriesPreview:
    """Every occurrence of a series-to-be with what booking it now would say: ok, or the
    specific refusal of ``create_appointment``'s validation (the same code, run on each
    date). Reads only; nothing is held. Refusals about the whole series (unknown patient,
    inactive practitioner...) raise instead."""
    _authorize(actor, organization_id, Permission.BOOK)
    require_practitioner_scope(actor, practitioner_id)
    first_start = _check_start(first_start)
    now = ctx.clock()
    _warm_rules(ctx, organization_id)
    with ctx.db.read() as s:
        org = _organization(s, organization_id)
        clinic, starts, cut_at_horizon, cut_at_maximum = _series_plan(
            ctx, s, org, clinic_id, first_start, rule, now
        )
        practitioner = s.get(Practitioner, practitioner_id)
        practitioners = (
            {practitioner.id: practitioner}
            if practitioner is not None and practitioner.organization_id == org.id
            else {}
        )
        patient = s.get(Patient, patient_id)
        if patient is not None and patient.organization_id != org.id:
            patient = None
        kind = s.get(AppointmentType, appointment_type_id)
        minutes = duration_minutes or (kind.default_duration_minutes if kind else 0)
        checks = []
        for number, start in enumerate(starts, 1):
            try:
                t = _validate(
                    ctx,
                    s,
                    org,
                    now,
                    patient=patient,
                    practitioners=practitioners,
                    practitioner_id=practitioner_id,
                    clinic_id=clinic.id,
                    appointment_type_id=appointment_type_id,
                    start=start,
                    duration=duration_minutes,
                    # The booking form holds the first time for this user: not a clash.
                    ignore_holds_of_user=actor.user_id,
                )
            except BookingError as exc:
                if exc.code in _SERIES_WIDE_CODES:
                    raise
                end = start + timedelta(minutes=minutes)
                checks.append(
                    OccurrenceCheck(number, start, end, clinic.timezone, exc.code, exc.message)
                )
                continue
            checks.append(OccurrenceCheck(number, start, t.end, clinic.timezone))
        return SeriesPreview(
            checks, rule, clinic.timezone, clinic.name, cut_at_horizon, cut_at_maximum
        )


def book_series(
    ctx: AppContext,
    organization_id: int,
    *,
    patient_id: int,
    practitioner_id: int,
    clinic_id: int,
    first_start: datetime,
    appointment_type_id: int,
    rule: Recurrence,
    chosen: Iterable[datetime],
    actor: Actor,
    duration_minutes: int | None = None,
    notes: str | None = None,
) -> SeriesBooking:
    """Book the ``chosen`` occurrences of a series (starts from its preview) in ONE
    transaction: every chosen occurrence passes ``create_appointment``'s validation and
    is booked, or nothing is. A refusal names the occurrence (its number and time) and
    carries the validation's code; a start that is not an occurrence of ``rule`` (the
    preview is out of date) is refused as NOT_IN_SERIES."""
    _authorize(actor, organization_id, Permission.BOOK)
    require_practitioner_scope(actor, practitioner_id)
    first_start = _check_start(first_start)
    wanted = sorted({_check_start(c) for c in chosen})
    if not wanted:
        raise BookingError(
            "NOTHING_CHOSEN", "Choose at least one appointment of the series.", "repeat"
        )
    notes = clean_field(notes, "notes", MAX_NOTES_LENGTH)
    now = ctx.clock()
    _warm_rules(ctx, organization_id)
    with ctx.db.transaction(write_lock=True) as s:
        org = _organization(s, organization_id)
        practitioners = lock_practitioners(s, org.id, [practitioner_id])
        patient = lock_patient(s, org.id, patient_id)
        clinic, starts, _cut, _max = _series_plan(ctx, s, org, clinic_id, first_start, rule, now)
        tz = clinic.timezone
        numbers = {start: n for n, start in enumerate(starts, 1)}
        stray = [w for w in wanted if w not in numbers]
        if stray:
            raise BookingError(
                "NOT_IN_SERIES",
                f"{fmt_when(stray[0], tz)} is not one of this series' dates: preview the "
                "series again.",
                "repeat",
            )
        targets = []
        # The occurrences are weeks apart: none can clash with another, so each one is
        # validated against what is booked already, then all are written.
        for start in wanted:
            try:
                targets.append(
                    _validate(
                        ctx,
                        s,
                        org,
                        now,
                        patient=patient,
                        practitioners=practitioners,
                        practitioner_id=practitioner_id,
                        clinic_id=clinic.id,
                        appointment_type_id=appointment_type_id,
                        start=start,
                        duration=duration_minutes,
                        ignore_holds_of_user=actor.user_id,
                    )
                )
            except BookingError as exc:
                if exc.code in _SERIES_WIDE_CODES:
                    raise
                raise _occurrence_error(exc, numbers[start], start, tz) from exc
        first_local = first_start.astimezone(ZoneInfo(tz))
        series = AppointmentSeries(
            organization_id=org.id,
            patient_id=targets[0].patient.id,
            practitioner_id=targets[0].practitioner.id,
            clinic_id=clinic.id,
            appointment_type_id=targets[0].kind.id,
            interval_weeks=rule.interval_weeks,
            first_date=first_local.date(),
            local_time=first_local.time().replace(tzinfo=None),
            timezone=tz,
            duration_minutes=targets[0].duration,
            occurrence_count=rule.count,
            until_date=rule.until,
            created_by_user_id=actor.user_id,
            created_at=now,
        )
        s.add(series)
        s.flush()
        views = []
        for t in targets:
            a, _event = _insert(s, org, t, actor, now, notes, series.id)
            views.append(_view(a, t.patient, t.practitioner, t.clinic, t.kind))
        # As a single booking does: the series took the seat the booker was holding.
        freed = holds.consume_user_holds(s, org.id, actor.user_id, practitioner_id)
        chosen_set = set(wanted)
        skipped = [start for start in starts if start not in chosen_set]
        t0 = targets[0]
        event = activity.record_event(
            s,
            organization_id=org.id,
            event_type=activity.EVENT_SERIES_CREATED,
            appointment_id=views[0].id,
            payload={
                "series_id": series.id,
                "rule": rule.describe(),
                "patient_name": t0.patient.full_name,
                "practitioner_name": t0.practitioner.name,
                "clinic_name": clinic.name,
                "clinic_timezone": tz,
                "appointment_ids": [v.id for v in views],
                "starts": [v.start_at.astimezone(ZoneInfo("UTC")).isoformat() for v in views],
                "skipped": [d.astimezone(ZoneInfo("UTC")).isoformat() for d in skipped],
            },
            actor=actor,
            at=now,
        )
        _notify_series_booked(s, org, event, views, t0, rule)
    _invalidate(ctx, org.id, [*((v.practitioner_id, v.start_at, v.end_at) for v in views), *freed])
    return SeriesBooking(series.id, views, skipped)


def _series_dates(views: list[AppointmentView]) -> str:
    tz = views[0].clinic_timezone
    first = fmt_when(views[0].start_at, tz)
    if len(views) == 1:
        return first
    return f"{first} to {fmt_when(views[-1].start_at, tz)}"


def _notify_series_booked(
    s: Session,
    org: Organization,
    event: ActivityEvent,
    views: list[AppointmentView],
    t: _Target,
    rule: Recurrence,
) -> None:
    """One message per recipient for the whole series, not one per occurrence."""
    settings = NotifySettings.from_json(org.settings)
    n = len(views)
    dates = _series_dates(views)
    if settings.practitioner:
        activity.notify(
            s,
            event,
            [practitioner_recipient(t.practitioner.id)],
            "New appointment series",
            f"{t.patient.full_name}, {t.kind.name}, {n} appointments ({rule.describe()}) "
            f"at {t.clinic.name}: {dates}.",
        )
    if settings.patient:
        activity.notify(
            s,
            event,
            [patient_recipient(t.patient)],
            "Appointments booked",
            f"Your {n} {t.kind.name.lower()} appointments with {t.practitioner.name} at "
            f"{t.clinic.name}: {dates}.",
        )


def _left_alone_reason(a: Appointment, now: datetime) -> str | None:
    """Why a change with scope passes over this occurrence (None: it applies)."""
    if a.start_at <= now:
        return "already past"
    if a.status not in RESCHEDULABLE_STATUSES:
        return f"already {status_label(a.status).lower()}"
    return None


def _series_members(
    s: Session, org: Organization, anchor: Appointment, scope: str
) -> tuple[list[Appointment], dict[int, int]]:
    """The occurrences ``scope`` reaches from ``anchor`` (by time), and every
    occurrence's 1-based number in its series."""
    if anchor.series_id is None:
        raise BookingError("NOT_IN_SERIES", "This appointment is not part of a series.", "scope")
    rows = s.scalars(
        select(Appointment)
        .where(Appointment.organization_id == org.id, Appointment.series_id == anchor.series_id)
        .order_by(Appointment.start_at, Appointment.id)
    ).all()
    numbers = {a.id: n for n, a in enumerate(rows, 1)}
    members = [a for a in rows if in_scope(scope, anchor.id, anchor.start_at, a.id, a.start_at)]
    return members, numbers


def _check_scope(scope: str) -> str:
    if scope not in ("this", "following", "all"):
        raise BookingError("INVALID_SCOPE", "Choose which appointments of the series.", "scope")
    return scope


def cancel_series(
    ctx: AppContext,
    organization_id: int,
    appointment_id: int,
    scope: str,
    actor: Actor,
    cancellation_category: str,
    reason: str | None = None,
    expected_version: int | None = None,
) -> SeriesChange:
    """Cancel one occurrence (``scope="this"``: exactly ``cancel_appointment``), it and
    the following ones, or all of its series, in one transaction. Occurrences already
    past or no longer active (cancelled, completed...) are left as they are and listed
    with why; the practitioner and the patient get one message for the lot."""
    if _check_scope(scope) == "this":
        view = cancel_appointment(
            ctx,
            organization_id,
            appointment_id,
            actor,
            cancellation_category,
            reason=reason,
            expected_version=expected_version,
        )
        return SeriesChange([view], [])
    _authorize(actor, organization_id, Permission.CANCEL)
    now = ctx.clock()
    _warm_rules(ctx, organization_id)
    with ctx.db.transaction(write_lock=True) as s:
        org = _organization(s, organization_id)
        anchor = _get(s, org.id, appointment_id)
        require_practitioner_scope(actor, anchor.practitioner_id)
        members, _numbers = _series_members(s, org, anchor, scope)
        locked = {aid: lock_appointment(s, org.id, aid) for aid in sorted(a.id for a in members)}
        anchor_now = lock_appointment(s, org.id, appointment_id)
        if anchor_now is None:
            raise BookingError("APPOINTMENT_NOT_FOUND", "This appointment was not found.")
        anchor_clinic = s.get_one(Clinic, anchor_now.clinic_id)
        _check_version(s, anchor_now, expected_version, anchor_clinic.timezone)
        changed: list[Appointment] = []
        left: list[tuple[Appointment, str]] = []
        for member in members:
            a = locked[member.id]
            if a is None:
                continue
            why = _left_alone_reason(a, now)
            if why is None:
                require_practitioner_scope(actor, a.practitioner_id)
                tz = ZoneInfo(s.get_one(Clinic, a.clinic_id).timezone)
                try:
                    transition = plan_transition(
                        a.status,
                        "cancelled",
                        start_at=a.start_at,
                        local_start_date=a.start_at.astimezone(tz).date(),
                        now=now,
                        local_today=now.astimezone(tz).date(),
                        actor_role=actor.role,
                        reason=reason,
                        cancellation_category=cancellation_category,
                    )
                except BookingError as exc:
                    if exc.field in ("reason", "cancellation_category"):
                        raise  # the form's fault, the same for every occurrence
                    why = exc.message
            if why is not None:
                left.append((a, why))
                continue
            _apply_transition(s, org, a, transition, actor, now, notify=False)
            changed.append(a)
        if not changed:
            raise BookingError(
                "NOTHING_TO_CHANGE",
                "None of these appointments can be cancelled: "
                + "; ".join(
                    f"{fmt_when(a.start_at, anchor_clinic.timezone)} {why}" for a, why in left
                )
                + ".",
                "scope",
            )
        views = [_view_of(s, a) for a in changed]
        left_views = [(_view_of(s, a), why) for a, why in left]
        event = activity.record_event(
            s,
            organization_id=org.id,
            event_type=activity.EVENT_SERIES_CANCELLED,
            appointment_id=anchor_now.id,
            payload=_series_change_payload(anchor_now, scope, views, left_views)
            | {"cancellation_category": cancellation_category, "reason": reason},
            actor=actor,
            at=now,
            priority="high" if any(v.local_date == now.date() for v in views) else "normal",
        )
        _notify_series_change(s, org, event, views, "cancelled")
    _invalidate(ctx, org.id, [(v.practitioner_id, v.start_at, v.end_at) for v in views])
    return SeriesChange(views, left_views)


def _series_change_payload(
    anchor: Appointment,
    scope: str,
    views: list[AppointmentView],
    left: list[tuple[AppointmentView, str]],
) -> dict[str, Any]:
    first = views[0]
    return {
        "series_id": anchor.series_id,
        "scope": scope,
        "patient_name": first.patient_name,
        "practitioner_name": first.practitioner_name,
        "clinic_timezone": first.clinic_timezone,
        "appointment_ids": [v.id for v in views],
        "left_alone": [
            {"appointment_id": v.id, "start": v.start_at.isoformat(), "why": why} for v, why in left
        ],
    }


def _notify_series_change(
    s: Session,
    org: Organization,
    event: ActivityEvent,
    views: list[AppointmentView],
    what: str,
) -> None:
    settings = NotifySettings.from_json(org.settings)
    first = views[0]
    n = len(views)
    some = f"{n} appointment{'s' if n != 1 else ''}"
    dates = _series_dates(views)
    staff: list[Recipient | None] = []
    if settings.practitioner:
        staff.append(practitioner_recipient(first.practitioner_id))
    if what == "cancelled" and settings.coordinators:
        staff.append(role_recipient(COORDINATOR_ROLE))
    title = "Appointments cancelled" if what == "cancelled" else "Appointments changed"
    if staff:
        activity.notify(
            s, event, staff, title, f"{first.patient_name}: {some} of the series {what} ({dates})."
        )
    if settings.patient:
        patient = s.get_one(Patient, first.patient_id)
        where = f"with {first.practitioner_name} at {first.clinic_name}"
        if what == "cancelled":
            line = f"Your {some} {where} ({dates}) are cancelled. Call us to book other times."
        else:
            line = f"Your {some} {where} have new times: {dates}."
        activity.notify(s, event, [patient_recipient(patient)], title, line)


def update_series(
    ctx: AppContext,
    organization_id: int,
    appointment_id: int,
    scope: str,
    actor: Actor,
    *,
    local_time: time | None = None,
    duration_minutes: int | None = None,
    notes: str | None = None,
    reason: str | None = None,
    expected_version: int | None = None,
) -> SeriesChange:
    """Change the time of day (clinic-local), the duration or the notes of one
    occurrence, it and the following ones, or all of its series, in one transaction.

    Each occurrence keeps its own date and moves to ``local_time`` on it (its local
    wall-clock, whatever the UTC offset that day); every moved occurrence passes the
    booking validation (itself left out), or nothing changes and the refusal names the
    occurrence. Occurrences already past or no longer active are left as they are."""
    if local_time is not None and not isinstance(local_time, time):
        raise BookingError("INVALID_START", "Give the new time of day.", "start")
    if _check_scope(scope) == "this":
        start = None
        if local_time is not None:
            current = get_appointment(ctx, organization_id, appointment_id)
            start = wall_clock(current.local_date, local_time, current.clinic_timezone)
        view = update_appointment(
            ctx,
            organization_id,
            appointment_id,
            actor,
            start=start,
            duration_minutes=duration_minutes,
            notes=notes,
            reason=reason,
            expected_version=expected_version,
        )
        return SeriesChange([view], [])
    timing = local_time is not None or duration_minutes is not None
    if timing:
        _authorize(actor, organization_id, Permission.RESCHEDULE)
    else:
        _authorize(
            actor, organization_id, Permission.BOOK, Permission.RESCHEDULE, Permission.CHANGE_STATUS
        )
    new_notes = None if notes is None else clean_field(notes, "notes", MAX_NOTES_LENGTH)
    reason = clean_field(reason, "reason", MAX_REASON_LENGTH)
    now = ctx.clock()
    _warm_rules(ctx, organization_id)
    spans: list[tuple[int, datetime, datetime]] = []
    with ctx.db.transaction(write_lock=True) as s:
        org = _organization(s, organization_id)
        anchor = _get(s, org.id, appointment_id)
        require_practitioner_scope(actor, anchor.practitioner_id)
        members, numbers = _series_members(s, org, anchor, scope)
        practitioners: dict[int, Practitioner] = {}
        patient: Patient | None = None
        if timing:
            practitioners = lock_practitioners(s, org.id, {a.practitioner_id for a in members})
            patient = lock_patient(s, org.id, anchor.patient_id)
        locked = {aid: lock_appointment(s, org.id, aid) for aid in sorted(a.id for a in members)}
        anchor_now = lock_appointment(s, org.id, appointment_id)
        if anchor_now is None:
            raise BookingError("APPOINTMENT_NOT_FOUND", "This appointment was not found.")
        anchor_tz = s.get_one(Clinic, anchor_now.clinic_id).timezone
        _check_version(s, anchor_now, expected_version, anchor_tz)
        changed: list[Appointment] = []
        left: list[tuple[Appointment, str]] = []
        for member in members:
            a = locked[member.id]
            if a is None:
                continue
            why = _left_alone_reason(a, now)
            if why is not None:
                left.append((a, why))
                continue
            require_practitioner_scope(actor, a.practitioner_id)
            before = _snapshot(s, a)
            tz = s.get_one(Clinic, a.clinic_id).timezone
            if timing:
                local = a.start_at.astimezone(ZoneInfo(tz))
                start = wall_clock(
                    local.date(), local_time or local.time().replace(tzinfo=None), tz
                )
                try:
                    t = _validate(
                        ctx,
                        s,
                        org,
                        now,
                        patient=patient,
                        practitioners=practitioners,
                        practitioner_id=a.practitioner_id,
                        clinic_id=a.clinic_id,
                        appointment_type_id=a.appointment_type_id,
                        start=start,
                        duration=duration_minutes
                        if duration_minutes is not None
                        else a.duration_minutes,
                        require_active_type=False,
                        exclude_appointment_id=a.id,
                    )
                except BookingError as exc:
                    if exc.code == "INVALID_DURATION":
                        raise
                    raise _occurrence_error(exc, numbers[a.id], start, tz) from exc
                a.start_at, a.end_at, a.duration_minutes = t.start, t.end, t.duration
                a.exclusive = t.capacity == 1
            if notes is not None:
                a.notes = new_notes
            after = _snapshot(s, a)
            changes = {
                k: {"before": before[k], "after": after[k]} for k in before if before[k] != after[k]
            }
            if not changes:
                left.append((a, "already like that"))
                continue
            a.updated_at = now
            _flush(s)
            activity.record_event(
                s,
                organization_id=org.id,
                event_type=activity.EVENT_UPDATED,
                appointment_id=a.id,
                payload={
                    "changes": changes,
                    "reason": reason,
                    "clinic_timezone": tz,
                    "series_id": a.series_id,
                },
                actor=actor,
                at=now,
            )
            changed.append(a)
            if timing:
                spans.append(
                    (
                        a.practitioner_id,
                        datetime.fromisoformat(before["start"]),
                        datetime.fromisoformat(before["end"]),
                    )
                )
                spans.append((a.practitioner_id, a.start_at, a.end_at))
        if not changed:
            raise BookingError(
                "NOTHING_TO_CHANGE",
                "Nothing to change: "
                + "; ".join(f"{fmt_when(a.start_at, anchor_tz)} {why}" for a, why in left)
                + ".",
                "scope",
            )
        views = [_view_of(s, a) for a in changed]
        left_views = [(_view_of(s, a), why) for a, why in left]
        event = activity.record_event(
            s,
            organization_id=org.id,
            event_type=activity.EVENT_SERIES_UPDATED,
            appointment_id=anchor_now.id,
            payload=_series_change_payload(anchor_now, scope, views, left_views)
            | {
                "local_time": local_time.strftime("%H:%M") if local_time else None,
                "duration_minutes": duration_minutes,
                "notes_changed": notes is not None,
                "reason": reason,
            },
            actor=actor,
            at=now,
        )
        if timing:
            _notify_series_change(s, org, event, views, "changed")
    if spans:
        _invalidate(ctx, org.id, spans)
    return SeriesChange(views, left_views)
