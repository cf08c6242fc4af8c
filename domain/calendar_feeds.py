"""Practitioners' private iCalendar feeds: subscribe once in any calendar app, see your
appointments there.

Each practitioner may have one live feed, reached at ``/calendar/<token>.ics``: the token
(256 random bits) is shown once when issued, only its hash is stored, and issuing a new one
revokes the old (a leaked link is fixed by re-issuing). Issuing and revoking are audited
and allowed to administrators (``manage_settings``) and to the practitioner's own account.

What the feed holds (``build_calendar``, pure): the practitioner's appointments from
``PAST_DAYS`` ago to a year ahead, each as a VEVENT

- patient shown by initials only ("P.D."), never the name, notes or contact details;
- times in the clinic's time zone, with a VTIMEZONE for each zone used;
- a stable UID per appointment (it survives moves, type and status changes);
- SEQUENCE = the appointment's version - 1: the version goes up with every change
  (reschedule, status, type, notes), so SEQUENCE only ever grows and calendar apps replace
  the old copy of an event when it is moved;
- cancelled appointments stay in the feed with STATUS:CANCELLED (so apps that already have
  them strike them out), pending ones are TENTATIVE, the others CONFIRMED.

An appointment moved to another practitioner leaves this feed (and enters theirs).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
from sqlalchemy import select, update

from data.locks import lock_practitioners
from data.models import (
    Appointment,
    AppointmentType,
    CalendarFeed,
    Clinic,
    Organization,
    Patient,
    Practitioner,
)
from domain import activity
from domain.actor import Actor
from domain.context import AppContext
from domain.permissions import Permission, PermissionDenied
from domain.tokens import new_token, plausible_token, token_hash
from domain.workflow import status_label

PAST_DAYS = 14
AHEAD_DAYS = 366
MAX_EVENTS = 5000
REFRESH_MINUTES = 15
# How often a feed's last use is written (every calendar app polls; one write an hour).
LAST_USED_RESOLUTION = timedelta(hours=1)
PRODID = "-//Clinic scheduling//Practitioner appointments//EN"


class CalendarFeedError(ValueError):
    """A feed request that cannot be done; the message says why."""


@dataclass(frozen=True)
class IssuedFeed:
    practitioner_id: int
    token: str
    created_at: datetime

    @property
    def path(self) -> str:
        """Where the feed is served (prefix it with the site's address)."""
        return feed_path(self.token)


@dataclass(frozen=True)
class FeedInfo:
    """A live feed as pages show it (never the token: it is not stored)."""

    practitioner_id: int
    practitioner_name: str
    created_at: datetime
    created_by: str
    last_used_at: datetime | None


@dataclass(frozen=True)
class FeedOwner:
    """Whose feed a presented token opens."""

    feed_id: int
    organization_id: int
    practitioner_id: int


def feed_path(token: str) -> str:
    return f"/calendar/{token}.ics"


def _authorize(actor: Actor, organization_id: int, practitioner_id: int) -> None:
    if actor.organization_id is not None and actor.organization_id != organization_id:
        raise PermissionDenied("You can only work in your own organization.")
    if actor.can(Permission.MANAGE_SETTINGS):
        return
    if actor.practitioner_id is not None and actor.practitioner_id == practitioner_id:
        return
    raise PermissionDenied(
        "Only an administrator or the practitioner themselves can manage a calendar link."
    )


def _practitioner(s: Any, organization_id: int, practitioner_id: int) -> Practitioner:
    found = lock_practitioners(s, organization_id, [practitioner_id]).get(practitioner_id)
    if found is None:
        raise CalendarFeedError("This practitioner was not found.")
    return found


def _revoke_live(s: Any, practitioner_id: int, now: datetime) -> int:
    done = s.execute(
        update(CalendarFeed)
        .where(CalendarFeed.practitioner_id == practitioner_id, CalendarFeed.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(done.rowcount or 0)


def issue_calendar_feed(
    ctx: AppContext, actor: Actor, organization_id: int, practitioner_id: int
) -> IssuedFeed:
    """A new private feed link for the practitioner; any previous link stops working.
    The token is in the result only: show it now, it cannot be read back later."""
    _authorize(actor, organization_id, practitioner_id)
    token = new_token()
    now = ctx.clock()
    with ctx.db.transaction(write_lock=True) as s:
        # The practitioner's row lock serializes two issues for one practitioner (the
        # partial unique index on live feeds is the last line of defence).
        practitioner = _practitioner(s, organization_id, practitioner_id)
        replaced = _revoke_live(s, practitioner_id, now)
        s.add(
            CalendarFeed(
                organization_id=organization_id,
                practitioner_id=practitioner_id,
                token_hash=token_hash(token),
                created_at=now,
                created_by=actor.name,
            )
        )
        activity.record_event(
            s,
            organization_id=organization_id,
            event_type=activity.EVENT_CALENDAR_FEED_ISSUED,
            appointment_id=None,
            payload={
                "practitioner_id": practitioner_id,
                "practitioner_name": practitioner.name,
                "replaced": replaced,
            },
            actor=actor,
            at=now,
        )
    return IssuedFeed(practitioner_id, token, now)


def revoke_calendar_feed(
    ctx: AppContext, actor: Actor, organization_id: int, practitioner_id: int
) -> bool:
    """Stop the practitioner's feed link; False when there was none."""
    _authorize(actor, organization_id, practitioner_id)
    now = ctx.clock()
    with ctx.db.transaction(write_lock=True) as s:
        practitioner = _practitioner(s, organization_id, practitioner_id)
        if not _revoke_live(s, practitioner_id, now):
            return False
        activity.record_event(
            s,
            organization_id=organization_id,
            event_type=activity.EVENT_CALENDAR_FEED_REVOKED,
            appointment_id=None,
            payload={"practitioner_id": practitioner_id, "practitioner_name": practitioner.name},
            actor=actor,
            at=now,
        )
    return True


def list_calendar_feeds(
    ctx: AppContext, organization_id: int, practitioner_id: int | None = None
) -> list[FeedInfo]:
    """The organization's live feeds (or one practitioner's), by practitioner name."""
    stmt = (
        select(
            CalendarFeed.practitioner_id,
            Practitioner.name,
            CalendarFeed.created_at,
            CalendarFeed.created_by,
            CalendarFeed.last_used_at,
        )
        .join(Practitioner, Practitioner.id == CalendarFeed.practitioner_id)
        .where(CalendarFeed.organization_id == organization_id, CalendarFeed.revoked_at.is_(None))
        .order_by(Practitioner.name, CalendarFeed.practitioner_id)
    )
    if practitioner_id is not None:
        stmt = stmt.where(CalendarFeed.practitioner_id == practitioner_id)
    with ctx.db.read() as s:
        return [FeedInfo(*row) for row in s.execute(stmt)]


def calendar_feed_for_token(ctx: AppContext, token: object) -> FeedOwner | None:
    """The live feed a token opens, or None (unknown, revoked, or not a token at all)."""
    if not plausible_token(token):
        return None
    assert isinstance(token, str)
    with ctx.db.read() as s:
        row = s.execute(
            select(
                CalendarFeed.id,
                CalendarFeed.organization_id,
                CalendarFeed.practitioner_id,
                CalendarFeed.last_used_at,
            ).where(CalendarFeed.token_hash == token_hash(token), CalendarFeed.revoked_at.is_(None))
        ).first()
    if row is None:
        return None
    now = ctx.clock()
    if row.last_used_at is None or row.last_used_at < now - LAST_USED_RESOLUTION:
        with ctx.db.transaction() as s:
            s.execute(
                update(CalendarFeed)
                .where(CalendarFeed.id == row.id)
                .values(last_used_at=now)
                .execution_options(synchronize_session=False)
            )
    return FeedOwner(row.id, row.organization_id, row.practitioner_id)


# --------------------------------------------------------------------------- content


@dataclass(frozen=True)
class FeedEvent:
    """One appointment as the feed shows it."""

    appointment_id: int
    organization_id: int
    start_at: datetime
    end_at: datetime
    timezone: str
    initials: str
    appointment_type: str
    clinic_name: str
    clinic_address: str | None
    status: str
    version: int
    created_at: datetime
    updated_at: datetime

    @property
    def uid(self) -> str:
        return f"appointment-{self.appointment_id}@organization-{self.organization_id}.clinic"

    @property
    def sequence(self) -> int:
        return max(self.version - 1, 0)


def initials(given_name: str, family_name: str) -> str:
    """'Pat', 'Doe' -> 'P.D.' (whatever the names' case or extra parts)."""
    letters = [part[0].upper() for part in (given_name.strip(), family_name.strip()) if part]
    return "".join(f"{c}." for c in letters) or "?"


_ICAL_STATUS = {"pending": "TENTATIVE", "cancelled": "CANCELLED"}


def build_calendar(
    title: str, organization_timezone: str, events: Iterable[FeedEvent], window: tuple[date, date]
) -> bytes:
    """The feed as an iCalendar document (pure)."""
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", title)
    cal.add("x-wr-timezone", organization_timezone)
    cal.add(
        "refresh-interval", timedelta(minutes=REFRESH_MINUTES), parameters={"VALUE": "DURATION"}
    )
    cal.add("x-published-ttl", icalendar.vDuration(timedelta(minutes=REFRESH_MINUTES)))
    for e in events:
        tz = ZoneInfo(e.timezone)
        event = icalendar.Event()
        event.add("uid", e.uid)
        event.add("dtstamp", e.updated_at)
        event.add("created", e.created_at)
        event.add("last-modified", e.updated_at)
        event.add("sequence", e.sequence)
        event.add("dtstart", e.start_at.astimezone(tz))
        event.add("dtend", e.end_at.astimezone(tz))
        event.add("summary", f"{e.initials} – {e.appointment_type}")
        event.add("location", e.clinic_name + (f", {e.clinic_address}" if e.clinic_address else ""))
        event.add(
            "description",
            f"{e.appointment_type}, {int((e.end_at - e.start_at).total_seconds() // 60)} min, "
            f"{status_label(e.status)}. Appointment #{e.appointment_id}: open the clinic app "
            "for the patient's details.",
        )
        event.add("status", _ICAL_STATUS.get(e.status, "CONFIRMED"))
        event.add("transp", "TRANSPARENT" if e.status == "cancelled" else "OPAQUE")
        event.add("class", "CONFIDENTIAL")
        cal.add_component(event)
    first, last = window
    cal.add_missing_timezones(
        first_date=first - timedelta(days=366), last_date=last + timedelta(days=366)
    )
    return bytes(cal.to_ical())


def render_calendar_feed(ctx: AppContext, owner: FeedOwner) -> bytes:
    """The practitioner's feed now (``ctx.clock()``)."""
    now = ctx.clock()
    lo, hi = now - timedelta(days=PAST_DAYS), now + timedelta(days=AHEAD_DAYS)
    with ctx.db.read() as s:
        org_timezone = s.get_one(Organization, owner.organization_id).timezone
        practitioner_name = s.get_one(Practitioner, owner.practitioner_id).name
        rows = s.execute(
            select(
                Appointment.id,
                Appointment.start_at,
                Appointment.end_at,
                Clinic.timezone,
                Patient.given_name,
                Patient.family_name,
                AppointmentType.name.label("type_name"),
                Clinic.name.label("clinic_name"),
                Clinic.address,
                Appointment.status,
                Appointment.version,
                Appointment.created_at,
                Appointment.updated_at,
            )
            .join(Patient, Patient.id == Appointment.patient_id)
            .join(Clinic, Clinic.id == Appointment.clinic_id)
            .join(AppointmentType, AppointmentType.id == Appointment.appointment_type_id)
            .where(
                Appointment.organization_id == owner.organization_id,
                Appointment.practitioner_id == owner.practitioner_id,
                Appointment.start_at >= lo,
                Appointment.start_at < hi,
                Appointment.date_only.is_(False),
            )
            .order_by(Appointment.start_at, Appointment.id)
            .limit(MAX_EVENTS)
        ).all()
    events = [
        FeedEvent(
            appointment_id=r.id,
            organization_id=owner.organization_id,
            start_at=r.start_at,
            end_at=r.end_at,
            timezone=r.timezone,
            initials=initials(r.given_name, r.family_name),
            appointment_type=r.type_name,
            clinic_name=r.clinic_name,
            clinic_address=r.address,
            status=r.status,
            version=r.version,
            created_at=r.created_at,
            updated_at=r.updated_at,
        )
        for r in rows
    ]
    return build_calendar(
        f"{practitioner_name} – appointments", org_timezone, events, (lo.date(), hi.date())
    )
