"""Practitioners and their clinic assignments.

A practitioner is never deleted (appointments and history point at them): deactivating
hides them from availability and booking, lists their upcoming bookings (which need
confirmation and are kept), and can be undone. An assignment says a practitioner works at
a clinic from one date to another (open-ended when no end); weekly blocks only count
while one covers them. Ending an assignment ends that practitioner's blocks there on the
same day (and removes blocks that would only have started later), after confirmation
when upcoming bookings there would be left outside the schedule.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select

from data.models import ClinicAssignment, Practitioner, Schedule
from data.vocabulary import MAX_NAME_LENGTH
from domain.actor import Actor
from domain.admin import affected as aff
from domain.admin._common import (
    authorize,
    changes,
    get_clinic,
    get_organization_row,
    get_practitioner,
    local_today,
    lock_practitioners,
    record,
)
from domain.admin.errors import (
    ASSIGNMENT_OVERLAP,
    IN_USE,
    INACTIVE,
    INVALID_TEXT,
    NO_CHANGE,
    NOT_FOUND,
    PERIOD_IN_PAST,
    AdminError,
)
from domain.admin.results import AdminResult
from domain.admin.rules import check_period, day_text, parse_date, periods_overlap
from domain.availability import invalidate_organization
from domain.context import AppContext
from domain.text import TextError, clean_text

MAX_SPECIALTY_LENGTH = 100


def _clean(name: object, specialty: object) -> tuple[str, str]:
    try:
        clean_name = clean_text(
            name if isinstance(name, str) or name is None else str(name),
            field="name",
            max_length=MAX_NAME_LENGTH,
            required=True,
        )
        clean_specialty = clean_text(
            specialty if isinstance(specialty, str) or specialty is None else str(specialty),
            field="specialty",
            max_length=MAX_SPECIALTY_LENGTH,
            required=True,
        )
    except TextError as exc:
        raise AdminError(INVALID_TEXT, exc.message, exc.field) from exc
    return clean_name or "", clean_specialty or ""


def _state(p: Practitioner) -> dict[str, Any]:
    return {"name": p.name, "specialty": p.specialty, "active": p.active}


def create_practitioner(
    ctx: AppContext,
    actor: Actor,
    organization_id: int,
    *,
    name: str | None,
    specialty: str | None,
) -> AdminResult:
    """A new, active practitioner. Assign them to clinics and give them weekly blocks
    before they can be booked."""
    authorize(actor, organization_id)
    clean_name, clean_specialty = _clean(name, specialty)
    with ctx.db.transaction() as s:
        get_organization_row(s, organization_id)
        prac = Practitioner(
            organization_id=organization_id,
            name=clean_name,
            specialty=clean_specialty,
            active=True,
            is_placeholder=False,
        )
        s.add(prac)
        s.flush()
        record(
            s,
            actor,
            organization_id,
            "PRACTITIONER_CREATED",
            {"practitioner_id": prac.id, **_state(prac)},
            ctx.clock(),
        )
        pid = prac.id
    invalidate_organization(ctx, organization_id)
    return AdminResult(pid, f"{clean_name} added. Next: assign them to a clinic.")


def update_practitioner(
    ctx: AppContext,
    actor: Actor,
    organization_id: int,
    practitioner_id: int,
    *,
    name: str | None,
    specialty: str | None,
) -> AdminResult:
    authorize(actor, organization_id)
    clean_name, clean_specialty = _clean(name, specialty)
    with ctx.db.transaction() as s:
        prac = get_practitioner(s, organization_id, practitioner_id)
        before = _state(prac)
        prac.name, prac.specialty = clean_name, clean_specialty
        diff = changes(before, _state(prac))
        if not diff:
            raise AdminError(NO_CHANGE, "Nothing was changed.")
        record(
            s,
            actor,
            organization_id,
            "PRACTITIONER_CHANGED",
            {"practitioner_id": prac.id, "name": clean_name, "changes": diff},
            ctx.clock(),
        )
    invalidate_organization(ctx, organization_id)
    return AdminResult(practitioner_id, f"{clean_name} saved.")


def set_practitioner_active(
    ctx: AppContext,
    actor: Actor,
    organization_id: int,
    practitioner_id: int,
    active: bool,
    *,
    confirmed_appointment_ids: Collection[int] = (),
) -> AdminResult:
    """Deactivate (offers nothing any more; every upcoming booking is listed, needs
    confirmation and is kept) or reactivate a practitioner."""
    authorize(actor, organization_id)
    now = ctx.clock()
    with ctx.db.transaction(write_lock=True) as s:
        prac = get_practitioner(s, organization_id, practitioner_id)
        if prac.active == active:
            state = "active" if active else "inactive"
            raise AdminError(INACTIVE, f"{prac.name} is already {state}.")
        listed: list[aff.AffectedAppointment] = []
        if not active:
            lock_practitioners(s, organization_id, [prac.id])
            listed = aff.upcoming(s, organization_id, now, practitioner_ids=[prac.id])
            aff.confirm_or_refuse(
                listed,
                confirmed_appointment_ids,
                f"{prac.name} has {aff.count_text(len(listed))}. Deactivating stops new "
                "bookings but keeps these; confirm, then reschedule or cancel them.",
            )
        prac.active = active
        payload: dict[str, Any] = {"practitioner_id": prac.id, "name": prac.name}
        if listed:
            payload["upcoming_appointments"] = aff.recorded(listed)
        record(
            s,
            actor,
            organization_id,
            "PRACTITIONER_REACTIVATED" if active else "PRACTITIONER_DEACTIVATED",
            payload,
            now,
            to_reschedule=listed,
            subject=f"{prac.name} was deactivated; still booked",
        )
        name = prac.name
    invalidate_organization(ctx, organization_id)
    if active:
        return AdminResult(practitioner_id, f"{name} is active again.")
    return AdminResult(
        practitioner_id,
        f"{name} is deactivated: no more slots are offered.",
        listed,
        [
            aff.counted(
                len(listed),
                "remains booked: reschedule or cancel it.",
                "remain booked: reschedule or cancel them.",
            )
        ]
        if listed
        else [],
    )


# --------------------------------------------------------------------------- assignments


def _assignment_state(a: ClinicAssignment) -> dict[str, Any]:
    return {
        "practitioner_id": a.practitioner_id,
        "clinic_id": a.clinic_id,
        "active_from": a.active_from,
        "active_to": a.active_to,
    }


def _check_no_overlap(
    s: Any, practitioner_id: int, clinic_id: int, first: date, last: date | None, skip: int | None
) -> None:
    rows = s.scalars(
        select(ClinicAssignment).where(
            ClinicAssignment.practitioner_id == practitioner_id,
            ClinicAssignment.clinic_id == clinic_id,
        )
    ).all()
    for other in rows:
        if other.id == skip:
            continue
        if periods_overlap(first, last, other.active_from, other.active_to):
            until = f" to {day_text(other.active_to)}" if other.active_to else " (open-ended)"
            raise AdminError(
                ASSIGNMENT_OVERLAP,
                f"This practitioner is already assigned there from "
                f"{day_text(other.active_from)}{until}; change that assignment instead.",
                "active_from",
            )


def create_assignment(
    ctx: AppContext,
    actor: Actor,
    organization_id: int,
    *,
    practitioner_id: int | None,
    clinic_id: int | None,
    active_from: object,
    active_to: object = None,
) -> AdminResult:
    """Assign a practitioner to a clinic for a period (no end: until further notice)."""
    authorize(actor, organization_id)
    first = parse_date(active_from, "active_from", "The start date")
    last = parse_date(active_to, "active_to", "The end date", required=False)
    assert first is not None
    with ctx.db.transaction() as s:
        prac = get_practitioner(s, organization_id, practitioner_id)
        clinic = get_clinic(s, organization_id, clinic_id)
        if not clinic.active:
            raise AdminError(
                INACTIVE, f"{clinic.name} is deactivated; reactivate it first.", "clinic"
            )
        today = local_today(clinic.timezone, ctx.clock())
        check_period(first, last, "active_from", "active_to", today)
        _check_no_overlap(s, prac.id, clinic.id, first, last, None)
        row = ClinicAssignment(
            practitioner_id=prac.id, clinic_id=clinic.id, active_from=first, active_to=last
        )
        s.add(row)
        s.flush()
        record(
            s,
            actor,
            organization_id,
            "ASSIGNMENT_CREATED",
            {
                "assignment_id": row.id,
                "practitioner": prac.name,
                "clinic": clinic.name,
                **changes({}, _assignment_state(row)),
            },
            ctx.clock(),
        )
        result = AdminResult(row.id, f"{prac.name} is assigned to {clinic.name}.")
    invalidate_organization(ctx, organization_id)
    return result


def _get_assignment(s: Any, organization_id: int, assignment_id: object) -> ClinicAssignment:
    row = (
        s.get(ClinicAssignment, assignment_id)
        if isinstance(assignment_id, int) and assignment_id > 0
        else None
    )
    if row is not None:
        prac = s.get(Practitioner, row.practitioner_id)
        if prac is not None and prac.organization_id == organization_id:
            return row
    raise AdminError(NOT_FOUND, "This assignment no longer exists.")


def update_assignment(
    ctx: AppContext,
    actor: Actor,
    organization_id: int,
    assignment_id: int,
    *,
    active_from: object,
    active_to: object,
    confirmed_appointment_ids: Collection[int] = (),
) -> AdminResult:
    """Change an assignment's period (typically: end it). Blocks at that clinic are ended
    with it; upcoming bookings it would leave outside the schedule need confirmation."""
    authorize(actor, organization_id)
    first = parse_date(active_from, "active_from", "The start date")
    last = parse_date(active_to, "active_to", "The end date", required=False)
    assert first is not None
    now = ctx.clock()
    with ctx.db.transaction(write_lock=True) as s:
        row = _get_assignment(s, organization_id, assignment_id)
        prac = get_practitioner(s, organization_id, row.practitioner_id)
        clinic = get_clinic(s, organization_id, row.clinic_id)
        today = local_today(clinic.timezone, now)
        before = _assignment_state(row)
        if first != row.active_from and min(first, row.active_from) < today:
            raise AdminError(
                PERIOD_IN_PAST,
                f"The start ({day_text(row.active_from)}) cannot move into or out of the past; "
                "end this assignment and add a new one instead.",
                "active_from",
            )
        # Ending yesterday is how an assignment stops from today on.
        check_period(first, last, "active_from", "active_to", today - timedelta(days=1))
        _check_no_overlap(s, prac.id, clinic.id, first, last, row.id)
        lock_practitioners(s, organization_id, [prac.id])
        appts = aff.upcoming(
            s, organization_id, now, practitioner_ids=[prac.id], clinic_id=clinic.id
        )
        was = aff.covered(s, organization_id, appts)
        row.active_from, row.active_to = first, last
        s.flush()
        trimmed, removed = _fit_blocks_to_assignments(s, prac.id, clinic.id, today)
        still = aff.covered(s, organization_id, appts)
        stranded = [a for a in appts if a.id in was and a.id not in still]
        aff.confirm_or_refuse(
            stranded,
            confirmed_appointment_ids,
            f"{aff.count_text(len(stranded))} of {prac.name} at {clinic.name} would fall "
            "outside the assignment. Confirm to change it anyway; the appointments are kept "
            "and listed for rescheduling.",
        )
        diff = changes(before, _assignment_state(row))
        if not diff:
            raise AdminError(NO_CHANGE, "Nothing was changed.")
        payload: dict[str, Any] = {
            "assignment_id": row.id,
            "practitioner": prac.name,
            "clinic": clinic.name,
            "changes": diff,
        }
        if trimmed or removed:
            payload["blocks_ended"] = trimmed
            payload["blocks_removed"] = removed
        if stranded:
            payload["outside_schedule"] = aff.recorded(stranded)
        record(
            s,
            actor,
            organization_id,
            "ASSIGNMENT_CHANGED",
            payload,
            now,
            to_reschedule=stranded,
            subject=f"{prac.name} no longer works at {clinic.name} then",
        )
        notes = []
        if trimmed or removed:
            n = len(trimmed) + len(removed)
            notes.append(
                f"{n} weekly block{'s' if n != 1 else ''} at {clinic.name} "
                f"{'were' if n != 1 else 'was'} ended with the assignment."
            )
        if stranded:
            notes.append(aff.outside_note(len(stranded)))
        result = AdminResult(
            row.id, f"Assignment of {prac.name} to {clinic.name} saved.", stranded, notes
        )
    invalidate_organization(ctx, organization_id)
    return result


def delete_assignment(
    ctx: AppContext,
    actor: Actor,
    organization_id: int,
    assignment_id: int,
) -> AdminResult:
    """Remove an assignment that has not started yet (one that has is ended instead, so
    the past keeps its record)."""
    authorize(actor, organization_id)
    now = ctx.clock()
    with ctx.db.transaction(write_lock=True) as s:
        row = _get_assignment(s, organization_id, assignment_id)
        prac = get_practitioner(s, organization_id, row.practitioner_id)
        clinic = get_clinic(s, organization_id, row.clinic_id)
        today = local_today(clinic.timezone, now)
        if row.active_from <= today:
            raise AdminError(
                IN_USE,
                f"This assignment has been in effect since {day_text(row.active_from)}: "
                "set an end date instead of removing it.",
                "active_from",
            )
        lock_practitioners(s, organization_id, [prac.id])
        appts = aff.upcoming(
            s, organization_id, now, practitioner_ids=[prac.id], clinic_id=clinic.id
        )
        was = aff.covered(s, organization_id, appts)
        state = _assignment_state(row)
        s.delete(row)
        s.flush()
        trimmed, removed = _fit_blocks_to_assignments(s, prac.id, clinic.id, today)
        still = aff.covered(s, organization_id, appts)
        stranded = [a for a in appts if a.id in was and a.id not in still]
        if stranded:
            # Bookings inside a future assignment: change its dates with confirmation.
            raise AdminError(
                IN_USE,
                aff.counted(len(stranded), "is", "are")
                + " booked in this assignment; set its end date instead (they will be "
                "listed for rescheduling).",
            )
        record(
            s,
            actor,
            organization_id,
            "ASSIGNMENT_DELETED",
            {
                "assignment_id": assignment_id,
                "practitioner": prac.name,
                "clinic": clinic.name,
                **changes(state, {}),
                "blocks_ended": trimmed,
                "blocks_removed": removed,
            },
            now,
        )
        result = AdminResult(assignment_id, f"Assignment of {prac.name} to {clinic.name} removed.")
    invalidate_organization(ctx, organization_id)
    return result


def _fit_blocks_to_assignments(
    s: Any, practitioner_id: int, clinic_id: int, today: date
) -> tuple[list[int], list[int]]:
    """End the practitioner's blocks at the clinic where no assignment covers them any
    more: a block reaching past the last assignment day ends that day; a block starting
    after it is removed (it never applied). Returns (ended ids, removed ids)."""
    periods = s.execute(
        select(ClinicAssignment.active_from, ClinicAssignment.active_to).where(
            ClinicAssignment.practitioner_id == practitioner_id,
            ClinicAssignment.clinic_id == clinic_id,
        )
    ).all()
    if any(last is None for _, last in periods):
        return [], []
    last_day = max((last for _, last in periods), default=today - timedelta(days=1))
    blocks = s.scalars(
        select(Schedule)
        .where(Schedule.practitioner_id == practitioner_id, Schedule.clinic_id == clinic_id)
        .order_by(Schedule.id)
    ).all()
    ended, removed = [], []
    for block in blocks:
        if block.valid_from > last_day:
            removed.append(block.id)
            s.delete(block)
        elif block.valid_to is None or block.valid_to > last_day:
            block.valid_to = last_day
            ended.append(block.id)
    s.flush()
    return ended, removed
