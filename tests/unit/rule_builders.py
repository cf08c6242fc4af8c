"""Builders for pure rule tests: a practitioner's day in a few readable lines."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from domain.booking_rules import (
    BookingRequest,
    BookingWindow,
    Names,
    OrgRules,
    PractitionerDay,
    Violation,
    check_booking,
)
from domain.slots import Booking, ScheduleBlock, ScheduleException, to_ts

NY = "America/New_York"
PHOENIX = "America/Phoenix"
MONDAY = date(2026, 3, 16)
# Far enough before every test day that past, notice and horizon never get in the way
# unless a test moves it.
EARLY = datetime(2026, 1, 5, 12, 0, tzinfo=ZoneInfo("UTC"))
PRACTITIONER = 1
CLINIC = 1
NAMES = Names(
    practitioners={1: "Dr. Ana Lee", 2: "Dr. Ben Okafor"},
    clinics={1: "Harbor Main Clinic", 2: "Downtown Clinic"},
    appointment_types={1: "Follow-up", 2: "Group therapy", 3: "Procedure"},
)


def at(day: date, hh: int, mm: int = 0, tz: str = NY) -> datetime:
    return datetime.combine(day, time(hh, mm), ZoneInfo(tz))


def ts(day: date, hh: int, mm: int = 0, tz: str = NY) -> int:
    return to_ts(at(day, hh, mm, tz))


def block(
    day: date = MONDAY,
    start: tuple[int, int] = (9, 0),
    end: tuple[int, int] = (17, 0),
    minutes: int = 30,
    capacity: int = 1,
    *,
    id: int = 1,
    practitioner_id: int = PRACTITIONER,
    clinic_id: int = CLINIC,
    appointment_type_id: int | None = None,
    valid_from: date | None = None,
    valid_to: date | None = None,
) -> ScheduleBlock:
    return ScheduleBlock(
        id,
        practitioner_id,
        clinic_id,
        day.weekday(),
        time(*start),
        time(*end),
        minutes,
        capacity,
        appointment_type_id,
        valid_from,
        valid_to,
    )


_ids = iter(range(1000, 10**9))


def booking(
    start: datetime,
    minutes: int = 30,
    status: str = "booked",
    *,
    id: int | None = None,
    practitioner_id: int = PRACTITIONER,
    clinic_id: int = CLINIC,
) -> Booking:
    s = to_ts(start)
    return Booking(
        id if id is not None else next(_ids),
        practitioner_id,
        clinic_id,
        s,
        s + minutes * 60,
        status,
    )


def leave(
    start: datetime,
    end: datetime,
    *,
    practitioner_id: int | None = PRACTITIONER,
    clinic_id: int | None = None,
    reason: str = "leave",
    note: str | None = None,
    id: int = 77,
) -> ScheduleException:
    return ScheduleException(id, practitioner_id, clinic_id, to_ts(start), to_ts(end), reason, note)


def plan(
    blocks: Sequence[ScheduleBlock],
    bookings: Sequence[Booking] = (),
    exceptions: Sequence[ScheduleException] = (),
    *,
    day: date = MONDAY,
    buffer: int = 0,
    notice: int = 0,
    horizon: int = 365,
    zones: dict[int, str] | None = None,
    exclude: int | None = None,
) -> PractitionerDay:
    return PractitionerDay(
        PRACTITIONER,
        day,
        blocks,
        zones or {1: NY, 2: NY},
        exceptions,
        bookings,
        OrgRules(buffer, notice, horizon),
        exclude_appointment_id=exclude,
        names=NAMES,
    )


def offers(
    day_plan: PractitionerDay,
    clinic: int = CLINIC,
    *,
    now: datetime = EARLY,
    duration: int | None = None,
    appointment_type_id: int | None = None,
) -> list[tuple[int, int, int, int, int | None, int]]:
    """What availability offers now: the rule's offers cut by past/notice/horizon."""
    window = BookingWindow(now, day_plan.rules)
    tz = day_plan.clinic_zones[clinic]
    return [
        o
        for o in day_plan.open_slots(clinic, duration, appointment_type_id)
        if window.allows(o[0], tz)
    ]


def offered_times(day_plan: PractitionerDay, clinic: int = CLINIC, **kw: object) -> list[str]:
    tz = day_plan.clinic_zones[clinic]
    return [
        datetime.fromtimestamp(o[0], ZoneInfo(tz)).strftime("%H:%M")
        for o in offers(day_plan, clinic, **kw)  # type: ignore[arg-type]
    ]


def request(
    start: datetime,
    minutes: int = 30,
    *,
    clinic_id: int = CLINIC,
    appointment_type_id: int | None = 1,
    exclude: int | None = None,
) -> BookingRequest:
    return BookingRequest(PRACTITIONER, clinic_id, start, minutes, appointment_type_id, exclude)


def check(
    day_plan: PractitionerDay,
    start: datetime,
    minutes: int = 30,
    *,
    now: datetime = EARLY,
    **kw: Any,
) -> Violation | None:
    return check_booking(day_plan, request(start, minutes, **kw), now)


def later(day: date, days: int) -> date:
    return day + timedelta(days=days)
