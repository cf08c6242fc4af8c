"""Timed reminders: each organization sets how long before an appointment its patients are
reminded (e.g. 48 h and 2 h); ``send_due_reminders`` (the ``appointments reminders``
command, run by cron or a systemd timer) sends every due reminder exactly once.

Which reminders go out (``plan_due``, pure):

- only for booked or confirmed appointments that have not started; a cancelled one gets
  nothing, a moved one gets the reminders of its new time (a reminder is keyed by the
  start it was computed for, so one computed for the old time can never go out);
- a reminder is due from ``start - offset``; when several of an appointment's reminders are
  due at once (the runner was stopped, or the offsets changed), only the closest to the
  start goes out and the others are recorded as superseded;
- a reminder that fell due before the appointment got its time (booked or moved at short
  notice: the patient was just told) is skipped.

Exactly once, with any number of runners at the same time: a runner first CLAIMS reminders
by inserting their rows (``data.claims.insert_missing``: unique key appointment + offset +
start; a runner sends only the rows its own INSERT created), commits, then sends, then
marks each sent (with its REMINDER_SENT event and ``appointments.reminder_sent``) in one
transaction. Retries and stale claims are taken with ``SELECT ... FOR UPDATE SKIP LOCKED``
(PostgreSQL; SQLite's write lock serializes runners).

Failures: a refused address fails for good at once; anything else (server down, timeout)
is retried on later runs (after 5, 15, 60, 180 minutes), at most ``MAX_ATTEMPTS`` times
and never after the appointment started. A reminder that fails for good is recorded
(REMINDER_FAILED event) and the front desk gets a notification to phone the patient. A
runner that dies between claiming and marking leaves a claim that another run takes over
after ``CLAIM_LEASE``: that reminder may then reach the patient twice, never not at all.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.orm import Session

from data.claims import insert_missing
from data.models import (
    ActivityEvent,
    Appointment,
    AppointmentReminder,
    AppointmentType,
    Clinic,
    Notification,
    Organization,
    Patient,
    Practitioner,
)
from data.stats_summaries import invalidate_days
from data.vocabulary import REMINDER_CHANNELS
from domain import activity
from domain.actor import Actor
from domain.channels import (
    Channel,
    DeliveryError,
    InAppChannel,
    Outbox,
    ReminderMessage,
    default_channels,
)
from domain.context import AppContext
from domain.permissions import Permission, PermissionDenied, require

# Organization settings keys (organizations.settings JSON).
OFFSETS_KEY = "reminder_offsets_minutes"
CHANNELS_KEY = "reminder_channels"
DEFAULT_CHANNELS: tuple[str, ...] = ("email", "in-app")

MIN_OFFSET_MINUTES = 10
MAX_OFFSET_MINUTES = 30 * 24 * 60
MAX_OFFSETS = 5
# Statuses whose patient is expected: pending requests are not confirmed by the practice,
# and arrived or later ones are already there.
REMINDED_STATUSES = ("booked", "confirmed")

MAX_ATTEMPTS = 5
RETRY_AFTER = (
    timedelta(minutes=5),
    timedelta(minutes=15),
    timedelta(hours=1),
    timedelta(hours=3),
)
# A claim older than this belongs to a runner that died: another run takes it over. Far
# longer than a batch can take (BATCH_SIZE messages x the SMTP timeout).
CLAIM_LEASE = timedelta(minutes=30)
BATCH_SIZE = 25

# Why a reminder was not sent (the first word of appointment_reminders.detail).
SUPERSEDED = "superseded"
SCHEDULED_LATE = "scheduled-late"
CANCELLED = "cancelled"
MOVED = "moved"
UNREACHABLE = "unreachable"
STARTED = "started"

ACTOR_NAME = "appointments reminders"


class ReminderSettingsError(ValueError):
    """Invalid reminder settings; the message names what is wrong."""


# --------------------------------------------------------------------------- settings


_PART = re.compile(r"(\d+)\s*(min|d|h|m)?", re.IGNORECASE)
_UNIT_MINUTES = {"d": 24 * 60, "h": 60, "m": 1, "min": 1, None: 1}


def parse_offset(text: str) -> int:
    """'48h', '2 h', '90m', '1d12h' or a plain number of minutes -> minutes."""
    clean = text.strip().lower().replace(" ", "")
    if not clean:
        raise ReminderSettingsError("An empty reminder time was given.")
    total, pos = 0, 0
    while pos < len(clean):
        match = _PART.match(clean, pos)
        if match is None or match.end() == pos:
            raise ReminderSettingsError(
                f"{text!r} is not a time before the appointment; write e.g. 48h, 2h or 90m."
            )
        total += int(match.group(1)) * _UNIT_MINUTES[match.group(2)]
        pos = match.end()
    return total


def format_offset(minutes: int) -> str:
    """2880 -> '48 h', 90 -> '90 min', 10080 -> '7 days'."""
    if minutes % (24 * 60) == 0 and minutes >= 3 * 24 * 60:
        return f"{minutes // (24 * 60)} days"
    if minutes % 60 == 0:
        return f"{minutes // 60} h"
    return f"{minutes} min"


@dataclass(frozen=True)
class ReminderSettings:
    """An organization's reminder offsets (minutes before the start, largest first) and
    channels in order of preference. No offsets: no reminders."""

    offsets_minutes: tuple[int, ...] = ()
    channels: tuple[str, ...] = DEFAULT_CHANNELS

    @classmethod
    def validated(
        cls, offsets: Iterable[object], channels: Iterable[object] | None = None
    ) -> ReminderSettings:
        values: list[int] = []
        for raw in offsets:
            if isinstance(raw, bool):
                raise ReminderSettingsError(f"{raw!r} is not a time before the appointment.")
            value = parse_offset(raw) if isinstance(raw, str) else raw
            if not isinstance(value, int):
                raise ReminderSettingsError(f"{raw!r} is not a time before the appointment.")
            if not MIN_OFFSET_MINUTES <= value <= MAX_OFFSET_MINUTES:
                raise ReminderSettingsError(
                    f"A reminder can go out from {MIN_OFFSET_MINUTES} minutes to "
                    f"{MAX_OFFSET_MINUTES // (24 * 60)} days before the appointment; "
                    f"{format_offset(value) if value > 0 else raw!r} is outside that."
                )
            if value in values:
                raise ReminderSettingsError(f"{format_offset(value)} is given twice.")
            values.append(value)
        if len(values) > MAX_OFFSETS:
            raise ReminderSettingsError(f"At most {MAX_OFFSETS} reminders per appointment.")
        chosen = DEFAULT_CHANNELS if channels is None else tuple(channels)
        if not chosen:
            raise ReminderSettingsError("Choose at least one channel: e-mail or in-app.")
        for ch in chosen:
            if ch not in REMINDER_CHANNELS:
                raise ReminderSettingsError(
                    f"Unknown reminder channel {ch!r}; use {' or '.join(REMINDER_CHANNELS)}."
                )
        if len(set(chosen)) != len(chosen):
            raise ReminderSettingsError("A channel is listed twice.")
        return cls(tuple(sorted(values, reverse=True)), tuple(str(c) for c in chosen))

    @classmethod
    def from_json(cls, settings: Mapping[str, Any] | None) -> ReminderSettings:
        """Read what is stored; raises ReminderSettingsError when it was stored invalid
        (by hand, bypassing ``set_reminder_settings``)."""
        s = settings or {}
        offsets = s.get(OFFSETS_KEY) or []
        if not isinstance(offsets, list):
            raise ReminderSettingsError(f"{OFFSETS_KEY} must be a list of minutes.")
        channels = s.get(CHANNELS_KEY)
        if channels is not None and not isinstance(channels, list):
            raise ReminderSettingsError(f"{CHANNELS_KEY} must be a list of channels.")
        return cls.validated(offsets, channels)

    def to_json(self) -> dict[str, Any]:
        return {OFFSETS_KEY: list(self.offsets_minutes), CHANNELS_KEY: list(self.channels)}

    def describe(self) -> str:
        if not self.offsets_minutes:
            return "no reminders"
        when = " and ".join(f"{format_offset(o)} before" for o in self.offsets_minutes)
        return f"{when}, by {' then '.join(self.channels)}"


def get_reminder_settings(ctx: AppContext, organization_id: int) -> ReminderSettings:
    with ctx.db.read() as s:
        org = s.get(Organization, organization_id)
        if org is None:
            raise ReminderSettingsError("This organization was not found.")
        return ReminderSettings.from_json(org.settings)


def set_reminder_settings(
    ctx: AppContext,
    actor: Actor,
    organization_id: int,
    offsets: Iterable[object],
    channels: Iterable[object] | None = None,
) -> ReminderSettings:
    """Save the organization's reminder offsets ('48h', 120, ...; empty: reminders off)
    and channels, audited as SETTINGS_CHANGED. Needs ``manage_settings``."""
    if actor.organization_id is not None and actor.organization_id != organization_id:
        raise PermissionDenied("You can only work in your own organization.")
    require(actor, Permission.MANAGE_SETTINGS)
    new = ReminderSettings.validated(offsets, channels)
    now = ctx.clock()
    with ctx.db.transaction(write_lock=True) as s:
        # Locked: the settings JSON is read, changed and written back whole.
        org = s.get(Organization, organization_id, with_for_update={"key_share": True})
        if org is None:
            raise ReminderSettingsError("This organization was not found.")
        try:
            old: dict[str, Any] = ReminderSettings.from_json(org.settings).to_json()
        except ReminderSettingsError:
            old = {k: (org.settings or {}).get(k) for k in (OFFSETS_KEY, CHANNELS_KEY)}
        after = new.to_json()
        changes = {
            k: {"before": old.get(k), "after": v} for k, v in after.items() if old.get(k) != v
        }
        if not changes:
            return new
        org.settings = {**(org.settings or {}), **after}
        activity.record_event(
            s,
            organization_id=organization_id,
            event_type=activity.EVENT_SETTINGS_CHANGED,
            appointment_id=None,
            payload={"changes": changes},
            actor=actor,
            at=now,
        )
    return new


# --------------------------------------------------------------------------- planning


@dataclass(frozen=True)
class PlannedReminder:
    offset_minutes: int
    due_at: datetime
    send: bool
    # Why not, when ``send`` is False: "<reason>: <sentence>".
    detail: str | None = None


def plan_due(
    start_at: datetime,
    scheduled_at: datetime,
    offsets_minutes: Iterable[int],
    now: datetime,
) -> list[PlannedReminder]:
    """The reminders of one appointment due at ``now``: the closest to the start is sent
    unless it fell due before the appointment got this time (``scheduled_at``: booked,
    moved or reinstated); the others are superseded by it. Nothing once it started."""
    if start_at <= now:
        return []
    due = sorted(o for o in set(offsets_minutes) if start_at - timedelta(minutes=o) <= now)
    if not due:
        return []
    closest = due[0]
    out = []
    for o in due:
        due_at = start_at - timedelta(minutes=o)
        if o != closest:
            detail = f"{SUPERSEDED}: the {format_offset(closest)} reminder replaces it"
            out.append(PlannedReminder(o, due_at, False, detail))
        elif due_at < scheduled_at:
            detail = f"{SCHEDULED_LATE}: booked or moved after this reminder was due"
            out.append(PlannedReminder(o, due_at, False, detail))
        else:
            out.append(PlannedReminder(o, due_at, True))
    return out


def retry_delay(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failed attempt."""
    return RETRY_AFTER[min(max(attempts, 1), len(RETRY_AFTER)) - 1]


