"""What an organization offers, for the pickers of the booking, availability and calendar
pages: specialties, practitioners, the clinics each one works at, appointment types.

Read from the organization's cached directory (``domain.availability.get_directory``), so
a page's dropdowns cost no query while nothing changes, and an administrator's change
(which invalidates the directory) shows up at once. Only what can be booked is listed:
active practitioners with a schedule, active clinics, active appointment types.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from domain.availability import Directory, get_directory
from domain.context import AppContext
from domain.slots import local_date, to_ts


@dataclass(frozen=True)
class ClinicOption:
    id: int
    name: str
    timezone: str


@dataclass(frozen=True)
class PractitionerOption:
    id: int
    name: str
    specialty: str
    # Active clinics with a schedule block of theirs still in force (by name).
    clinic_ids: tuple[int, ...]


@dataclass(frozen=True)
class AppointmentTypeOption:
    id: int
    name: str
    default_minutes: int
    is_group: bool


def _clinics_of(directory: Directory, practitioner_id: int, first: date, last: date) -> list[int]:
    """Active clinics where the practitioner has a block in force on some day between
    ``first`` and ``last``, by clinic name."""
    out = {
        block.clinic_id
        for block in directory.blocks.get(practitioner_id, ())
        if block.clinic_id in directory.zones
        and (block.valid_from is None or block.valid_from <= last)
        and (block.valid_to is None or block.valid_to >= first)
    }
    return sorted(out, key=lambda cid: (directory.clinics[cid][0], cid))


def _today(ctx: AppContext, directory: Directory) -> date:
    return local_date(directory.timezone, to_ts(ctx.clock()))


def list_clinics(ctx: AppContext, organization_id: int) -> list[ClinicOption]:
    """Active clinics, by name."""
    directory = get_directory(ctx, organization_id)
    clinics = directory.clinics.items()
    return sorted(
        (ClinicOption(cid, name, tz) for cid, (name, tz, active) in clinics if active),
        key=lambda c: (c.name, c.id),
    )


def list_specialties(ctx: AppContext, organization_id: int) -> list[str]:
    """The specialties of the practitioners that can be booked, alphabetically."""
    return sorted({p.specialty for p in list_practitioners(ctx, organization_id)})


def list_practitioners(
    ctx: AppContext,
    organization_id: int,
    *,
    specialty: str | None = None,
    clinic_id: int | None = None,
    today: date | None = None,
) -> list[PractitionerOption]:
    """Active practitioners with a schedule at an active clinic that has not ended before
    ``today`` (default: the organization's today), optionally of one specialty or
    working at one clinic; by name."""
    directory = get_directory(ctx, organization_id)
    first = today or _today(ctx, directory)
    out = []
    for pid, (name, spec, active) in directory.practitioners.items():
        if not active or (specialty is not None and spec != specialty):
            continue
        clinics = tuple(_clinics_of(directory, pid, first, date.max))
        if not clinics or (clinic_id is not None and clinic_id not in clinics):
            continue
        out.append(PractitionerOption(pid, name, spec, clinics))
    out.sort(key=lambda p: (p.name, p.id))
    return out


def practitioner_clinics(
    ctx: AppContext, organization_id: int, practitioner_id: int, on: date | None = None
) -> list[ClinicOption]:
    """The active clinics a practitioner works at: with a block in force on ``on``, or
    (``on`` None) with a block that has not ended before the organization's today.
    An unknown practitioner (or one of another organization) works nowhere."""
    directory = get_directory(ctx, organization_id)
    info = directory.practitioners.get(practitioner_id)
    if info is None or not info[2]:
        return []
    first, last = (on, on) if on is not None else (_today(ctx, directory), date.max)
    return [
        ClinicOption(cid, directory.clinics[cid][0], directory.clinics[cid][1])
        for cid in _clinics_of(directory, practitioner_id, first, last)
    ]


def list_appointment_types(ctx: AppContext, organization_id: int) -> list[AppointmentTypeOption]:
    """Active appointment types, by name."""
    directory = get_directory(ctx, organization_id)
    return sorted(
        (
            AppointmentTypeOption(tid, name, minutes, is_group)
            for tid, (name, minutes, is_group, active) in directory.appointment_types.items()
            if active
        ),
        key=lambda t: (t.name, t.id),
    )
