"""Activity events (the audit trail), notifications, and the queries that read them.

Writers (``record_event``, ``notify``) take the caller's session: the appointment row, its
event and its notifications commit together or not at all.

Event types and payloads (JSON; every payload is self-contained so the history still reads
right after names change):

- ``APPOINTMENT_CREATED``: {patient_id, patient_name, practitioner_id, practitioner_name,
  clinic_id, clinic_name, clinic_timezone, appointment_type_id, appointment_type,
  start, end (ISO UTC), duration_minutes, status}
- ``APPOINTMENT_STATUS_CHANGED``: {old_status, new_status, reason, cancellation_category,
  correction (bool), encounter_id (when the change opened or used one), start, clinic_timezone}
- ``APPOINTMENT_UPDATED``: {changes: {field: {before, after}}, reason, clinic_timezone};
  the fields are among start, end, duration_minutes, practitioner_id, practitioner_name,
  clinic_id, clinic_name, appointment_type_id, appointment_type, notes
- ``ENCOUNTER_CREATED`` / ``ENCOUNTER_LINKED`` / ``ENCOUNTER_FINALIZED``: {encounter_id,
  encounter_type, encounter_date}
- ``REMINDER_SENT`` / ``REMINDER_FAILED`` (``domain.reminders``): {offset_minutes, channel,
  start, clinic_timezone, patient_name} (+ error when it failed for good)
- ``SETTINGS_CHANGED``: {changes: {setting: {before, after}}} (no appointment)
- ``CALENDAR_FEED_ISSUED`` / ``CALENDAR_FEED_REVOKED``: {practitioner_id, practitioner_name}
- ``API_TOKEN_CREATED`` / ``API_TOKEN_REVOKED``: {token_id, name, scope}

Notifications go to a user, a practitioner, a patient (an outbox row with channel email or
sms; delivery is a separate job) or a role (every user with that role sees it; the first to
mark it read marks it read for the team: a shared inbox).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.orm import Session

from data.models import (
    ActivityEvent,
    Appointment,
    Notification,
    Patient,
    Practitioner,
    User,
)
from domain.actor import Actor
from domain.context import AppContext
from domain.errors import BookingError

EVENT_CREATED = "APPOINTMENT_CREATED"
EVENT_STATUS_CHANGED = "APPOINTMENT_STATUS_CHANGED"
EVENT_UPDATED = "APPOINTMENT_UPDATED"
EVENT_ENCOUNTER_CREATED = "ENCOUNTER_CREATED"
EVENT_ENCOUNTER_LINKED = "ENCOUNTER_LINKED"
EVENT_ENCOUNTER_FINALIZED = "ENCOUNTER_FINALIZED"
EVENT_SETTINGS_CHANGED = "SETTINGS_CHANGED"
EVENT_REMINDER_SENT = "REMINDER_SENT"
EVENT_REMINDER_FAILED = "REMINDER_FAILED"
EVENT_CALENDAR_FEED_ISSUED = "CALENDAR_FEED_ISSUED"
EVENT_CALENDAR_FEED_REVOKED = "CALENDAR_FEED_REVOKED"
EVENT_API_TOKEN_CREATED = "API_TOKEN_CREATED"
EVENT_API_TOKEN_REVOKED = "API_TOKEN_REVOKED"
EVENT_SERIES_CREATED = "SERIES_CREATED"
EVENT_SERIES_UPDATED = "SERIES_UPDATED"
EVENT_SERIES_CANCELLED = "SERIES_CANCELLED"
EVENT_WAITLIST_JOINED = "WAITLIST_JOINED"
EVENT_WAITLIST_OFFERED = "WAITLIST_OFFERED"
EVENT_WAITLIST_DECLINED = "WAITLIST_DECLINED"
EVENT_WAITLIST_REMOVED = "WAITLIST_REMOVED"

_PRIORITY_RANK = {"high": 0, "normal": 1, "low": 2}


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class NotifySettings:
    """An organization's notification switches (organizations.settings JSON)."""

    practitioner: bool = True
    patient: bool = True
    coordinators: bool = False

    @classmethod
    def from_json(cls, settings: dict[str, Any] | None) -> NotifySettings:
        s = settings or {}
        return cls(
            practitioner=bool(s.get("notify_practitioner", True)),
            patient=bool(s.get("notify_patient", True)),
            coordinators=bool(s.get("notify_coordinators", False)),
        )


