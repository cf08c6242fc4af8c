"""Slot holds: opening the booking form on a slot keeps one seat for a few minutes.

A hold is a ``slot_holds`` row that availability and booking count like a booked seat
until ``expires_at``; expiry is judged by time whenever a hold is read (an expired row
simply stops counting, no job needed). Its holder sees the seat open and their own
booking consumes the hold instead of competing with it. A staff member holds one slot at
a time: opening the form on another slot lets the previous one go.

Holds are created under the booking service's per-practitioner lock (``data.locks``) and
checked by the same availability rule, so the seat count a hold takes is part of the
concurrency guarantee of ``AppointmentService.create_appointment``.

How long a hold lasts: the organization setting ``hold_minutes`` (default 5), set on the
settings page (``domain.admin.org_settings``).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from data.locks import lock_practitioners
from data.models import Organization, SlotHold
from domain.actor import Actor
from domain.availability import (
    AvailabilityError,
    get_directory,
    invalidate_appointment,
    practitioner_day_for,
)
from domain.booking_rules import BookingRequest, check_booking
from domain.context import AppContext
from domain.errors import BookingError
from domain.permissions import Permission, PermissionDenied, require, require_practitioner_scope

DEFAULT_HOLD_MINUTES = 5
MAX_HOLD_MINUTES = 60

Span = tuple[int, datetime, datetime]


def hold_length(settings: dict[str, Any] | None) -> int:
    """The organization's hold length (``settings["hold_minutes"]``), 1 to 60."""
    value = (settings or {}).get("hold_minutes", DEFAULT_HOLD_MINUTES)
    if isinstance(value, bool) or not isinstance(value, int):
        return DEFAULT_HOLD_MINUTES
    return min(max(value, 1), MAX_HOLD_MINUTES)


@dataclass(frozen=True)
class HoldView:
    id: int
    practitioner_id: int
    clinic_id: int
    start_at: datetime
    end_at: datetime
    expires_at: datetime


def _view(h: SlotHold) -> HoldView:
    return HoldView(h.id, h.practitioner_id, h.clinic_id, h.start_at, h.end_at, h.expires_at)


def _authorize(actor: Actor, organization_id: int) -> int:
    if actor.organization_id is not None and actor.organization_id != organization_id:
        raise PermissionDenied("You can only work in your own organization.")
    require(actor, Permission.BOOK)
    if actor.user_id is None:
        raise PermissionDenied("Only a signed-in staff member can hold a slot.")
    return actor.user_id


def hold_slot(
    ctx: AppContext,
    organization_id: int,
    actor: Actor,
    *,
    practitioner_id: int,
    clinic_id: int,
    start: datetime,
    duration_minutes: int,
    appointment_type_id: int | None = None,
) -> HoldView:
    """Keep one seat of this slot for the actor for the organization's hold minutes.

    Refused (BookingError with the availability rule's code, e.g. CONFLICT) when the
    seat is not open to the actor; the actor's earlier holds are let go either way."""
    user_id = _authorize(actor, organization_id)
    require_practitioner_scope(actor, practitioner_id)
    if start.tzinfo is None:
        raise BookingError("INVALID_START", "Choose a start time.", "start")
    now = ctx.clock()
    with contextlib.suppress(AvailabilityError):  # warm the directory before the lock
        get_directory(ctx, organization_id)
    freed: list[Span] = []
    with ctx.db.transaction(write_lock=True) as s:
        org = s.get(Organization, organization_id)
        if org is None:
            raise BookingError("ORGANIZATION_NOT_FOUND", "This organization was not found.")
        if practitioner_id not in lock_practitioners(s, org.id, [practitioner_id]):
            raise BookingError(
                "PRACTITIONER_NOT_FOUND", "This practitioner was not found.", "practitioner"
            )
        freed = _drop(s, select(SlotHold).where(SlotHold.user_id == user_id))
        request = BookingRequest(
            practitioner_id=practitioner_id,
            clinic_id=clinic_id,
            start=start,
            duration_minutes=duration_minutes,
            appointment_type_id=appointment_type_id,
        )
        day = practitioner_day_for(ctx, s, org.id, request, now=now)
        violation = check_booking(day, request, now)
        if violation is not None:
            raise BookingError(
                violation.code, violation.message, "start", **dict(violation.details)
            )
        hold = SlotHold(
            organization_id=org.id,
            practitioner_id=practitioner_id,
            clinic_id=clinic_id,
            start_at=request.start,
            end_at=request.end,
            expires_at=now + timedelta(minutes=hold_length(org.settings)),
            user_id=user_id,
            created_at=now,
        )
        s.add(hold)
        s.flush()
        view = _view(hold)
    invalidate_spans(ctx, organization_id, [*freed, (practitioner_id, view.start_at, view.end_at)])
    return view


def release_holds(ctx: AppContext, organization_id: int, actor: Actor) -> int:
    """Let go of every hold of the actor (they left the booking form); how many."""
    user_id = _authorize(actor, organization_id)
    with ctx.db.transaction() as s:
        freed = _drop(
            s,
            select(SlotHold).where(
                SlotHold.organization_id == organization_id, SlotHold.user_id == user_id
            ),
        )
    invalidate_spans(ctx, organization_id, freed)
    return len(freed)


def my_live_holds(ctx: AppContext, organization_id: int, actor: Actor) -> list[HoldView]:
    """The actor's holds that have not expired."""
    if actor.user_id is None:
        return []
    with ctx.db.read() as s:
        rows = s.scalars(
            select(SlotHold)
            .where(
                SlotHold.organization_id == organization_id,
                SlotHold.user_id == actor.user_id,
                SlotHold.expires_at > ctx.clock(),
            )
            .order_by(SlotHold.start_at)
        ).all()
        return [_view(h) for h in rows]


# --------------------------------------------------------------------------- in a transaction


def consume_user_holds(
    s: Session, organization_id: int, user_id: int | None, practitioner_id: int
) -> list[Span]:
    """Inside a booking's transaction: the booker's holds of this practitioner end (the
    booking took their seat). Returns the freed spans, to invalidate after the commit."""
    if user_id is None:
        return []
    return _drop(
        s,
        select(SlotHold).where(
            SlotHold.organization_id == organization_id,
            SlotHold.user_id == user_id,
            SlotHold.practitioner_id == practitioner_id,
        ),
    )


def drop_hold(s: Session, hold_id: int) -> list[Span]:
    return _drop(s, select(SlotHold).where(SlotHold.id == hold_id))


def _drop(s: Session, query: Any) -> list[Span]:
    rows = s.scalars(query).all()
    spans = [(h.practitioner_id, h.start_at, h.end_at) for h in rows]
    if rows:
        s.execute(delete(SlotHold).where(SlotHold.id.in_([h.id for h in rows])))
    return spans


def invalidate_spans(ctx: AppContext, organization_id: int, spans: list[Span]) -> None:
    """After the commit: availability around each held or released span is recomputed."""
    for practitioner_id, start, end in set(spans):
        invalidate_appointment(ctx, organization_id, practitioner_id, start, end)
