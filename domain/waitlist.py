"""The waitlist: patients waiting for a seat that frees up.

An entry waits for a practitioner, or for anyone of a specialty, optionally at one
clinic, for an appointment type, on a (clinic-local) date between its earliest and latest
date and, when given, at preferred times of day (morning 06-12, afternoon 12-17, evening
17-22, or a local time range).

Whenever a seat frees (a cancellation, a reschedule away, a withdrawn schedule exception,
a schedule block added or widened) the writer calls ``offer_freed_seats`` inside its own
transaction: the waiting entries that match the freed practitioners are offered, in the
order they joined, the earliest open time that fits them. An offer is a
``waitlist_offers`` row plus a slot hold (``domain.holds``) that keeps the seat for the
entry until the offer expires (organization setting ``waitlist_offer_minutes``, default
120); the coordinators get a notification. Booking from the offer
(``AppointmentService.book_waitlist_offer``) fulfils the entry in the booking's
transaction. A declined or expired offer frees its seat for the next entry; the entry
waits on, never offered the same seat again. Expiry is judged by time: ``refresh`` (run
whenever the waitlist page is read) closes the offers that are due and offers their
seats on.

Lock order, as ``data.locks``: practitioners, then the patient, then appointments, then
waitlist entries and offers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from data.locks import lock_practitioners
from data.models import (
    Appointment,
    AppointmentType,
    Clinic,
    Organization,
    Patient,
    Practitioner,
    SlotHold,
    WaitlistEntry,
    WaitlistOffer,
)
from data.vocabulary import DAY_PARTS, MAX_NOTES_LENGTH, TIME_HOLDING_STATUSES
from domain import activity
from domain.activity import role_recipient
from domain.actor import Actor
from domain.availability import (
    AvailabilityError,
    Directory,
    get_directory,
    practitioner_day,
)
from domain.booking_rules import BookingWindow
from domain.context import AppContext
from domain.errors import BookingError, clean_field
from domain.holds import Span, drop_hold, invalidate_spans
from domain.permissions import Permission, PermissionDenied, require
from domain.timefmt import fmt_span, fmt_when

DEFAULT_OFFER_MINUTES = 120
MAX_OFFER_MINUTES = 7 * 24 * 60
# Clinic-local hours each named time of day covers (start inclusive, end exclusive).
DAY_PART_HOURS: dict[str, tuple[time, time]] = {
    "morning": (time(6), time(12)),
    "afternoon": (time(12), time(17)),
    "evening": (time(17), time(22)),
}
MAX_WINDOW_DAYS = 366
COORDINATOR_ROLE = "coordinator"


def offer_minutes(settings: dict[str, Any] | None) -> int:
    """How long an offer stays open (``settings["waitlist_offer_minutes"]``)."""
    value = (settings or {}).get("waitlist_offer_minutes", DEFAULT_OFFER_MINUTES)
    if isinstance(value, bool) or not isinstance(value, int):
        return DEFAULT_OFFER_MINUTES
    return min(max(value, 1), MAX_OFFER_MINUTES)


# --------------------------------------------------------------------------- pure


@dataclass(frozen=True)
class Preference:
    """Preferred clinic-local start times: any of the named parts of the day, or within
    [time_from, time_to); nothing given accepts any time."""

    day_parts: tuple[str, ...] = ()
    time_from: time | None = None
    time_to: time | None = None

    def accepts(self, local_start: time) -> bool:
        if not self.day_parts and self.time_from is None:
            return True
        for part in self.day_parts:
            lo, hi = DAY_PART_HOURS[part]
            if lo <= local_start < hi:
                return True
        return (
            self.time_from is not None
            and self.time_to is not None
            and self.time_from <= local_start < self.time_to
        )

    def text(self) -> str:
        bits = [p for p in DAY_PARTS if p in self.day_parts]
        if self.time_from is not None and self.time_to is not None:
            bits.append(f"{self.time_from:%H:%M}-{self.time_to:%H:%M}")
        return ", ".join(bits) or "any time"

    @classmethod
    def of(cls, e: WaitlistEntry) -> Preference:
        parts = tuple(p for p in (e.day_parts or "").split(",") if p)
        return cls(parts, e.time_from, e.time_to)


# --------------------------------------------------------------------------- views


@dataclass(frozen=True)
class OfferView:
    id: int
    entry_id: int
    practitioner_id: int
    practitioner_name: str
    clinic_id: int
    clinic_name: str
    clinic_timezone: str
    start_at: datetime
    end_at: datetime
    offered_at: datetime
    expires_at: datetime
    status: str

    @property
    def when(self) -> str:
        return fmt_span(self.start_at, self.end_at, self.clinic_timezone)


@dataclass(frozen=True)
class EntryView:
    id: int
    patient_id: int
    patient_name: str
    practitioner_id: int | None
    practitioner_name: str | None
    specialty: str | None
    clinic_id: int | None
    clinic_name: str | None
    appointment_type_id: int
    appointment_type_name: str
    earliest_date: date
    latest_date: date
    preference: str
    status: str
    joined_at: datetime
    notes: str | None
    offer: OfferView | None = None

    @property
    def wants(self) -> str:
        who = self.practitioner_name or f"any {self.specialty}"
        return who + (f" at {self.clinic_name}" if self.clinic_name else "")


def _authorize(actor: Actor, organization_id: int) -> None:
    if actor.organization_id is not None and actor.organization_id != organization_id:
        raise PermissionDenied("You can only work in your own organization.")
    require(actor, Permission.BOOK)


def _offer_view(s: Session, o: WaitlistOffer) -> OfferView:
    p = s.get_one(Practitioner, o.practitioner_id)
    c = s.get_one(Clinic, o.clinic_id)
    return OfferView(
        o.id,
        o.entry_id,
        o.practitioner_id,
        p.name,
        o.clinic_id,
        c.name,
        c.timezone,
        o.start_at,
        o.end_at,
        o.offered_at,
        o.expires_at,
        o.status,
    )


def _entry_view(s: Session, e: WaitlistEntry, offer: WaitlistOffer | None) -> EntryView:
    patient = s.get_one(Patient, e.patient_id)
    prac = s.get(Practitioner, e.practitioner_id) if e.practitioner_id else None
    clinic = s.get(Clinic, e.clinic_id) if e.clinic_id else None
    kind = s.get_one(AppointmentType, e.appointment_type_id)
    return EntryView(
        id=e.id,
        patient_id=e.patient_id,
        patient_name=patient.full_name,
        practitioner_id=e.practitioner_id,
        practitioner_name=prac.name if prac else None,
        specialty=e.specialty,
        clinic_id=e.clinic_id,
        clinic_name=clinic.name if clinic else None,
        appointment_type_id=e.appointment_type_id,
        appointment_type_name=kind.name,
        earliest_date=e.earliest_date,
        latest_date=e.latest_date,
        preference=Preference.of(e).text(),
        status=e.status,
        joined_at=e.created_at,
        notes=e.notes,
        offer=_offer_view(s, offer) if offer is not None else None,
    )


# --------------------------------------------------------------------------- services


def add_entry(
    ctx: AppContext,
    organization_id: int,
    actor: Actor,
    *,
    patient_id: int,
    appointment_type_id: int,
    earliest_date: date,
    latest_date: date,
    practitioner_id: int | None = None,
    specialty: str | None = None,
    clinic_id: int | None = None,
    day_parts: Iterable[str] = (),
    time_from: time | None = None,
    time_to: time | None = None,
    notes: str | None = None,
) -> EntryView:
    """Put a patient on the waitlist (joining now: behind everyone already waiting)."""
    _authorize(actor, organization_id)
    parts = tuple(dict.fromkeys(day_parts))
    if any(p not in DAY_PARTS for p in parts):
        raise BookingError(
            "INVALID_TIME_OF_DAY", "Choose morning, afternoon or evening.", "day_parts"
        )
    if (time_from is None) != (time_to is None) or (
        time_from is not None and time_to is not None and time_to <= time_from
    ):
        raise BookingError(
            "INVALID_TIME_RANGE",
            "Give both times of the range, the second after the first.",
            "time_from",
        )
    if not isinstance(earliest_date, date) or not isinstance(latest_date, date):
        raise BookingError("INVALID_DATES", "Give the first and the last date.", "dates")
    if latest_date < earliest_date:
        raise BookingError("INVALID_DATES", "The last date is before the first.", "dates")
    if (latest_date - earliest_date).days >= MAX_WINDOW_DAYS:
        raise BookingError("INVALID_DATES", "Wait at most a year.", "dates")
    notes = clean_field(notes, "notes", MAX_NOTES_LENGTH)
    now = ctx.clock()
    with ctx.db.transaction() as s:
        org = s.get(Organization, organization_id)
        if org is None:
            raise BookingError("ORGANIZATION_NOT_FOUND", "This organization was not found.")
        patient = s.get(Patient, patient_id)
        if patient is None or patient.organization_id != org.id:
            raise BookingError("PATIENT_NOT_FOUND", "This patient was not found.", "patient")
        kind = s.get(AppointmentType, appointment_type_id)
        if kind is None or kind.organization_id != org.id or not kind.active:
            raise BookingError(
                "APPOINTMENT_TYPE_NOT_FOUND", "Choose an appointment type.", "appointment_type"
            )
        if practitioner_id is not None:
            prac = s.get(Practitioner, practitioner_id)
            if prac is None or prac.organization_id != org.id or not prac.active:
                raise BookingError(
                    "PRACTITIONER_NOT_FOUND", "This practitioner was not found.", "practitioner"
                )
            specialty = None
        elif not specialty:
            raise BookingError(
                "WANTED_MISSING", "Choose a practitioner or a specialty.", "practitioner"
            )
        elif (
            s.scalar(
                select(Practitioner.id)
                .where(Practitioner.organization_id == org.id, Practitioner.specialty == specialty)
                .limit(1)
            )
            is None
        ):
            raise BookingError(
                "SPECIALTY_NOT_FOUND", "No practitioner has this specialty.", "specialty"
            )
        if clinic_id is not None:
            clinic = s.get(Clinic, clinic_id)
            if clinic is None or clinic.organization_id != org.id:
                raise BookingError("CLINIC_NOT_FOUND", "This clinic was not found.", "clinic")
        e = WaitlistEntry(
            organization_id=org.id,
            patient_id=patient.id,
            practitioner_id=practitioner_id,
            specialty=specialty,
            clinic_id=clinic_id,
            appointment_type_id=kind.id,
            earliest_date=earliest_date,
            latest_date=latest_date,
            day_parts=",".join(parts) or None,
            time_from=time_from,
            time_to=time_to,
            status="waiting",
            notes=notes,
            created_by=actor.name,
            created_at=now,
            updated_at=now,
        )
        s.add(e)
        s.flush()
        view = _entry_view(s, e, None)
        activity.record_event(
            s,
            organization_id=org.id,
            event_type=activity.EVENT_WAITLIST_JOINED,
            appointment_id=None,
            payload={
                "entry_id": e.id,
                "patient_id": patient.id,
                "patient_name": patient.full_name,
                "wants": view.wants,
                "window": f"{earliest_date:%d %b} to {latest_date:%d %b %Y}",
            },
            actor=actor,
            at=now,
            priority="low",
        )
    return view


def list_waitlist(ctx: AppContext, organization_id: int, actor: Actor) -> list[EntryView]:
    """Entries still waiting or holding an open offer, in the order they joined."""
    _authorize(actor, organization_id)
    with ctx.db.read() as s:
        entries = s.scalars(
            select(WaitlistEntry)
            .where(
                WaitlistEntry.organization_id == organization_id,
                WaitlistEntry.status.in_(("waiting", "offered")),
            )
            .order_by(WaitlistEntry.created_at, WaitlistEntry.id)
        ).all()
        offers = {
            o.entry_id: o
            for o in s.scalars(
                select(WaitlistOffer).where(
                    WaitlistOffer.organization_id == organization_id,
                    WaitlistOffer.status == "open",
                )
            )
        }
        return [_entry_view(s, e, offers.get(e.id)) for e in entries]


def refresh(ctx: AppContext, organization_id: int, actor: Actor) -> int:
    """Close the offers whose time is up and offer their seats to the next entries; how
    many offers expired. Cheap when nothing is due (one indexed read)."""
    _authorize(actor, organization_id)
    now = ctx.clock()
    with ctx.db.read() as s:
        due = s.scalars(
            select(WaitlistOffer.practitioner_id).where(
                WaitlistOffer.organization_id == organization_id,
                WaitlistOffer.status == "open",
                WaitlistOffer.expires_at <= now,
            )
        ).all()
    if not due:
        return 0
    directory = _directory(ctx, organization_id)
    spans: list[Span] = []
    with ctx.db.transaction(write_lock=True) as s:
        org = s.get_one(Organization, organization_id)
        lock_practitioners(s, org.id, set(due))
        offers = s.scalars(
            select(WaitlistOffer)
            .where(
                WaitlistOffer.organization_id == org.id,
                WaitlistOffer.status == "open",
                WaitlistOffer.expires_at <= now,
            )
            .with_for_update()
        ).all()
        for o in offers:
            spans += _close(s, o, "expired", now)
        spans += _reoffer(ctx, s, org, directory, now, actor, offers)
        n = len(offers)
    invalidate_spans(ctx, organization_id, spans)
    return n


def decline_offer(ctx: AppContext, organization_id: int, offer_id: int, actor: Actor) -> None:
    """The patient does not want the offered time: the seat goes to the next entry; this
    entry waits on for another seat."""
    _close_by_hand(ctx, organization_id, actor, offer_id=offer_id, how="declined")


def remove_entry(ctx: AppContext, organization_id: int, entry_id: int, actor: Actor) -> None:
    """Take a patient off the waitlist; an open offer of theirs goes to the next entry."""
    _close_by_hand(ctx, organization_id, actor, entry_id=entry_id, how="removed")


def _close_by_hand(
    ctx: AppContext,
    organization_id: int,
    actor: Actor,
    *,
    how: str,
    offer_id: int | None = None,
    entry_id: int | None = None,
) -> None:
    _authorize(actor, organization_id)
    now = ctx.clock()
    directory = _directory(ctx, organization_id)
    with ctx.db.read() as s:
        if offer_id is not None:
            offer = s.get(WaitlistOffer, offer_id)
            if offer is None or offer.organization_id != organization_id:
                raise BookingError("OFFER_NOT_FOUND", "This offer was not found.")
            entry_id = offer.entry_id
        entry = s.get(WaitlistEntry, entry_id) if entry_id is not None else None
        if entry is None or entry.organization_id != organization_id:
            raise BookingError("ENTRY_NOT_FOUND", "This waitlist entry was not found.")
        open_pids = s.scalars(
            select(WaitlistOffer.practitioner_id).where(
                WaitlistOffer.entry_id == entry.id, WaitlistOffer.status == "open"
            )
        ).all()
    spans: list[Span] = []
    with ctx.db.transaction(write_lock=True) as s:
        org = s.get_one(Organization, organization_id)
        lock_practitioners(s, org.id, set(open_pids))
        entry = s.scalars(
            select(WaitlistEntry).where(WaitlistEntry.id == entry_id).with_for_update()
        ).one()
        offers = s.scalars(
            select(WaitlistOffer)
            .where(WaitlistOffer.entry_id == entry.id, WaitlistOffer.status == "open")
            .with_for_update()
        ).all()
        if how == "declined":
            offers = [o for o in offers if o.id == offer_id]
            if not offers:
                raise BookingError(
                    "OFFER_CLOSED", "This offer is no longer open (booked, declined or expired)."
                )
        elif entry.status not in ("waiting", "offered"):
            raise BookingError("ENTRY_CLOSED", "This entry is no longer on the waitlist.")
        for o in offers:
            spans += _close(s, o, "declined" if how == "declined" else "expired", now)
        if how == "removed":
            entry.status = "removed"
            entry.updated_at = now
        patient = s.get_one(Patient, entry.patient_id)
        activity.record_event(
            s,
            organization_id=org.id,
            event_type=(
                activity.EVENT_WAITLIST_DECLINED
                if how == "declined"
                else activity.EVENT_WAITLIST_REMOVED
            ),
            appointment_id=None,
            payload={"entry_id": entry.id, "patient_name": patient.full_name, "offer_id": offer_id},
            actor=actor,
            at=now,
            priority="low",
        )
        spans += _reoffer(ctx, s, org, directory, now, actor, offers)
    invalidate_spans(ctx, organization_id, spans)


def offer_target(ctx: AppContext, organization_id: int, offer_id: int) -> dict[str, Any]:
    """What booking an open offer books: the create_appointment arguments."""
    with ctx.db.read() as s:
        o = s.get(WaitlistOffer, offer_id)
        if o is None or o.organization_id != organization_id:
            raise BookingError("OFFER_NOT_FOUND", "This offer was not found.")
        e = s.get_one(WaitlistEntry, o.entry_id)
        return {
            "patient_id": e.patient_id,
            "practitioner_id": o.practitioner_id,
            "clinic_id": o.clinic_id,
            "start": o.start_at,
            "appointment_type_id": e.appointment_type_id,
            "duration_minutes": int((o.end_at - o.start_at).total_seconds() // 60),
        }


# --------------------------------------------------------------------------- in a transaction


def _directory(ctx: AppContext, organization_id: int) -> Directory:
    """Read before a transaction opens (see ``appointments._warm_rules``)."""
    try:
        return get_directory(ctx, organization_id)
    except AvailabilityError as exc:
        raise BookingError("ORGANIZATION_NOT_FOUND", exc.message) from exc


def _close(s: Session, o: WaitlistOffer, status: str, now: datetime) -> list[Span]:
    o.status = status
    o.closed_at = now
    entry = s.get_one(WaitlistEntry, o.entry_id)
    if entry.status == "offered":
        entry.status = "waiting"
        entry.updated_at = now
    return _drop_offer_holds(s, o)


def _drop_offer_holds(s: Session, o: WaitlistOffer) -> list[Span]:
    spans: list[Span] = []
    for hold_id in s.scalars(select(SlotHold.id).where(SlotHold.waitlist_offer_id == o.id)):
        spans += drop_hold(s, hold_id)
    s.flush()
    return spans


def _reoffer(
    ctx: AppContext,
    s: Session,
    org: Organization,
    directory: Directory,
    now: datetime,
    actor: Actor,
    closed: Iterable[WaitlistOffer],
) -> list[Span]:
    spans: list[Span] = []
    for o in closed:
        tz = directory.zones.get(o.clinic_id, directory.timezone)
        day = o.start_at.astimezone(ZoneInfo(tz)).date()
        spans += offer_freed_seats(
            ctx, s, org, directory, now, actor, [o.practitioner_id], [day], [(o.start_at, o.end_at)]
        )
    return spans


def open_offer_for_booking(
    s: Session,
    organization_id: int,
    offer_id: int,
    now: datetime,
    *,
    patient_id: int,
    practitioner_id: int,
    clinic_id: int,
    start: datetime,
) -> tuple[WaitlistOffer, int | None]:
    """Inside a booking's transaction (after its practitioner and patient locks): the
    open offer being booked, locked, and the id of the hold that keeps its seat."""
    o = s.scalars(
        select(WaitlistOffer)
        .where(WaitlistOffer.id == offer_id, WaitlistOffer.organization_id == organization_id)
        .with_for_update()
    ).one_or_none()
    if o is None:
        raise BookingError("OFFER_NOT_FOUND", "This offer was not found.")
    if o.status != "open":
        raise BookingError("OFFER_CLOSED", f"This offer is no longer open ({o.status}).")
    if o.expires_at <= now:
        raise BookingError(
            "OFFER_EXPIRED", "This offer has expired; the seat went back to the waitlist."
        )
    e = s.get_one(WaitlistEntry, o.entry_id)
    if (e.patient_id, o.practitioner_id, o.clinic_id) != (
        patient_id,
        practitioner_id,
        clinic_id,
    ) or o.start_at != start:
        raise BookingError("OFFER_MISMATCH", "This booking is not the offered one.")
    hold_id = s.scalar(select(SlotHold.id).where(SlotHold.waitlist_offer_id == o.id))
    return o, hold_id


def fulfil_offer(
    s: Session, offer: WaitlistOffer, appointment_id: int, now: datetime
) -> list[Span]:
    """Inside the booking's transaction: the offer and its entry are booked."""
    offer.status = "booked"
    offer.appointment_id = appointment_id
    offer.closed_at = now
    entry = s.get_one(WaitlistEntry, offer.entry_id)
    entry.status = "booked"
    entry.appointment_id = appointment_id
    entry.updated_at = now
    return _drop_offer_holds(s, offer)


