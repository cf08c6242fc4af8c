"""Read side of the administration pages: exactly the rows each page shows.

Organization-scoped like every service: ids of another organization are simply absent.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from data.models import (
    Appointment,
    AppointmentType,
    Clinic,
    ClinicAssignment,
    Organization,
    Practitioner,
    Schedule,
    ScheduleException,
)
from domain.admin.affected import UPCOMING_STATUSES, colliding
from domain.admin.exceptions import describe
from domain.admin.rules import remainder_statement, uncovered_day
from domain.admin.schedules import shape_of
from domain.context import AppContext


@dataclass(frozen=True)
class ClinicRow:
    id: int
    name: str
    timezone: str
    address: str | None
    active: bool
    practitioners: int  # assigned today
    upcoming: int  # upcoming appointments there


@dataclass(frozen=True)
class AssignmentRow:
    id: int
    practitioner_id: int
    clinic_id: int
    clinic_name: str
    active_from: date
    active_to: date | None

    def current(self, today: date) -> bool:
        return self.active_from <= today and (self.active_to is None or today <= self.active_to)


@dataclass(frozen=True)
class PractitionerRow:
    id: int
    name: str
    specialty: str
    active: bool
    upcoming: int
    assignments: list[AssignmentRow] = field(default_factory=list)


@dataclass(frozen=True)
class BlockRow:
    """A weekly block with the names a page shows."""

    id: int
    practitioner_id: int
    practitioner_name: str
    clinic_id: int
    clinic_name: str
    timezone: str
    weekday: int
    start: time
    end: time
    slot_minutes: int
    capacity: int
    appointment_type_id: int | None
    appointment_type: str | None
    valid_from: date
    valid_to: date | None
    # The first date of its validity no assignment covers (None: fully covered); the
    # engine offers nothing on such dates.
    unassigned_from: date | None
    remainder: str | None

    def applies_on(self, day: date) -> bool:
        return (
            day.weekday() == self.weekday
            and self.valid_from <= day
            and (self.valid_to is None or day <= self.valid_to)
        )

    def ended(self, today: date) -> bool:
        return self.valid_to is not None and self.valid_to < today


@dataclass(frozen=True)
class Option:
    value: int
    label: str
    active: bool = True


@dataclass(frozen=True)
class ExceptionRow:
    id: int
    reason: str
    label: str
    practitioner_id: int | None
    clinic_id: int | None
    start: datetime
    end: datetime
    timezone: str
    note: str | None
    colliding: int


@dataclass(frozen=True)
class WeekPlan:
    """What a week grid draws: each day's blocks and the exceptions touching it."""

    days: list[date]
    blocks: dict[date, list[BlockRow]]
    exceptions: dict[date, list[tuple[ExceptionRow, time, time | None]]]  # (row, from, to)


# --------------------------------------------------------------------------- options


def practitioner_options(ctx: AppContext, organization_id: int) -> list[Option]:
    with ctx.db.read() as s:
        rows = s.execute(
            select(Practitioner.id, Practitioner.name, Practitioner.specialty, Practitioner.active)
            .where(
                Practitioner.organization_id == organization_id,
                Practitioner.is_placeholder.is_(False),
            )
            .order_by(Practitioner.active.desc(), Practitioner.name, Practitioner.id)
        ).all()
    return [
        Option(pid, f"{name} · {spec}" + ("" if active else " (inactive)"), bool(active))
        for pid, name, spec, active in rows
    ]


def clinic_options(ctx: AppContext, organization_id: int) -> list[Option]:
    with ctx.db.read() as s:
        rows = s.execute(
            select(Clinic.id, Clinic.name, Clinic.active)
            .where(Clinic.organization_id == organization_id)
            .order_by(Clinic.active.desc(), Clinic.name, Clinic.id)
        ).all()
    return [
        Option(cid, name + ("" if active else " (inactive)"), bool(active))
        for cid, name, active in rows
    ]


