"""Weekly schedule blocks: create, change, end.

A block is a practitioner's weekly hours at one clinic (weekday, clinic-local start and
end, slot length, seats per slot, optional appointment type) valid from one date to
another. Rules (codes in ``domain.admin.errors``):

- the shape: end after start, slot length 5-720 minutes and no longer than the block,
  capacity 1-100, validity in order and not wholly past; a slot length that leaves
  minutes over needs ``accept_remainder`` and the result states what stays unbooked;
- the practitioner and the clinic are active, and an assignment covers every date of
  the block's validity;
- no two blocks of a practitioner run at the same instant on any date both cover (at one
  clinic or at two, compared in real time across time zones and DST).

History is kept: a change to a block that has already been in effect applies from today
(or from its new start date, if later). The block up to yesterday keeps its old hours and
a new block carries the new ones; ending a block sets its last day; a block is only
removed when it has never been in effect.

Changes that would leave upcoming bookings outside the schedule are refused with the list
unless every listed appointment is confirmed (``confirmed_appointment_ids``); the result
lists them again so staff can reschedule. Nothing is cancelled.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from data.models import AppointmentType, Clinic, ClinicAssignment, Practitioner, Schedule
from domain import waitlist
from domain.actor import Actor
from domain.admin import affected as aff
from domain.admin._common import (
    authorize,
    changes,
    get_clinic,
    get_practitioner,
    local_today,
    lock_practitioners,
    record,
)
from domain.admin.errors import (
    INACTIVE,
    NO_CHANGE,
    NOT_ASSIGNED,
    NOT_FOUND,
    OVERLAPPING_BLOCK,
    PERIOD_IN_PAST,
    AdminError,
)
from domain.admin.results import AdminResult
from domain.admin.rules import (
    BlockShape,
    check_block_shape,
    day_text,
    first_clash,
    hhmm,
    parse_date,
    parse_int,
    parse_time,
    parse_weekday,
    uncovered_day,
)
from domain.availability import invalidate_organization
from domain.context import AppContext


@dataclass(frozen=True)
class ExistingBlock:
    """Another block of the practitioner, for the overlap rule and its message."""

    id: int
    shape: BlockShape
    zone: str
    clinic_name: str

    def describe(self) -> str:
        return (
            f"the {self.shape.hours_text()} block at {self.clinic_name} "
            f"({self.shape.validity_text()})"
        )


def shape_of(row: Schedule) -> BlockShape:
    return BlockShape(
        practitioner_id=row.practitioner_id,
        clinic_id=row.clinic_id,
        weekday=row.weekday,
        start=row.start_time,
        end=row.end_time,
        slot_minutes=row.slot_minutes,
        capacity=row.capacity,
        valid_from=row.valid_from,
        valid_to=row.valid_to,
        appointment_type_id=row.appointment_type_id,
    )


def _block_state(shape: BlockShape) -> dict[str, Any]:
    return {
        "practitioner_id": shape.practitioner_id,
        "clinic_id": shape.clinic_id,
        "weekday": shape.weekday,
        "start": hhmm(shape.start),
        "end": hhmm(shape.end),
        "slot_minutes": shape.slot_minutes,
        "capacity": shape.capacity,
        "valid_from": shape.valid_from.isoformat(),
        "valid_to": shape.valid_to.isoformat() if shape.valid_to else None,
        "appointment_type_id": shape.appointment_type_id,
    }


def parse_shape(
    *,
    practitioner_id: int,
    clinic_id: int,
    weekday: object,
    start: object,
    end: object,
    slot_minutes: object,
    capacity: object,
    valid_from: object,
    valid_to: object,
    appointment_type_id: int | None,
    default_from: date,
) -> BlockShape:
    """Form or CSV values as a block, refused field by field in form order."""
    wd = parse_weekday(weekday)
    start_t = parse_time(start, "start", "Start time")
    end_t = parse_time(end, "end", "End time")
    slot = parse_int(slot_minutes, "slot_minutes", "The slot length")
    cap = 1 if capacity is None or capacity == "" else parse_int(capacity, "capacity", "Capacity")
    first = parse_date(valid_from, "valid_from", "Valid from", required=False) or default_from
    last = parse_date(valid_to, "valid_to", "Valid to", required=False)
    return BlockShape(
        practitioner_id, clinic_id, wd, start_t, end_t, slot, cap, first, last, appointment_type_id
    )


def existing_blocks(
    s: Session, practitioner_id: int, *, skip: Collection[int] = ()
) -> list[ExistingBlock]:
    rows = s.execute(
        select(Schedule, Clinic.timezone, Clinic.name)
        .join(Clinic, Clinic.id == Schedule.clinic_id)
        .where(Schedule.practitioner_id == practitioner_id)
        .order_by(Schedule.weekday, Schedule.start_time, Schedule.id)
    ).all()
    return [
        ExistingBlock(row.id, shape_of(row), zone, name)
        for row, zone, name in rows
        if row.id not in skip
    ]


def assignment_periods(
    s: Session, practitioner_id: int, clinic_id: int
) -> list[tuple[date, date | None]]:
    return [
        (a, b)
        for a, b in s.execute(
            select(ClinicAssignment.active_from, ClinicAssignment.active_to).where(
                ClinicAssignment.practitioner_id == practitioner_id,
                ClinicAssignment.clinic_id == clinic_id,
            )
        )
    ]


def check_block(
    shape: BlockShape,
    *,
    today: date,
    accept_remainder: bool,
    practitioner: Practitioner,
    clinic: Clinic,
    appointment_type: AppointmentType | None,
    periods: Sequence[tuple[date, date | None]],
    others: Sequence[ExistingBlock],
    period_floor: date | None = None,
) -> str | None:
    """Every rule for one block, in form order; returns the remainder statement.
    ``period_floor``: the earliest last day accepted (default today)."""
    if not practitioner.active:
        raise AdminError(
            INACTIVE, f"{practitioner.name} is deactivated; reactivate them first.", "practitioner"
        )
    if not clinic.active:
        raise AdminError(INACTIVE, f"{clinic.name} is deactivated; reactivate it first.", "clinic")
    statement = check_block_shape(shape, period_floor or today, accept_remainder=accept_remainder)
    if appointment_type is not None and not appointment_type.active:
        raise AdminError(
            INACTIVE,
            f"The appointment type {appointment_type.name} is no longer offered.",
            "appointment_type",
        )
    gap = uncovered_day(periods, shape.valid_from, shape.valid_to)
    if gap is not None:
        assigned = "; ".join(
            f"{day_text(a)} to {day_text(b) if b else 'open-ended'}" for a, b in sorted(periods)
        )
        raise AdminError(
            NOT_ASSIGNED,
            f"{practitioner.name} is not assigned to {clinic.name} on {day_text(gap)}"
            + (f" (assigned {assigned})" if assigned else "")
            + ". Assign them for the whole period first, or shorten the block's validity.",
            "clinic",
            first_uncovered_day=gap.isoformat(),
        )
    for other in others:
        clash = first_clash(shape, clinic.timezone, other.shape, other.zone)
        if clash is not None:
            raise AdminError(
                OVERLAPPING_BLOCK,
                f"{practitioner.name} already works then: this block overlaps "
                f"{other.describe()}, first on {day_text(clash)}. Change the hours or end "
                "the other block first.",
                "start",
                schedule_id=other.id,
                first_clash=clash.isoformat(),
            )
    return statement


def _appointment_type(
    s: Session, organization_id: int, type_id: int | None
) -> AppointmentType | None:
    if type_id is None:
        return None
    row = s.get(AppointmentType, type_id) if isinstance(type_id, int) and type_id > 0 else None
    if row is None or row.organization_id != organization_id:
        raise AdminError(
            NOT_FOUND, "Choose an appointment type of this organization.", "appointment_type"
        )
    return row


def _get_block(s: Session, organization_id: int, schedule_id: object) -> Schedule:
    row = s.get(Schedule, schedule_id) if isinstance(schedule_id, int) and schedule_id > 0 else None
    if row is not None:
        prac = s.get(Practitioner, row.practitioner_id)
        if prac is not None and prac.organization_id == organization_id:
            return row
    raise AdminError(NOT_FOUND, "This weekly block no longer exists.")


def _stranding_message(n_text: str, what: str) -> str:
    return (
        f"{n_text} would fall outside the schedule {what}. Confirm to go ahead: the "
        "appointments are kept (nothing is cancelled) and listed for rescheduling."
    )


def create_schedule_block(
    ctx: AppContext,
    actor: Actor,
    organization_id: int,
    *,
    practitioner_id: int | None,
    clinic_id: int | None,
    weekday: object,
    start: object,
    end: object,
    slot_minutes: object,
    capacity: object = 1,
    valid_from: object = None,
    valid_to: object = None,
    appointment_type_id: int | None = None,
    accept_remainder: bool = False,
) -> AdminResult:
    """Add a weekly block (valid from today when no start date is given)."""
    authorize(actor, organization_id)
    now = ctx.clock()
    directory = waitlist.directory_for(ctx, organization_id)
    with ctx.db.transaction(write_lock=True) as s:
        prac = get_practitioner(s, organization_id, practitioner_id)
        clinic = get_clinic(s, organization_id, clinic_id)
        lock_practitioners(s, organization_id, [prac.id])
        today = local_today(clinic.timezone, now)
        shape = parse_shape(
            practitioner_id=prac.id,
            clinic_id=clinic.id,
            weekday=weekday,
            start=start,
            end=end,
            slot_minutes=slot_minutes,
            capacity=capacity,
            valid_from=valid_from,
            valid_to=valid_to,
            appointment_type_id=appointment_type_id,
            default_from=today,
        )
        statement = check_block(
            shape,
            today=today,
            accept_remainder=accept_remainder,
            practitioner=prac,
            clinic=clinic,
            appointment_type=_appointment_type(s, organization_id, appointment_type_id),
            periods=assignment_periods(s, prac.id, clinic.id),
            others=existing_blocks(s, prac.id),
        )
        row = insert_block(s, shape)
        payload = {
            "schedule_id": row.id,
            "practitioner": prac.name,
            "clinic": clinic.name,
            **_block_state(shape),
        }
        if statement:
            payload["unbooked_minutes"] = shape.remainder_minutes
        record(s, actor, organization_id, "SCHEDULE_CREATED", payload, now)
        if directory is not None:
            waitlist.offer_after_schedule_change(
                ctx, s, organization_id, directory, now, actor, prac.id, shape.weekday
            )
        result = AdminResult(
            row.id,
            f"{prac.name}: {shape.hours_text()} at {clinic.name} added "
            f"({shape.slots} slot{'s' if shape.slots != 1 else ''} of {shape.slot_minutes} "
            f"minutes, {shape.validity_text()}).",
            notes=[statement] if statement else [],
        )
    invalidate_organization(ctx, organization_id)
    return result


def insert_block(s: Session, shape: BlockShape) -> Schedule:
    row = Schedule(
        practitioner_id=shape.practitioner_id,
        clinic_id=shape.clinic_id,
        weekday=shape.weekday,
        start_time=shape.start,
        end_time=shape.end,
        slot_minutes=shape.slot_minutes,
        capacity=shape.capacity,
        appointment_type_id=shape.appointment_type_id,
        valid_from=shape.valid_from,
        valid_to=shape.valid_to,
    )
    s.add(row)
    s.flush()
    return row


def _apply(row: Schedule, shape: BlockShape) -> None:
    row.clinic_id = shape.clinic_id
    row.weekday = shape.weekday
    row.start_time, row.end_time = shape.start, shape.end
    row.slot_minutes, row.capacity = shape.slot_minutes, shape.capacity
    row.appointment_type_id = shape.appointment_type_id
    row.valid_from, row.valid_to = shape.valid_from, shape.valid_to


def update_schedule_block(
    ctx: AppContext,
    actor: Actor,
    organization_id: int,
    schedule_id: int,
    *,
    clinic_id: int | None,
    weekday: object,
    start: object,
    end: object,
    slot_minutes: object,
    capacity: object,
    valid_from: object,
    valid_to: object,
    appointment_type_id: int | None = None,
    accept_remainder: bool = False,
    confirmed_appointment_ids: Collection[int] = (),
) -> AdminResult:
    """Change a block. If it has been in effect before today, the change applies from
    today (or the new start date, if later) and the past keeps the old hours."""
    authorize(actor, organization_id)
    now = ctx.clock()
    directory = waitlist.directory_for(ctx, organization_id)
    with ctx.db.transaction(write_lock=True) as s:
        row = _get_block(s, organization_id, schedule_id)
        prac = get_practitioner(s, organization_id, row.practitioner_id)
        lock_practitioners(s, organization_id, [prac.id])
        old_clinic = get_clinic(s, organization_id, row.clinic_id)
        clinic = get_clinic(s, organization_id, clinic_id)
        today = local_today(old_clinic.timezone, now)
        old = shape_of(row)
        new = parse_shape(
            practitioner_id=prac.id,
            clinic_id=clinic.id,
            weekday=weekday,
            start=start,
            end=end,
            slot_minutes=slot_minutes,
            capacity=capacity,
            valid_from=valid_from,
            valid_to=valid_to,
            appointment_type_id=appointment_type_id,
            default_from=old.valid_from,
        )
        if new == old:
            raise AdminError(NO_CHANGE, "Nothing was changed.")
        started = old.valid_from < today
        only_end = new.with_changes(valid_to=old.valid_to) == old
        if started and not only_end and new.with_changes(valid_from=old.valid_from) == old:
            raise AdminError(
                PERIOD_IN_PAST,
                f"This block has applied since {day_text(old.valid_from)}; its start date "
                "cannot change. Set its last day instead, and add a new block.",
                "valid_from",
            )
        split_from: date | None = None
        if started and not only_end:
            split_from = max(today, new.valid_from)
            new = new.with_changes(valid_from=split_from)
        appts = aff.upcoming(s, organization_id, now, practitioner_ids=[prac.id])
        was = aff.covered(s, organization_id, appts)
        statement = check_block(
            new,
            today=today,
            # Minutes left over by unchanged hours and slot length were accepted before.
            accept_remainder=accept_remainder
            or (new.start, new.end, new.slot_minutes) == (old.start, old.end, old.slot_minutes),
            practitioner=prac,
            clinic=clinic,
            appointment_type=_appointment_type(s, organization_id, appointment_type_id),
            periods=assignment_periods(s, prac.id, clinic.id),
            others=existing_blocks(s, prac.id, skip=[row.id]),
            # Ending a block yesterday is how it stops from today on.
            period_floor=today - timedelta(days=1) if only_end else today,
        )
        if split_from is not None:
            # The old hours stop the day before (or keep an earlier end they had).
            day_before = split_from - timedelta(days=1)
            if old.valid_to is None or old.valid_to > day_before:
                row.valid_to = day_before
            new_row = insert_block(s, new)
            block_id = new_row.id
        else:
            _apply(row, new)
            block_id = row.id
        still = aff.covered(s, organization_id, appts)
        stranded = [a for a in appts if a.id in was and a.id not in still]
        aff.confirm_or_refuse(
            stranded,
            confirmed_appointment_ids,
            _stranding_message(aff.count_text(len(stranded)), "with the new hours"),
        )
        payload: dict[str, Any] = {
            "schedule_id": row.id,
            "practitioner": prac.name,
            "clinic": old_clinic.name,
            # The block as it was, so the history names what changed.
            "weekday": old.weekday,
            "start": hhmm(old.start),
            "end": hhmm(old.end),
            "changes": changes(_block_state(old), _block_state(new)),
        }
        notes = [statement] if statement else []
        if split_from is not None:
            payload["split_from"] = split_from.isoformat()
            payload["new_schedule_id"] = block_id
            notes.append(
                f"The new hours apply from {day_text(split_from)}; dates before keep the "
                "old hours, so past records stay as they were."
            )
        if stranded:
            payload["outside_schedule"] = aff.recorded(stranded)
            notes.append(aff.outside_note(len(stranded)))
        record(
            s,
            actor,
            organization_id,
            "SCHEDULE_CHANGED",
            payload,
            now,
            to_reschedule=stranded,
            subject=f"{prac.name}'s hours at {clinic.name} changed; now outside them",
        )
        if directory is not None:
            # New hours may be wider: seats for the waitlist.
            waitlist.offer_after_schedule_change(
                ctx, s, organization_id, directory, now, actor, prac.id, new.weekday
            )
        result = AdminResult(
            block_id, f"{prac.name}: {new.hours_text()} at {clinic.name} saved.", stranded, notes
        )
    invalidate_organization(ctx, organization_id)
    return result


def end_schedule_block(
    ctx: AppContext,
    actor: Actor,
    organization_id: int,
    schedule_id: int,
    *,
    last_day: object = None,
    confirmed_appointment_ids: Collection[int] = (),
) -> AdminResult:
    """Stop a block after ``last_day`` (default: yesterday, i.e. from today on). A block
    that would never have been in effect is removed instead."""
    authorize(actor, organization_id)
    now = ctx.clock()
    with ctx.db.transaction(write_lock=True) as s:
        row = _get_block(s, organization_id, schedule_id)
        prac = get_practitioner(s, organization_id, row.practitioner_id)
        lock_practitioners(s, organization_id, [prac.id])
        clinic = get_clinic(s, organization_id, row.clinic_id)
        today = local_today(clinic.timezone, now)
        yesterday = today - timedelta(days=1)
        last = parse_date(last_day, "valid_to", "The last day", required=False) or yesterday
        if last < yesterday:
            raise AdminError(
                PERIOD_IN_PAST,
                f"The last day cannot be before {day_text(yesterday)} (yesterday): the past "
                "keeps its record.",
                "valid_to",
            )
        old = shape_of(row)
        if old.valid_to is not None and last >= old.valid_to:
            raise AdminError(
                NO_CHANGE,
                f"This block already ends on {day_text(old.valid_to)}.",
                "valid_to",
            )
        appts = aff.upcoming(s, organization_id, now, practitioner_ids=[prac.id])
        was = aff.covered(s, organization_id, appts)
        removed = last < old.valid_from
        if removed:
            s.delete(row)
        else:
            row.valid_to = last
        s.flush()
        still = aff.covered(s, organization_id, appts)
        stranded = [a for a in appts if a.id in was and a.id not in still]
        aff.confirm_or_refuse(
            stranded,
            confirmed_appointment_ids,
            _stranding_message(
                aff.count_text(len(stranded)),
                "once this block is removed" if removed else f"after {day_text(last)}",
            ),
        )
        payload: dict[str, Any] = {
            "schedule_id": schedule_id,
            "practitioner": prac.name,
            "clinic": clinic.name,
            **_block_state(old),
        }
        if not removed:
            payload["changes"] = changes({"valid_to": old.valid_to}, {"valid_to": last})
        if stranded:
            payload["outside_schedule"] = aff.recorded(stranded)
        record(
            s,
            actor,
            organization_id,
            "SCHEDULE_DELETED" if removed else "SCHEDULE_ENDED",
            payload,
            now,
            to_reschedule=stranded,
            subject=f"{prac.name}'s {old.hours_text()} block at {clinic.name} ended",
        )
        what = f"{prac.name}: {old.hours_text()} at {clinic.name}"
        message = (
            f"{what} removed (it had not started yet)."
            if removed
            else f"{what} ends after {day_text(last)}."
        )
        result = AdminResult(
            schedule_id,
            message,
            stranded,
            [aff.outside_note(len(stranded))] if stranded else [],
        )
    invalidate_organization(ctx, organization_id)
    return result