def offer_freed_seats(
    ctx: AppContext,
    s: Session,
    org: Organization,
    directory: Directory,
    now: datetime,
    actor: Actor,
    practitioner_ids: Iterable[int],
    days: Iterable[date] | None,
    freed: Iterable[tuple[datetime, datetime]] | None = None,
) -> list[Span]:
    """Inside the transaction that freed time of ``practitioner_ids`` on ``days`` (local
    dates; None: any date, e.g. a schedule widened): offer each waiting entry that wants
    one of them, in the order of joining, the earliest open time that fits it and
    touches the ``freed`` intervals (widened by the buffer; None: any time). Each offer
    holds its seat, so the next entry sees it taken. Returns the held spans (to
    invalidate after the commit)."""
    info = directory.practitioners
    pids = sorted({p for p in practitioner_ids if p in info and info[p][2]})
    if not pids:
        return []
    specialty = {p: info[p][1] for p in pids}
    wanted = or_(
        WaitlistEntry.practitioner_id.in_(pids),
        and_(
            WaitlistEntry.practitioner_id.is_(None),
            WaitlistEntry.specialty.in_(sorted(set(specialty.values()))),
        ),
    )
    query = (
        select(WaitlistEntry)
        .where(
            WaitlistEntry.organization_id == org.id,
            WaitlistEntry.status == "waiting",
            wanted,
        )
        .order_by(WaitlistEntry.created_at, WaitlistEntry.id)
    )
    if s.scalar(query.with_only_columns(WaitlistEntry.id).limit(1)) is None:
        return []
    # Offers take seats: the booking locks first, then the entries (the lock order).
    lock_practitioners(s, org.id, pids)
    entries = s.scalars(query.with_for_update()).all()
    day_list = None if days is None else sorted(set(days))
    margin = timedelta(minutes=directory.rules.buffer_minutes)
    near = None if freed is None else [(a - margin, b + margin) for a, b in freed]
    window = BookingWindow(now, directory.rules)
    minutes = offer_minutes(org.settings)
    spans: list[Span] = []
    for e in entries:
        candidates = [
            p
            for p in pids
            if e.practitioner_id == p or (e.practitioner_id is None and specialty[p] == e.specialty)
        ]
        found = _first_fit(ctx, s, directory, window, now, e, candidates, day_list, near)
        if found is None:
            continue
        pid, cid, start, end = found
        spans.append(_offer(s, org, now, actor, e, pid, cid, start, end, minutes))
    return spans