@dataclass(frozen=True)
class Recipient:
    kind: str  # data.vocabulary.RECIPIENT_KINDS
    id: int | None = None
    role: str | None = None
    channel: str = "in-app"


def practitioner_recipient(practitioner_id: int) -> Recipient:
    return Recipient("practitioner", id=practitioner_id)


def patient_recipient(patient: Patient) -> Recipient | None:
    """Patients are reached outside the app; without an address there is no one to tell."""
    if patient.email:
        return Recipient("patient", id=patient.id, channel="email")
    if patient.phone:
        return Recipient("patient", id=patient.id, channel="sms")
    return None


def role_recipient(role: str) -> Recipient:
    return Recipient("role", role=role)


# --------------------------------------------------------------------------- writers


def record_event(
    session: Session,
    *,
    organization_id: int,
    event_type: str,
    appointment_id: int | None,
    payload: dict[str, Any],
    actor: Actor,
    at: datetime,
    priority: str = "normal",
) -> ActivityEvent:
    event = ActivityEvent(
        organization_id=organization_id,
        event_type=event_type,
        appointment_id=appointment_id,
        payload=payload,
        priority=priority,
        actor_user_id=actor.user_id,
        actor_name=actor.name,
        created_at=at,
    )
    session.add(event)
    session.flush()
    return event


def notify(
    session: Session,
    event: ActivityEvent,
    recipients: list[Recipient | None],
    title: str,
    body: str,
) -> list[Notification]:
    """One notification per distinct recipient, with the event's priority and time."""
    seen: set[Recipient] = set()
    rows = []
    for r in recipients:
        if r is None or r in seen:
            continue
        seen.add(r)
        rows.append(
            Notification(
                organization_id=event.organization_id,
                event_id=event.id,
                recipient_kind=r.kind,
                recipient_id=r.id,
                recipient_role=r.role,
                priority=event.priority,
                channel=r.channel,
                title=title,
                body=body,
                created_at=event.created_at,
            )
        )
    session.add_all(rows)
    return rows


# --------------------------------------------------------------------------- readers


@dataclass(frozen=True)
class NotificationView:
    id: int
    title: str
    body: str
    priority: str
    channel: str
    recipient_kind: str
    recipient_role: str | None
    created_at: datetime
    read_at: datetime | None
    event_id: int | None
    appointment_id: int | None


@dataclass(frozen=True)
class ActivityView:
    id: int
    event_type: str
    created_at: datetime
    priority: str
    actor_name: str
    actor_user_id: int | None
    appointment_id: int | None
    payload: dict[str, Any] = field(default_factory=dict)
    # Current names, for events whose payload predates names in payloads.
    patient_name: str | None = None
    practitioner_name: str | None = None

    @property
    def summary(self) -> str:
        return describe_event(self)


def _addressed_to(user: User) -> Any:
    """The notifications a user sees: their own, their role's and, for a practitioner's
    login, their practitioner's."""
    cond = [
        and_(Notification.recipient_kind == "user", Notification.recipient_id == user.id),
        and_(Notification.recipient_kind == "role", Notification.recipient_role == user.role),
    ]
    if user.practitioner_id is not None:
        cond.append(
            and_(
                Notification.recipient_kind == "practitioner",
                Notification.recipient_id == user.practitioner_id,
            )
        )
    return and_(Notification.organization_id == user.organization_id, or_(*cond))