def appointment_type_options(ctx: AppContext, organization_id: int) -> list[Option]:
    with ctx.db.read() as s:
        rows = s.execute(
            select(AppointmentType.id, AppointmentType.name, AppointmentType.active)
            .where(AppointmentType.organization_id == organization_id)
            .order_by(AppointmentType.name)
        ).all()
    return [Option(tid, name, bool(active)) for tid, name, active in rows if active]


# --------------------------------------------------------------------------- lists


def _upcoming_counts(s, organization_id: int, column, now: datetime) -> dict[int, int]:  # type: ignore[no-untyped-def]
    rows = s.execute(
        select(column, func.count())
        .where(
            Appointment.organization_id == organization_id,
            Appointment.status.in_(UPCOMING_STATUSES),
            Appointment.end_at > now,
        )
        .group_by(column)
    )
    return {int(k): int(n) for k, n in rows}


def list_clinic_rows(ctx: AppContext, organization_id: int) -> list[ClinicRow]:
    now = ctx.clock()
    with ctx.db.read() as s:
        clinics = s.scalars(
            select(Clinic)
            .where(Clinic.organization_id == organization_id)
            .order_by(Clinic.active.desc(), Clinic.name)
        ).all()
        upcoming = _upcoming_counts(s, organization_id, Appointment.clinic_id, now)
        assigned: dict[int, set[int]] = defaultdict(set)
        for cid, pid, first, last, tz in s.execute(
            select(
                ClinicAssignment.clinic_id,
                ClinicAssignment.practitioner_id,
                ClinicAssignment.active_from,
                ClinicAssignment.active_to,
                Clinic.timezone,
            )
            .join(Clinic, Clinic.id == ClinicAssignment.clinic_id)
            .join(Practitioner, Practitioner.id == ClinicAssignment.practitioner_id)
            .where(Clinic.organization_id == organization_id, Practitioner.active.is_(True))
        ):
            today = now.astimezone(ZoneInfo(tz)).date()
            if first <= today and (last is None or today <= last):
                assigned[cid].add(pid)
        return [
            ClinicRow(
                c.id,
                c.name,
                c.timezone,
                c.address,
                c.active,
                len(assigned.get(c.id, ())),
                upcoming.get(c.id, 0),
            )
            for c in clinics
        ]


def list_practitioner_rows(ctx: AppContext, organization_id: int) -> list[PractitionerRow]:
    now = ctx.clock()
    with ctx.db.read() as s:
        pracs = s.scalars(
            select(Practitioner)
            .where(
                Practitioner.organization_id == organization_id,
                Practitioner.is_placeholder.is_(False),
            )
            .order_by(Practitioner.active.desc(), Practitioner.name, Practitioner.id)
        ).all()
        upcoming = _upcoming_counts(s, organization_id, Appointment.practitioner_id, now)
        by_prac: dict[int, list[AssignmentRow]] = defaultdict(list)
        for a, clinic_name in s.execute(
            select(ClinicAssignment, Clinic.name)
            .join(Clinic, Clinic.id == ClinicAssignment.clinic_id)
            .where(Clinic.organization_id == organization_id)
            .order_by(ClinicAssignment.active_from, Clinic.name)
        ):
            by_prac[a.practitioner_id].append(
                AssignmentRow(
                    a.id, a.practitioner_id, a.clinic_id, clinic_name, a.active_from, a.active_to
                )
            )
        return [
            PractitionerRow(
                p.id, p.name, p.specialty, p.active, upcoming.get(p.id, 0), by_prac.get(p.id, [])
            )
            for p in pracs
        ]