def _first_fit(
    ctx: AppContext,
    s: Session,
    directory: Directory,
    window: BookingWindow,
    now: datetime,
    e: WaitlistEntry,
    candidates: list[int],
    days: list[date] | None,
    near: list[tuple[datetime, datetime]] | None,
) -> tuple[int, int, datetime, datetime] | None:
    kind = directory.appointment_types.get(e.appointment_type_id)
    if kind is None or not kind[3] or not candidates:
        return None
    minutes = kind[1]
    today = now.astimezone(ZoneInfo(directory.timezone)).date() - timedelta(days=1)
    first = max(e.earliest_date, today)
    last = min(e.latest_date, today + timedelta(days=directory.rules.booking_horizon_days + 2))
    if days is None:
        span = [first + timedelta(days=k) for k in range((last - first).days + 1)]
    else:
        span = [d for d in days if first <= d <= last]
    if not span:
        return None
    passed = {
        (p, c, st)
        for p, c, st in s.execute(
            select(
                WaitlistOffer.practitioner_id, WaitlistOffer.clinic_id, WaitlistOffer.start_at
            ).where(WaitlistOffer.entry_id == e.id)
        )
    }
    busy = [
        (a, b)
        for a, b in s.execute(
            select(Appointment.start_at, Appointment.end_at).where(
                Appointment.organization_id == e.organization_id,
                Appointment.patient_id == e.patient_id,
                Appointment.status.in_(TIME_HOLDING_STATUSES),
                Appointment.end_at > now,
            )
        )
    ]
    preference = Preference.of(e)
    for day in span:
        best: tuple[int, int, int] | None = None
        for pid in candidates:
            plan = practitioner_day(ctx, s, directory, pid, day, now=now)
            for cid in plan.clinics:
                if e.clinic_id is not None and cid != e.clinic_id:
                    continue
                tz_name = directory.zones.get(cid)
                if tz_name is None:
                    continue
                tz = ZoneInfo(tz_name)
                horizon_end = window.horizon_end_ts(tz_name)
                for st, *_ in plan.open_slots(cid, minutes, e.appointment_type_id):
                    if not window.earliest_ts <= st < horizon_end:
                        continue
                    local = datetime.fromtimestamp(st, tz)
                    if not preference.accepts(local.time()):
                        continue
                    start = datetime.fromtimestamp(st, UTC)
                    end = start + timedelta(minutes=minutes)
                    if (pid, cid, start) in passed:
                        continue
                    if near is not None and not any(a < end and b > start for a, b in near):
                        continue
                    if any(a < end and b > start for a, b in busy):
                        continue
                    if best is None or (st, pid, cid) < best:
                        best = (st, pid, cid)
                    break  # the earliest of this clinic; later ones cannot win
        if best is not None:
            st, pid, cid = best
            start = datetime.fromtimestamp(st, UTC)
            return pid, cid, start, start + timedelta(minutes=minutes)
    return None


