"""Clinics: create, edit, deactivate and reactivate. Nothing is ever deleted (a clinic
has appointments, schedules and history); a deactivated clinic offers no slots and keeps
its records."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import func, select

from data.local_facts import refresh_local_facts
from data.models import Clinic, Schedule
from data.vocabulary import MAX_NAME_LENGTH
from domain.actor import Actor
from domain.admin import affected as aff
from domain.admin._common import (
    authorize,
    changes,
    get_clinic,
    get_organization_row,
    lock_practitioners,
    record,
)
from domain.admin.errors import INACTIVE, INVALID_TEXT, NAME_TAKEN, NO_CHANGE, AdminError
from domain.admin.results import AdminResult
from domain.admin.rules import check_timezone
from domain.availability import invalidate_organization
from domain.context import AppContext
from domain.text import TextError, clean_text

MAX_ADDRESS_LENGTH = 500


def _clean(name: object, address: object) -> tuple[str, str | None]:
    try:
        clean_name = clean_text(
            name if isinstance(name, str) or name is None else str(name),
            field="name",
            max_length=MAX_NAME_LENGTH,
            required=True,
        )
        clean_address = clean_text(
            address if isinstance(address, str) or address is None else str(address),
            field="address",
            max_length=MAX_ADDRESS_LENGTH,
            multiline=True,
        )
    except TextError as exc:
        raise AdminError(INVALID_TEXT, exc.message, exc.field) from exc
    return clean_name or "", clean_address.strip() if clean_address else None


def _check_name_free(s: Any, organization_id: int, name: str, clinic_id: int | None) -> None:
    stmt = select(Clinic.id).where(
        Clinic.organization_id == organization_id, func.lower(Clinic.name) == name.lower()
    )
    if clinic_id is not None:
        stmt = stmt.where(Clinic.id != clinic_id)
    if s.scalar(stmt) is not None:
        raise AdminError(NAME_TAKEN, f"There is already a clinic named {name!r}.", "name")


def _state(c: Clinic) -> dict[str, Any]:
    return {"name": c.name, "timezone": c.timezone, "address": c.address, "active": c.active}


def create_clinic(
    ctx: AppContext,
    actor: Actor,
    organization_id: int,
    *,
    name: str | None,
    timezone: str | None,
    address: str | None = None,
) -> AdminResult:
    """A new, active clinic. It offers slots once practitioners are assigned to it and
    have weekly blocks there."""
    authorize(actor, organization_id)
    clean_name, clean_address = _clean(name, address)
    zone = check_timezone(timezone)
    with ctx.db.transaction() as s:
        get_organization_row(s, organization_id)
        _check_name_free(s, organization_id, clean_name, None)
        clinic = Clinic(
            organization_id=organization_id,
            name=clean_name,
            timezone=zone,
            address=clean_address,
            active=True,
        )
        s.add(clinic)
        s.flush()
        record(
            s,
            actor,
            organization_id,
            "CLINIC_CREATED",
            {"clinic_id": clinic.id, **_state(clinic)},
            ctx.clock(),
        )
        clinic_id = clinic.id
    invalidate_organization(ctx, organization_id)
    return AdminResult(clinic_id, f"Clinic {clean_name} created.")


def update_clinic(
    ctx: AppContext,
    actor: Actor,
    organization_id: int,
    clinic_id: int,
    *,
    name: str | None,
    timezone: str | None,
    address: str | None,
    confirmed_appointment_ids: Collection[int] = (),
) -> AdminResult:
    """Rename, re-address or move a clinic to another time zone. A time-zone change moves
    every weekly block's hours in real time (blocks are wall-clock hours), so upcoming
    bookings that would fall outside the new hours are listed and need confirmation."""
    authorize(actor, organization_id)
    clean_name, clean_address = _clean(name, address)
    zone = check_timezone(timezone)
    now = ctx.clock()
    with ctx.db.transaction(write_lock=True) as s:
        clinic = get_clinic(s, organization_id, clinic_id)
        before = _state(clinic)
        _check_name_free(s, organization_id, clean_name, clinic.id)
        stranded: list[aff.AffectedAppointment] = []
        if zone != clinic.timezone:
            pids = s.scalars(
                select(Schedule.practitioner_id).where(Schedule.clinic_id == clinic.id).distinct()
            ).all()
            lock_practitioners(s, organization_id, pids)
            appts = aff.upcoming(s, organization_id, now, clinic_id=clinic.id)
            was = aff.covered(s, organization_id, appts)
            clinic.timezone = zone
            now_covered = aff.covered(s, organization_id, appts)
            stranded = [a for a in appts if a.id in was and a.id not in now_covered]
            aff.confirm_or_refuse(
                stranded,
                confirmed_appointment_ids,
                f"Moving {clinic.name} to {zone} shifts its schedules in real time: "
                f"{aff.count_text(len(stranded))} would fall outside the new hours. "
                "Confirm to change the time zone anyway; the appointments are kept and "
                "listed for rescheduling.",
            )
            # Every appointment's stored clinic-local date and hour follow the new zone
            # (past ones too: the statistics read them).
            s.flush()
            refresh_local_facts(s.connection(), clinic.id)
        clinic.name, clinic.address = clean_name, clean_address
        after = _state(clinic)
        diff = changes(before, after)
        if not diff:
            raise AdminError(NO_CHANGE, "Nothing was changed.")
        payload: dict[str, Any] = {"clinic_id": clinic.id, "name": clean_name, "changes": diff}
        if stranded:
            payload["outside_schedule"] = aff.recorded(stranded)
        record(
            s,
            actor,
            organization_id,
            "CLINIC_CHANGED",
            payload,
            now,
            to_reschedule=stranded,
            subject=f"{clean_name} moved to {zone}; outside the new hours",
        )
    invalidate_organization(ctx, organization_id)
    return AdminResult(
        clinic_id,
        f"Clinic {clean_name} saved.",
        stranded,
        [aff.outside_note(len(stranded))] if stranded else [],
    )


def set_clinic_active(
    ctx: AppContext,
    actor: Actor,
    organization_id: int,
    clinic_id: int,
    active: bool,
    *,
    confirmed_appointment_ids: Collection[int] = (),
) -> AdminResult:
    """Deactivate (no slots offered there any more; every upcoming booking there is
    listed and needs confirmation, and none is cancelled) or reactivate a clinic."""
    authorize(actor, organization_id)
    now = ctx.clock()
    with ctx.db.transaction(write_lock=True) as s:
        clinic = get_clinic(s, organization_id, clinic_id)
        if clinic.active == active:
            state = "active" if active else "inactive"
            raise AdminError(INACTIVE, f"{clinic.name} is already {state}.")
        listed: list[aff.AffectedAppointment] = []
        if not active:
            pids = s.scalars(
                select(Schedule.practitioner_id).where(Schedule.clinic_id == clinic.id).distinct()
            ).all()
            lock_practitioners(s, organization_id, pids)
            listed = aff.upcoming(s, organization_id, now, clinic_id=clinic.id)
            aff.confirm_or_refuse(
                listed,
                confirmed_appointment_ids,
                f"{clinic.name} has {aff.count_text(len(listed))}. Deactivating it stops new "
                "bookings there but keeps these; confirm, then reschedule or cancel them.",
            )
        clinic.active = active
        payload: dict[str, Any] = {"clinic_id": clinic.id, "name": clinic.name}
        if listed:
            payload["upcoming_appointments"] = aff.recorded(listed)
        record(
            s,
            actor,
            organization_id,
            "CLINIC_REACTIVATED" if active else "CLINIC_DEACTIVATED",
            payload,
            now,
            to_reschedule=listed,
            subject=f"{clinic.name} was deactivated; still booked there",
        )
        name = clinic.name
    invalidate_organization(ctx, organization_id)
    if active:
        return AdminResult(clinic_id, f"{name} is active again: its schedules offer slots.")
    return AdminResult(
        clinic_id,
        f"{name} is deactivated: it offers no more slots.",
        listed,
        [
            aff.counted(
                len(listed),
                "remains booked there: reschedule or cancel it.",
                "remain booked there: reschedule or cancel them.",
            )
        ]
        if listed
        else [],
    )