def _user(session: Session, organization_id: int, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None or user.organization_id != organization_id:
        raise BookingError("USER_NOT_FOUND", "This user was not found.")
    return user


def get_unread_notifications(
    ctx: AppContext, organization_id: int, user_id: int, limit: int = 50
) -> list[NotificationView]:
    """Unread notifications for a user, high priority first, newest first within a rank."""
    rank = case({p: r for p, r in _PRIORITY_RANK.items()}, value=Notification.priority, else_=9)
    with ctx.db.read() as s:
        user = _user(s, organization_id, user_id)
        rows = s.execute(
            select(Notification, ActivityEvent.appointment_id)
            .outerjoin(ActivityEvent, ActivityEvent.id == Notification.event_id)
            .where(_addressed_to(user), Notification.read_at.is_(None))
            .order_by(rank, Notification.created_at.desc(), Notification.id.desc())
            .limit(limit)
        ).all()
        return [_notification_view(n, appointment_id) for n, appointment_id in rows]


def count_unread_notifications(ctx: AppContext, organization_id: int, user_id: int) -> int:
    with ctx.db.read() as s:
        user = _user(s, organization_id, user_id)
        return int(
            s.scalar(
                select(func.count())
                .select_from(Notification)
                .where(_addressed_to(user), Notification.read_at.is_(None))
            )
            or 0
        )


def mark_notifications_read(
    ctx: AppContext,
    organization_id: int,
    user_id: int,
    notification_ids: list[int] | None = None,
) -> int:
    """Mark the given notifications (all unread ones when None) read, touching only those
    addressed to this user. Returns how many changed."""
    now = ctx.clock()
    with ctx.db.transaction(write_lock=True) as s:
        user = _user(s, organization_id, user_id)
        stmt = update(Notification).where(_addressed_to(user), Notification.read_at.is_(None))
        if notification_ids is not None:
            if not notification_ids:
                return 0
            stmt = stmt.where(Notification.id.in_(notification_ids))
        result = s.execute(stmt.values(read_at=now).execution_options(synchronize_session=False))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _notification_view(n: Notification, appointment_id: int | None) -> NotificationView:
    return NotificationView(
        id=n.id,
        title=n.title,
        body=n.body,
        priority=n.priority,
        channel=n.channel,
        recipient_kind=n.recipient_kind,
        recipient_role=n.recipient_role,
        created_at=n.created_at,
        read_at=n.read_at,
        event_id=n.event_id,
        appointment_id=appointment_id,
    )


def _activity_select() -> Any:
    return (
        select(ActivityEvent, Patient.given_name, Patient.family_name, Practitioner.name)
        .outerjoin(Appointment, Appointment.id == ActivityEvent.appointment_id)
        .outerjoin(Patient, Patient.id == Appointment.patient_id)
        .outerjoin(Practitioner, Practitioner.id == Appointment.practitioner_id)
    )


def _activity_view(row: Any) -> ActivityView:
    e, given, family, practitioner = row
    return ActivityView(
        id=e.id,
        event_type=e.event_type,
        created_at=e.created_at,
        priority=e.priority,
        actor_name=e.actor_name,
        actor_user_id=e.actor_user_id,
        appointment_id=e.appointment_id,
        payload=dict(e.payload or {}),
        patient_name=f"{given} {family}".strip() if given is not None else None,
        practitioner_name=practitioner,
    )


def get_activity_feed(
    ctx: AppContext,
    organization_id: int,
    limit: int = 50,
    before: datetime | None = None,
    min_priority: str | None = None,
    before_id: int | None = None,
) -> list[ActivityView]:
    """The organization's most recent events, newest first.

    ``before`` pages back; with ``before_id`` (the last event of the previous page) the
    page continues exactly after that event: one change writes several events with the
    same time (a check-in and the visit record it opens), which ``before`` alone would
    skip at a page boundary. Given ``before_id`` alone, the time is the event's own, looked
    up in this organization: a page's cursor is just an event id, and one that is not this
    organization's (another's, or none) is no position at all, so the page is empty.
    """
    if before is None and before_id is not None:
        with ctx.db.read() as s:
            before = s.scalar(
                select(ActivityEvent.created_at).where(
                    ActivityEvent.id == before_id,
                    ActivityEvent.organization_id == organization_id,
                )
            )
        if before is None:
            return []
    stmt = _activity_select().where(ActivityEvent.organization_id == organization_id)
    if before is not None and before_id is not None:
        stmt = stmt.where(
            or_(
                ActivityEvent.created_at < before,
                and_(ActivityEvent.created_at == before, ActivityEvent.id < before_id),
            )
        )
    elif before is not None:
        stmt = stmt.where(ActivityEvent.created_at < before)
    if min_priority is not None:
        allowed = [p for p, r in _PRIORITY_RANK.items() if r <= _PRIORITY_RANK[min_priority]]
        stmt = stmt.where(ActivityEvent.priority.in_(allowed))
    stmt = stmt.order_by(ActivityEvent.created_at.desc(), ActivityEvent.id.desc()).limit(limit)
    with ctx.db.read() as s:
        return [_activity_view(r) for r in s.execute(stmt).all()]


def get_appointment_history(
    ctx: AppContext, organization_id: int, appointment_id: int
) -> list[ActivityView]:
    """Every event of one appointment, oldest first: its audit trail."""
    stmt = (
        _activity_select()
        .where(
            ActivityEvent.organization_id == organization_id,
            ActivityEvent.appointment_id == appointment_id,
        )
        .order_by(ActivityEvent.created_at, ActivityEvent.id)
    )
    with ctx.db.read() as s:
        rows = s.execute(stmt).all()
        if not rows:
            exists = s.scalar(
                select(Appointment.id).where(
                    Appointment.id == appointment_id,
                    Appointment.organization_id == organization_id,
                )
            )
            if exists is None:
                raise BookingError("APPOINTMENT_NOT_FOUND", "This appointment was not found.")
        return [_activity_view(r) for r in rows]


# --------------------------------------------------------------------------- wording


def _when(payload: dict[str, Any]) -> str:
    from domain.timefmt import fmt_when

    start = payload.get("start")
    if not start:
        return ""
    at = datetime.fromisoformat(start)
    tz = payload.get("clinic_timezone")
    return f" on {fmt_when(at, tz)}" if tz else f" on {at:%a %d %b %Y %H:%M} UTC"


_DIFF_LABELS = {
    "start": "time",
    "duration_minutes": "duration",
    "practitioner_name": "practitioner",
    "clinic_name": "clinic",
    "appointment_type": "type",
    "notes": "notes",
}


def _diff_text(payload: dict[str, Any]) -> str:
    from domain.timefmt import fmt_when

    changes = payload.get("changes") or {}
    tz = payload.get("clinic_timezone") or "UTC"
    bits = []
    for key, label in _DIFF_LABELS.items():
        if key not in changes:
            continue
        before, after = changes[key].get("before"), changes[key].get("after")
        if key == "start":
            before = fmt_when(datetime.fromisoformat(before), tz) if before else "?"
            after = fmt_when(datetime.fromisoformat(after), tz) if after else "?"
        elif key == "duration_minutes":
            before, after = f"{before} min", f"{after} min"
        elif key == "notes":
            bits.append("notes edited")
            continue
        bits.append(f"{label} {before} → {after}")
    return "; ".join(bits) or "no visible change"


def describe_event(e: ActivityView) -> str:
    """One line for the feed: '<actor> booked <patient> with <practitioner> on ...'."""
    p = e.payload
    patient = p.get("patient_name") or e.patient_name or "a patient"
    practitioner = p.get("practitioner_name") or e.practitioner_name or "a practitioner"
    if e.event_type == EVENT_CREATED:
        where = f" at {p['clinic_name']}" if p.get("clinic_name") else ""
        return f"{e.actor_name} booked {patient} with {practitioner}{where}{_when(p)}"
    if e.event_type == EVENT_STATUS_CHANGED:
        from domain.workflow import status_label

        new = p.get("new_status", "?")
        text = (
            f"{e.actor_name} changed {patient}'s appointment with {practitioner} from "
            f"{status_label(p.get('old_status', '?'))} to {status_label(new)}"
        )
        if p.get("cancellation_category"):
            text += f" ({p['cancellation_category']})"
        if p.get("correction"):
            text += " [correction]"
        if p.get("reason"):
            text += f": {p['reason']}"
        return text
    if e.event_type == EVENT_UPDATED:
        return f"{e.actor_name} changed {patient}'s appointment: {_diff_text(p)}"
    if e.event_type == EVENT_ENCOUNTER_CREATED:
        return f"Visit record opened for {patient} with {practitioner}"
    if e.event_type == EVENT_ENCOUNTER_LINKED:
        return (
            f"{e.actor_name} linked visit record #{p.get('encounter_id')} to {patient}'s "
            "appointment"
        )
    if e.event_type == EVENT_ENCOUNTER_FINALIZED:
        return f"{e.actor_name} finalized the visit record of {patient} with {practitioner}"
    if e.event_type in (EVENT_REMINDER_SENT, EVENT_REMINDER_FAILED):
        from domain.reminders import format_offset

        how = {"email": "by e-mail", "in-app": "as a call for the front desk"}.get(
            p.get("channel") or "", ""
        )
        before = f"{format_offset(int(p.get('offset_minutes') or 0))} before"
        if e.event_type == EVENT_REMINDER_SENT:
            return f"Reminder sent to {patient} {how} ({before}{_when(p)})".replace("  ", " ")
        return f"Reminder to {patient} ({before}) could not be delivered: {p.get('error')}"
    if e.event_type in (EVENT_CALENDAR_FEED_ISSUED, EVENT_CALENDAR_FEED_REVOKED):
        done = "issued a new" if e.event_type == EVENT_CALENDAR_FEED_ISSUED else "revoked the"
        return f"{e.actor_name} {done} calendar feed link of {p.get('practitioner_name')}"
    if e.event_type in (EVENT_API_TOKEN_CREATED, EVENT_API_TOKEN_REVOKED):
        done = "created" if e.event_type == EVENT_API_TOKEN_CREATED else "revoked"
        return f"{e.actor_name} {done} the API token “{p.get('name')}”"
    if e.event_type in (EVENT_SERIES_CREATED, EVENT_SERIES_UPDATED, EVENT_SERIES_CANCELLED):
        return _describe_series(e.actor_name, e.event_type, p, patient, practitioner)
    if e.event_type == EVENT_WAITLIST_JOINED:
        return f"{e.actor_name} put {patient} on the waitlist for {p.get('wants')}"
    if e.event_type == EVENT_WAITLIST_OFFERED:
        return (
            f"A freed seat was offered to {patient} from the waitlist: {practitioner} at "
            f"{p.get('clinic_name')}{_when(p)}"
        )
    if e.event_type == EVENT_WAITLIST_DECLINED:
        return f"{e.actor_name} declined a waitlist offer for {patient}"
    if e.event_type == EVENT_WAITLIST_REMOVED:
        return f"{e.actor_name} took {patient} off the waitlist"
    from domain.admin.wording import describe_admin_event

    admin = describe_admin_event(e.event_type, p, e.actor_name)
    if admin is not None:
        return admin
    return f"{e.actor_name}: {e.event_type.replace('_', ' ').lower()}"


def _describe_series(
    actor: str, event_type: str, p: dict[str, Any], patient: str, practitioner: str
) -> str:
    n = len(p.get("appointment_ids") or [])
    some = f"{n} appointment{'s' if n != 1 else ''}"
    left = len(p.get("left_alone") or [])
    also = f"; {left} left as they were" if left else ""
    if event_type == EVENT_SERIES_CREATED:
        skipped = len(p.get("skipped") or [])
        not_booked = f", {skipped} not booked" if skipped else ""
        return (
            f"{actor} booked a series for {patient} with {practitioner}: {some} "
            f"({p.get('rule', 'weekly')}){not_booked}"
        )
    scope = {"following": "this and following", "all": "all"}.get(p.get("scope", ""), "")
    if event_type == EVENT_SERIES_UPDATED:
        return f"{actor} changed {some} of {patient}'s series ({scope}){also}"
    return f"{actor} cancelled {some} of {patient}'s series ({scope}){also}"