def _offer(
    s: Session,
    org: Organization,
    now: datetime,
    actor: Actor,
    e: WaitlistEntry,
    pid: int,
    cid: int,
    start: datetime,
    end: datetime,
    minutes: int,
) -> Span:
    expires = now + timedelta(minutes=minutes)
    offer = WaitlistOffer(
        organization_id=org.id,
        entry_id=e.id,
        practitioner_id=pid,
        clinic_id=cid,
        start_at=start,
        end_at=end,
        offered_at=now,
        expires_at=expires,
        status="open",
    )
    s.add(offer)
    s.flush()
    s.add(
        SlotHold(
            organization_id=org.id,
            practitioner_id=pid,
            clinic_id=cid,
            start_at=start,
            end_at=end,
            expires_at=expires,
            waitlist_offer_id=offer.id,
            created_at=now,
        )
    )
    e.status = "offered"
    e.updated_at = now
    s.flush()
    patient = s.get_one(Patient, e.patient_id)
    prac = s.get_one(Practitioner, pid)
    clinic = s.get_one(Clinic, cid)
    kind = s.get_one(AppointmentType, e.appointment_type_id)
    when = fmt_span(start, end, clinic.timezone)
    event = activity.record_event(
        s,
        organization_id=org.id,
        event_type=activity.EVENT_WAITLIST_OFFERED,
        appointment_id=None,
        payload={
            "entry_id": e.id,
            "offer_id": offer.id,
            "patient_id": patient.id,
            "patient_name": patient.full_name,
            "practitioner_id": pid,
            "practitioner_name": prac.name,
            "clinic_id": cid,
            "clinic_name": clinic.name,
            "clinic_timezone": clinic.timezone,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "expires_at": expires.isoformat(),
        },
        actor=actor,
        at=now,
    )
    activity.notify(
        s,
        event,
        [role_recipient(COORDINATOR_ROLE)],
        "Waitlist: a freed seat to offer",
        f"{patient.full_name} ({kind.name}) can have {when} with {prac.name} at "
        f"{clinic.name}. The seat is kept until {fmt_when(expires, clinic.timezone)}: "
        "call the patient, then book or decline it on the Waitlist page.",
    )
    return pid, start, end