# --------------------------------------------------------------------------- the runner


@dataclass
class ReminderReport:
    """What one run did."""

    sent: Counter[str] = field(default_factory=Counter)  # by channel
    skipped: Counter[str] = field(default_factory=Counter)  # by reason
    retrying: int = 0
    abandoned: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def total_sent(self) -> int:
        return sum(self.sent.values())

    def summary(self) -> str:
        sent = ", ".join(f"{n} {ch}" for ch, n in sorted(self.sent.items()))
        skipped = ", ".join(f"{n} {why}" for why, n in sorted(self.skipped.items()))
        lines = [
            f"sent {self.total_sent} reminder(s)" + (f" ({sent})" if sent else ""),
            f"skipped {sum(self.skipped.values())}" + (f" ({skipped})" if skipped else ""),
            f"failed, will retry: {self.retrying}",
            f"failed for good (front desk told): {self.abandoned}",
        ]
        return "\n".join(lines + [f"problem: {p}" for p in self.problems])


def runner_name() -> str:
    """Who holds a claim: host, process and a random part (two runners of one process)."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(3)}"


def send_due_reminders(
    ctx: AppContext,
    *,
    channels: Mapping[str, Channel] | None = None,
    organization_id: int | None = None,
    runner: str | None = None,
    batch_size: int = BATCH_SIZE,
) -> ReminderReport:
    """Send every reminder due now (``ctx.clock()``), in every organization (or one).

    ``channels`` by name (default: in-app, and e-mail when SMTP is configured); each is
    closed at the end. Safe to run in several processes at once: each reminder is sent by
    exactly one of them.
    """
    run = _Run(
        ctx,
        dict(channels) if channels is not None else default_channels(ctx.settings),
        runner or runner_name(),
        batch_size,
    )
    try:
        with ctx.db.read() as s:
            query = select(Organization.id, Organization.name, Organization.settings)
            if organization_id is not None:
                query = query.where(Organization.id == organization_id)
            orgs = s.execute(query.order_by(Organization.id)).all()
        for org_id, name, settings in orgs:
            try:
                wanted = ReminderSettings.from_json(settings)
            except ReminderSettingsError as exc:
                run.report.problems.append(f"{name}: reminder settings are invalid: {exc}")
                continue
            if not wanted.offsets_minutes:
                continue
            missing = [c for c in wanted.channels if c not in run.channels]
            if missing and len(missing) == len(wanted.channels):
                # Nothing could go out: leave the reminders due rather than use them up.
                run.report.problems.append(
                    f"{name}: reminders are by {', '.join(missing)} only, which is not set up "
                    "(SMTP_HOST); nothing was sent"
                )
                continue
            if missing:
                run.report.problems.append(
                    f"{name}: e-mail reminders are on but SMTP_HOST is not set; "
                    "the front desk was asked to phone instead"
                )
            run.organization(org_id, wanted)
    finally:
        for channel in run.channels.values():
            channel.close()
    return run.report


class _Run:
    def __init__(
        self, ctx: AppContext, channels: dict[str, Channel], runner: str, batch_size: int
    ) -> None:
        self.ctx = ctx
        self.channels = channels
        self.runner = runner
        self.batch_size = batch_size
        self.report = ReminderReport()
        # Channels that failed to connect in this run: later messages wait for a later run
        # instead of waiting for the same timeout again.
        self.down: dict[str, str] = {}

    # ------------------------------------------------------------- per organization

    def organization(self, organization_id: int, wanted: ReminderSettings) -> None:
        actor = Actor.system(ACTOR_NAME, organization_id)
        # New reminders: claim a batch, send it, until nothing is left.
        while True:
            claimed, candidates = self._claim_new(organization_id, wanted)
            self._deliver(claimed, wanted, actor)
            if candidates < self.batch_size:
                break
        # Failed ones whose retry is due, and claims of runners that died.
        while True:
            claimed, looked_at = self._claim_retries(organization_id)
            self._deliver(claimed, wanted, actor)
            if looked_at < self.batch_size:
                break

    def _claim_new(
        self, organization_id: int, wanted: ReminderSettings
    ) -> tuple[list[ReminderMessage], int]:
        """Insert the rows of due reminders (sending or skipped); return the messages of
        the ones this runner now owns, and how many appointments were looked at."""
        now = self.ctx.clock()
        with self.ctx.db.transaction(write_lock=True) as s:
            rows = s.execute(
                _message_select()
                .where(*_due_conditions(organization_id, wanted.offsets_minutes, now))
                .order_by(Appointment.start_at, Appointment.id)
                .limit(self.batch_size)
            ).all()
            if not rows:
                return [], 0
            scheduled = _scheduled_at(s, {r.id: r.booked_at for r in rows})
            inserts: list[dict[str, Any]] = []
            by_key: dict[tuple[int, int], Any] = {}
            for r in rows:
                for plan in plan_due(r.start_at, scheduled[r.id], wanted.offsets_minutes, now):
                    by_key[(r.id, plan.offset_minutes)] = r
                    inserts.append(
                        {
                            "organization_id": organization_id,
                            "appointment_id": r.id,
                            "offset_minutes": plan.offset_minutes,
                            "start_at": r.start_at,
                            "due_at": plan.due_at,
                            "status": "sending" if plan.send else "skipped",
                            "detail": plan.detail,
                            "attempts": 0,
                            "claimed_by": self.runner if plan.send else None,
                            "claimed_at": now if plan.send else None,
                            "created_at": now,
                        }
                    )
            won = insert_missing(
                s,
                AppointmentReminder.__table__,  # type: ignore[arg-type]
                inserts,
                key=("appointment_id", "offset_minutes", "start_at"),
                returning=("id", "appointment_id", "offset_minutes", "status", "detail"),
            )
        messages = []
        for row in won:
            if row.status == "skipped":
                self.report.skipped[str(row.detail).split(":")[0]] += 1
            else:
                key = (row.appointment_id, row.offset_minutes)
                messages.append(_message(by_key[key], row.id, row.offset_minutes))
        return messages, len(rows)

    def _claim_retries(self, organization_id: int) -> tuple[list[ReminderMessage], int]:
        """Take failed reminders whose retry is due and stale claims (skipping those whose
        appointment was cancelled or moved meanwhile); their messages, and how many rows
        were looked at."""
        now = self.ctx.clock()
        R = AppointmentReminder
        with self.ctx.db.transaction(write_lock=True) as s:
            reminders = s.scalars(
                select(R)
                .where(
                    R.organization_id == organization_id,
                    or_(
                        and_(R.status == "failed", R.next_attempt_at <= now),
                        and_(R.status == "sending", R.claimed_at < now - CLAIM_LEASE),
                    ),
                )
                .order_by(R.id)
                .limit(self.batch_size)
                .with_for_update(skip_locked=True)
            ).all()
            if not reminders:
                return [], 0
            current = {
                r.id: r
                for r in s.execute(
                    _message_select().where(
                        Appointment.id.in_({rem.appointment_id for rem in reminders})
                    )
                ).all()
            }
            messages = []
            for rem in reminders:
                a = current[rem.appointment_id]
                gone = _gone(a.status, a.start_at, rem.start_at, now)
                if gone is not None:
                    rem.status = "skipped" if gone != STARTED else "abandoned"
                    rem.detail = gone if rem.detail is None else f"{gone} (after: {rem.detail})"
                    if rem.status == "skipped":
                        self.report.skipped[gone.split(":")[0]] += 1
                    else:
                        self.report.abandoned += 1
                    continue
                rem.status, rem.claimed_by, rem.claimed_at = "sending", self.runner, now
                messages.append(_message(a, rem.id, rem.offset_minutes))
        return messages, len(reminders)

    # ------------------------------------------------------------- delivery

    def _deliver(
        self, messages: Sequence[ReminderMessage], wanted: ReminderSettings, actor: Actor
    ) -> None:
        for message in messages:
            gone = self._recheck(message)
            if gone is not None:
                self._finish(message, "skipped", None, gone, actor)
                continue
            channel = next(
                (
                    self.channels[name]
                    for name in wanted.channels
                    if name in self.channels and self.channels[name].reaches(message)
                ),
                None,
            )
            if channel is None:
                self._finish(
                    message,
                    "skipped",
                    None,
                    f"{UNREACHABLE}: no e-mail address and in-app reminders are off",
                    actor,
                )
                continue
            if channel.name in self.down:
                self._failed(message, channel.name, self.down[channel.name], actor, tried=False)
                continue
            outbox = Outbox()
            try:
                channel.send(message, outbox)
            except DeliveryError as exc:
                if exc.channel_down:
                    self.down[channel.name] = str(exc)
                self._failed(message, channel.name, str(exc), actor, permanent=exc.permanent)
                continue
            self._finish(message, "sent", channel.name, None, actor, outbox)

    def _recheck(self, message: ReminderMessage) -> str | None:
        """Cancelled or moved since it was claimed (sending takes time)?"""
        with self.ctx.db.read() as s:
            row = s.execute(
                select(Appointment.status, Appointment.start_at).where(
                    Appointment.id == message.appointment_id
                )
            ).one()
        return _gone(row.status, row.start_at, message.start_at, self.ctx.clock())

    def _finish(
        self,
        message: ReminderMessage,
        status: str,
        channel: str | None,
        detail: str | None,
        actor: Actor,
        outbox: Outbox | None = None,
    ) -> None:
        """Mark a claimed reminder sent or skipped; a sent one with its event, its in-app
        notifications and the appointment's reminder_sent flag, in one transaction."""
        now = self.ctx.clock()
        R = AppointmentReminder
        with self.ctx.db.transaction(write_lock=True) as s:
            values: dict[str, Any] = {"status": status, "detail": detail, "channel": channel}
            if status == "sent":
                values.update(sent_at=now, attempts=R.attempts + 1, next_attempt_at=None)
            if not self._update_claimed(s, message, values):
                return
            if status == "skipped":
                self.report.skipped[str(detail).split(":")[0]] += 1
                return
            event = activity.record_event(
                s,
                organization_id=message.organization_id,
                event_type=activity.EVENT_REMINDER_SENT,
                appointment_id=message.appointment_id,
                payload=_event_payload(message, channel=channel),
                actor=actor,
                at=now,
                priority="low",
            )
            _write_outbox(s, event, outbox)
            # Core UPDATE: the appointment's version (optimistic lock of open forms) must
            # not move for this. Not being the ORM, it drops stored statistics itself.
            day = s.execute(
                update(Appointment)
                .where(Appointment.id == message.appointment_id)
                .values(reminder_sent=True)
                .returning(Appointment.local_date)
                .execution_options(synchronize_session=False)
            ).scalar_one()
            invalidate_days(s.connection(), message.organization_id, [day])
        self.report.sent[str(channel)] += 1

    def _failed(
        self,
        message: ReminderMessage,
        channel: str,
        error: str,
        actor: Actor,
        *,
        permanent: bool = False,
        tried: bool = True,
    ) -> None:
        now = self.ctx.clock()
        R = AppointmentReminder
        with self.ctx.db.transaction(write_lock=True) as s:
            attempts = int(s.scalar(select(R.attempts).where(R.id == message.reminder_id)) or 0) + (
                1 if tried else 0
            )
            retry_at = now + retry_delay(attempts)
            give_up = permanent or attempts >= MAX_ATTEMPTS or retry_at >= message.start_at
            values: dict[str, Any] = {
                "status": "abandoned" if give_up else "failed",
                "channel": channel,
                "attempts": attempts,
                "detail": error,
                "next_attempt_at": None if give_up else retry_at,
            }
            if not self._update_claimed(s, message, values):
                return
            if give_up:
                event = activity.record_event(
                    s,
                    organization_id=message.organization_id,
                    event_type=activity.EVENT_REMINDER_FAILED,
                    appointment_id=message.appointment_id,
                    payload={**_event_payload(message, channel=channel), "error": error},
                    actor=actor,
                    at=now,
                    priority="high",
                )
                outbox = Outbox()
                InAppChannel().send(message, outbox)
                for n in outbox.notifications:
                    s.add(
                        Notification(
                            organization_id=message.organization_id,
                            event_id=event.id,
                            recipient_kind=n.recipient_kind,
                            recipient_role=n.recipient_role,
                            priority="high",
                            channel="in-app",
                            title=f"Reminder not delivered: {message.patient_name}",
                            body=f"The {channel} reminder failed ({error}). {n.body}",
                            created_at=now,
                        )
                    )
        if give_up:
            self.report.abandoned += 1
        else:
            self.report.retrying += 1

    def _update_claimed(self, s: Session, message: ReminderMessage, values: dict[str, Any]) -> bool:
        """Write ``values`` to a reminder this runner still holds; False when the claim
        was taken over meanwhile (this runner was slower than the lease)."""
        R = AppointmentReminder
        done = s.execute(
            update(R)
            .where(R.id == message.reminder_id, R.status == "sending", R.claimed_by == self.runner)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if not done.rowcount:  # type: ignore[attr-defined]
            self.report.problems.append(
                f"reminder {message.reminder_id} was taken over by another runner"
            )
            return False
        return True


# --------------------------------------------------------------------------- helpers


def _message_select() -> Any:
    return (
        select(
            Appointment.id,
            Appointment.organization_id,
            Appointment.status,
            Appointment.start_at,
            Appointment.end_at,
            Appointment.booked_at,
            Organization.name.label("organization_name"),
            Patient.given_name,
            Patient.family_name,
            Patient.email,
            Patient.phone,
            Practitioner.name.label("practitioner_name"),
            Clinic.name.label("clinic_name"),
            Clinic.address,
            Clinic.timezone,
            AppointmentType.name.label("type_name"),
        )
        .join(Organization, Organization.id == Appointment.organization_id)
        .join(Patient, Patient.id == Appointment.patient_id)
        .join(Practitioner, Practitioner.id == Appointment.practitioner_id)
        .join(Clinic, Clinic.id == Appointment.clinic_id)
        .join(AppointmentType, AppointmentType.id == Appointment.appointment_type_id)
    )


def _due_conditions(organization_id: int, offsets: Sequence[int], now: datetime) -> list[Any]:
    """Appointments with at least one due reminder that has no row yet."""
    R = AppointmentReminder
    missing = [
        and_(
            Appointment.start_at <= now + timedelta(minutes=o),
            ~exists().where(
                R.appointment_id == Appointment.id,
                R.offset_minutes == o,
                R.start_at == Appointment.start_at,
            ),
        )
        for o in offsets
    ]
    return [
        Appointment.organization_id == organization_id,
        Appointment.status.in_(REMINDED_STATUSES),
        Appointment.date_only.is_(False),
        Appointment.start_at > now,
        Appointment.start_at <= now + timedelta(minutes=max(offsets)),
        or_(*missing),
    ]


def _scheduled_at(s: Session, booked: Mapping[int, datetime]) -> dict[int, datetime]:
    """When each appointment got its current time: its booking, or the last move or
    reinstatement recorded in its audit trail."""
    out = dict(booked)
    events = s.execute(
        select(ActivityEvent.appointment_id, ActivityEvent.created_at, ActivityEvent.payload).where(
            ActivityEvent.appointment_id.in_(list(booked)),
            ActivityEvent.event_type.in_((activity.EVENT_UPDATED, activity.EVENT_STATUS_CHANGED)),
            # Only later changes can matter.
            ActivityEvent.created_at > min(booked.values()),
        )
    ).all()
    for aid, at, payload in events:
        p = payload or {}
        moved = "start" in (p.get("changes") or {})
        reinstated = p.get("old_status") == "cancelled"
        if (moved or reinstated) and at > out[aid]:
            out[aid] = at
    return out


def _gone(status: str, start_at: datetime, reminded_start: datetime, now: datetime) -> str | None:
    """Why a claimed reminder must not go out any more, or None."""
    if status not in REMINDED_STATUSES:
        return f"{CANCELLED}: the appointment is {status} now"
    if start_at != reminded_start:
        return f"{MOVED}: the appointment was moved; its new time has its own reminders"
    if start_at <= now:
        return f"{STARTED}: the appointment started before the reminder could be delivered"
    return None


def _message(r: Any, reminder_id: int, offset: int) -> ReminderMessage:
    return ReminderMessage(
        reminder_id=reminder_id,
        organization_id=r.organization_id,
        organization_name=r.organization_name,
        appointment_id=r.id,
        offset_minutes=offset,
        patient_name=f"{r.given_name} {r.family_name}".strip(),
        patient_email=r.email or None,
        patient_phone=r.phone or None,
        practitioner_name=r.practitioner_name,
        clinic_name=r.clinic_name,
        clinic_address=r.address,
        clinic_timezone=r.timezone,
        appointment_type=r.type_name,
        start_at=r.start_at,
        end_at=r.end_at,
    )


def _event_payload(message: ReminderMessage, *, channel: str | None) -> dict[str, Any]:
    return {
        "offset_minutes": message.offset_minutes,
        "channel": channel,
        "start": message.start_at.astimezone(ZoneInfo("UTC")).isoformat(),
        "clinic_timezone": message.clinic_timezone,
        "patient_name": message.patient_name,
    }


def _write_outbox(s: Session, event: ActivityEvent, outbox: Outbox | None) -> None:
    for n in outbox.notifications if outbox else []:
        s.add(
            Notification(
                organization_id=event.organization_id,
                event_id=event.id,
                recipient_kind=n.recipient_kind,
                recipient_role=n.recipient_role,
                priority="normal",
                channel="in-app",
                title=n.title,
                body=n.body,
                created_at=event.created_at,
            )
        )