def list_blocks(
    ctx: AppContext,
    organization_id: int,
    *,
    practitioner_id: int | None = None,
    clinic_id: int | None = None,
    include_ended: bool = False,
) -> list[BlockRow]:
    """Weekly blocks of a practitioner and/or a clinic, by weekday and start time;
    blocks that ended before today are left out unless asked for."""
    now = ctx.clock()
    with ctx.db.read() as s:
        stmt = (
            select(Schedule, Practitioner.name, Clinic.name, Clinic.timezone, AppointmentType.name)
            .join(Practitioner, Practitioner.id == Schedule.practitioner_id)
            .join(Clinic, Clinic.id == Schedule.clinic_id)
            .outerjoin(AppointmentType, AppointmentType.id == Schedule.appointment_type_id)
            .where(Practitioner.organization_id == organization_id)
            .order_by(Schedule.weekday, Schedule.start_time, Practitioner.name, Schedule.id)
        )
        if practitioner_id is not None:
            stmt = stmt.where(Schedule.practitioner_id == practitioner_id)
        if clinic_id is not None:
            stmt = stmt.where(Schedule.clinic_id == clinic_id)
        rows = s.execute(stmt).all()
        pairs = {(r[0].practitioner_id, r[0].clinic_id) for r in rows}
        periods: dict[tuple[int, int], list[tuple[date, date | None]]] = defaultdict(list)
        if pairs:
            pids = sorted({p for p, _ in pairs})
            for pid, cid, first, last in s.execute(
                select(
                    ClinicAssignment.practitioner_id,
                    ClinicAssignment.clinic_id,
                    ClinicAssignment.active_from,
                    ClinicAssignment.active_to,
                ).where(ClinicAssignment.practitioner_id.in_(pids))
            ):
                periods[(pid, cid)].append((first, last))
        s.expunge_all()  # read after the session ends
    out = []
    for row, pname, cname, tz, tname in rows:
        today = now.astimezone(ZoneInfo(tz)).date()
        if not include_ended and row.valid_to is not None and row.valid_to < today:
            continue
        shape = shape_of(row)
        out.append(
            BlockRow(
                row.id,
                row.practitioner_id,
                pname,
                row.clinic_id,
                cname,
                tz,
                row.weekday,
                row.start_time,
                row.end_time,
                row.slot_minutes,
                row.capacity,
                row.appointment_type_id,
                tname,
                row.valid_from,
                row.valid_to,
                uncovered_day(
                    periods.get((row.practitioner_id, row.clinic_id), []),
                    max(row.valid_from, today),
                    row.valid_to,
                )
                if row.valid_to is None or row.valid_to >= today
                else None,
                remainder_statement(shape),
            )
        )
    return out


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def week_plan(
    ctx: AppContext,
    organization_id: int,
    monday: date,
    *,
    practitioner_id: int | None = None,
    clinic_id: int | None = None,
) -> WeekPlan:
    """The blocks that apply on each date of the week starting ``monday`` (and are
    covered by an assignment that day), with the exceptions touching each date."""
    days = [monday + timedelta(days=k) for k in range(7)]
    blocks = list_blocks(
        ctx,
        organization_id,
        practitioner_id=practitioner_id,
        clinic_id=clinic_id,
        include_ended=True,
    )
    per_day: dict[date, list[BlockRow]] = {d: [] for d in days}
    for b in blocks:
        for d in days:
            if b.applies_on(d) and not _unassigned_on(b, d):
                per_day[d].append(b)
    exceptions = list_exceptions(
        ctx,
        organization_id,
        start=days[0] - timedelta(days=1),
        end=days[-1] + timedelta(days=2),
        practitioner_id=practitioner_id,
        clinic_id=clinic_id,
        with_collisions=False,
    )
    per_day_exc: dict[date, list[tuple[ExceptionRow, time, time | None]]] = {d: [] for d in days}
    for e in exceptions:
        tz = ZoneInfo(e.timezone)
        s_local, e_local = e.start.astimezone(tz), e.end.astimezone(tz)
        for d in days:
            day_lo = datetime.combine(d, time(0), tz)
            day_hi = datetime.combine(d + timedelta(days=1), time(0), tz)
            if s_local < day_hi and e_local > day_lo:
                frm = s_local.time() if s_local > day_lo else time(0)
                to = e_local.time() if e_local < day_hi else None
                per_day_exc[d].append((e, frm, to))
    return WeekPlan(days, per_day, per_day_exc)


def _unassigned_on(block: BlockRow, day: date) -> bool:
    return block.unassigned_from is not None and day >= block.unassigned_from