def offer_after_schedule_change(
    ctx: AppContext,
    s: Session,
    organization_id: int,
    directory: Directory,
    now: datetime,
    actor: Actor,
    practitioner_id: int,
    weekday: int,
) -> list[Span]:
    """Inside the transaction that added or widened a weekly block: its weekday's dates
    up to the booking horizon may have new seats for the waitlist. ``directory`` is read
    before the transaction (its blocks may be the old ones; the day's plan reads the
    schedule fresh)."""
    org = s.get_one(Organization, organization_id)
    today = now.astimezone(ZoneInfo(directory.timezone)).date()
    first = today + timedelta(days=(weekday - today.weekday()) % 7)
    days = [
        first + timedelta(weeks=k) for k in range(directory.rules.booking_horizon_days // 7 + 2)
    ]
    return offer_freed_seats(ctx, s, org, directory, now, actor, [practitioner_id], days)


def offer_after_exception_withdrawn(
    ctx: AppContext,
    s: Session,
    organization_id: int,
    directory: Directory,
    now: datetime,
    actor: Actor,
    practitioner_ids: Iterable[int],
    start: datetime,
    end: datetime,
) -> list[Span]:
    """Inside the transaction that withdrew a leave, holiday or closure: its time is
    bookable again, first for the waitlist."""
    org = s.get_one(Organization, organization_id)
    begin = max(start, now)
    if end <= begin:
        return []
    horizon = now + timedelta(days=directory.rules.booking_horizon_days + 2)
    last = min(end, horizon)
    if last <= begin:
        return []
    # Local dates in any zone the organization works in: a day more each side.
    first_day = begin.date() - timedelta(days=1)
    n = (last.date() - first_day).days + 2
    days = [first_day + timedelta(days=k) for k in range(n)]
    return offer_freed_seats(
        ctx, s, org, directory, now, actor, practitioner_ids, days, [(start, end)]
    )


def directory_for(ctx: AppContext, organization_id: int) -> Directory | None:
    """The directory for the hooks above, read BEFORE the caller's transaction (see
    ``appointments._warm_rules``); None for an unknown organization (the caller's own
    checks report it)."""
    try:
        return get_directory(ctx, organization_id)
    except AvailabilityError:
        return None