def list_exceptions(
    ctx: AppContext,
    organization_id: int,
    *,
    start: date | None = None,
    end: date | None = None,
    practitioner_id: int | None = None,
    clinic_id: int | None = None,
    with_collisions: bool = True,
) -> list[ExceptionRow]:
    """Exceptions overlapping the dates [start, end) (default: from today on), those of
    one practitioner (their leave and every closure or holiday that applies to them) or
    one clinic; with the number of upcoming appointments each collides with."""
    now = ctx.clock()
    with ctx.db.read() as s:
        org = s.get(Organization, organization_id)
        org_zone = org.timezone if org else "UTC"
        lo = (
            datetime.combine(start, time(0), ZoneInfo(org_zone)) - timedelta(days=1)
            if start
            else now - timedelta(days=1)
        )
        stmt = (
            select(ScheduleException, Practitioner.name, Clinic.name, Clinic.timezone)
            .outerjoin(Practitioner, Practitioner.id == ScheduleException.practitioner_id)
            .outerjoin(Clinic, Clinic.id == ScheduleException.clinic_id)
            .where(
                ScheduleException.organization_id == organization_id, ScheduleException.end_at > lo
            )
            .order_by(ScheduleException.start_at, ScheduleException.id)
        )
        if end is not None:
            hi = datetime.combine(end, time(0), ZoneInfo(org_zone)) + timedelta(days=1)
            stmt = stmt.where(ScheduleException.start_at < hi)
        if practitioner_id is not None:
            clinics_of = select(ClinicAssignment.clinic_id).where(
                ClinicAssignment.practitioner_id == practitioner_id
            )
            stmt = stmt.where(
                (ScheduleException.practitioner_id == practitioner_id)
                | (
                    ScheduleException.practitioner_id.is_(None)
                    & (
                        ScheduleException.clinic_id.is_(None)
                        | ScheduleException.clinic_id.in_(clinics_of)
                    )
                )
            )
        if clinic_id is not None:
            stmt = stmt.where(
                ScheduleException.clinic_id.is_(None) | (ScheduleException.clinic_id == clinic_id)
            )
        rows = s.execute(stmt).all()
        zones_of = _practitioner_zones(s, organization_id)
        out = []
        for e, pname, cname, ctz in rows:
            if start is None and e.end_at <= now:
                continue
            zone = ctz or _whole_day_zone(
                e.start_at, e.end_at, zones_of.get(e.practitioner_id or 0, set()), org_zone
            )
            n = 0
            if with_collisions:
                n = len(
                    colliding(
                        s,
                        organization_id,
                        now,
                        start=e.start_at,
                        end=e.end_at,
                        practitioner_id=e.practitioner_id,
                        clinic_id=e.clinic_id,
                    )
                )
            out.append(
                ExceptionRow(
                    e.id,
                    e.reason,
                    describe(e.reason, pname, cname),
                    e.practitioner_id,
                    e.clinic_id,
                    e.start_at,
                    e.end_at,
                    zone,
                    e.note,
                    n,
                )
            )
        return out


def _practitioner_zones(s, organization_id: int) -> dict[int, set[str]]:  # type: ignore[no-untyped-def]
    """The zones of each practitioner's clinics."""
    zones: dict[int, set[str]] = defaultdict(set)
    for pid, tz in s.execute(
        select(ClinicAssignment.practitioner_id, Clinic.timezone)
        .join(Clinic, Clinic.id == ClinicAssignment.clinic_id)
        .where(Clinic.organization_id == organization_id, Clinic.active.is_(True))
    ):
        zones[pid].add(tz)
    return zones


def _whole_day_zone(start: datetime, end: datetime, zones: set[str], default: str) -> str:
    """The zone to show a practitioner's exception in: theirs when they have one; else,
    of their clinics' zones (and the organization's), the one on whose clock it runs
    from midnight to midnight, so whole days read as whole days."""
    if len(zones) == 1:
        return next(iter(zones))
    for name in [default, *sorted(zones)]:
        tz = ZoneInfo(name)
        if start.astimezone(tz).time() == time(0) and end.astimezone(tz).time() == time(0):
            return name
    return default
