"""Pure rules of schedule administration: no database, no Dash.

- a weekly block's shape (weekday, hours, slot length, capacity, validity) and the
  statement of minutes left over when the slot length does not divide the block;
- whether two weekly blocks of one practitioner ever run at the same instant, also when
  their clinics are in different time zones (compared in UTC, date by date, so DST is
  respected);
- whether assignment periods cover a block's validity;
- clinic-local date/time ranges of exceptions as UTC instants;
- organization setting ranges.

Each refusal is an ``AdminError`` with a stable code and the form field it concerns.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from domain.admin.errors import (
    END_NOT_AFTER_START,
    INVALID_CAPACITY,
    INVALID_DATE,
    INVALID_PERIOD,
    INVALID_SETTING,
    INVALID_SLOT_LENGTH,
    INVALID_TIME,
    INVALID_WEEKDAY,
    PERIOD_IN_PAST,
    RANGE_TOO_LONG,
    SLOT_LONGER_THAN_BLOCK,
    SLOT_REMAINDER,
    UNKNOWN_TIMEZONE,
    AdminError,
)
from domain.slots import first_instant_at_or_after, seconds_of_day

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MIN_SLOT_MINUTES = 5
MAX_SLOT_MINUTES = 12 * 60
MAX_CAPACITY = 100
MAX_BUFFER_MINUTES = 240  # the organizations CHECK constraint
MAX_NOTICE_MINUTES = 30 * 24 * 60
MAX_HORIZON_DAYS = 3 * 366
MAX_EXCEPTION_DAYS = 366
# DST rules repeat yearly: comparing two open-ended blocks over a little more than a year
# meets every combination of their zones' offsets.
_OVERLAP_SCAN_DAYS = 400


def weekday_name(weekday: int) -> str:
    return WEEKDAYS[weekday]


def hhmm(t: time) -> str:
    return t.strftime("%H:%M")


def minutes_text(n: int) -> str:
    """'45 minutes', '1 hour', '2 h 30 min'."""
    hours, minutes = divmod(n, 60)
    if not hours:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    if not minutes:
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return f"{hours} h {minutes} min"


def day_text(d: date) -> str:
    return d.strftime("%a %d %b %Y")


# --------------------------------------------------------------------------- parsing


def parse_weekday(value: object) -> int:
    """0-6 (Monday = 0) or a day's name or its first three letters, any case."""
    if isinstance(value, bool):
        value = None
    if isinstance(value, int) and 0 <= value <= 6:
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        if text.isdigit() and 0 <= int(text) <= 6:
            return int(text)
        for i, name in enumerate(WEEKDAYS):
            if text in (name.lower(), name[:3].lower()):
                return i
    raise AdminError(
        INVALID_WEEKDAY,
        "Choose a weekday: Monday to Sunday (or 0 = Monday ... 6 = Sunday).",
        "weekday",
    )


def parse_time(value: object, field: str, label: str) -> time:
    """A wall-clock time: a ``time`` or 'HH:MM' (24-hour)."""
    if isinstance(value, time):
        return value.replace(second=0, microsecond=0, tzinfo=None)
    if isinstance(value, str):
        text = value.strip()
        parts = text.split(":")
        if len(parts) == 2 and all(p.isdigit() for p in parts) and len(parts[1]) == 2:
            hour, minute = int(parts[0]), int(parts[1])
            if 0 <= hour <= 23 and 0 <= minute <= 59:
                return time(hour, minute)
            if hour == 24 and minute == 0:
                raise AdminError(
                    INVALID_TIME, f"{label} 24:00 is not supported; use 23:59 at the latest.", field
                )
    raise AdminError(INVALID_TIME, f"Enter the {label.lower()} as HH:MM, e.g. 09:00.", field)


def parse_date(value: object, field: str, label: str, *, required: bool = True) -> date | None:
    """A ``date`` or 'YYYY-MM-DD'; None/'' when not required."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise AdminError(INVALID_DATE, f"{label} is required.", field)
        return None
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip()[:10])
        except ValueError:
            pass
    raise AdminError(INVALID_DATE, f"Enter {label.lower()} as a date, e.g. 2026-04-01.", field)


def parse_int(value: object, field: str, label: str) -> int:
    if isinstance(value, bool):
        value = None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    code = {"slot_minutes": INVALID_SLOT_LENGTH, "capacity": INVALID_CAPACITY}.get(
        field, INVALID_SETTING
    )
    raise AdminError(code, f"{label} must be a whole number.", field)


def check_timezone(value: object) -> str:
    """An IANA zone name (America/New_York); refuses abbreviations and unknown names."""
    name = value.strip() if isinstance(value, str) else ""
    if name and "/" in name and name in _zones():
        try:
            ZoneInfo(name)
            return name
        except (ZoneInfoNotFoundError, ValueError):
            pass
    if name == "UTC":
        return name
    shown = name or "(empty)"
    raise AdminError(
        UNKNOWN_TIMEZONE,
        f"Unknown time zone {shown!r}: use a name such as America/New_York or Europe/Lisbon.",
        "timezone",
    )


_ZONES: frozenset[str] | None = None


def _zones() -> frozenset[str]:
    global _ZONES
    if _ZONES is None:
        _ZONES = frozenset(available_timezones())
    return _ZONES


def timezone_choices() -> list[str]:
    """Region/City zone names for a picker, sorted."""
    return sorted(
        z
        for z in _zones()
        if "/" in z and not z.startswith(("Etc/", "SystemV/", "US/", "posix/", "right/"))
    )


# --------------------------------------------------------------------------- blocks


@dataclass(frozen=True)
class BlockShape:
    """A weekly block as entered: the clinic's wall clock, validity in local dates."""

    practitioner_id: int
    clinic_id: int
    weekday: int
    start: time
    end: time
    slot_minutes: int
    capacity: int
    valid_from: date
    valid_to: date | None
    appointment_type_id: int | None = None

    @property
    def minutes(self) -> int:
        return (seconds_of_day(self.end) - seconds_of_day(self.start)) // 60

    @property
    def remainder_minutes(self) -> int:
        return self.minutes % self.slot_minutes

    @property
    def slots(self) -> int:
        return self.minutes // self.slot_minutes

    def hours_text(self) -> str:
        return f"{weekday_name(self.weekday)} {hhmm(self.start)}–{hhmm(self.end)}"

    def validity_text(self) -> str:
        if self.valid_to is None:
            return f"from {day_text(self.valid_from)}"
        return f"{day_text(self.valid_from)} to {day_text(self.valid_to)}"

    def with_changes(self, **changes: object) -> BlockShape:
        return replace(self, **changes)  # type: ignore[arg-type]


def remainder_statement(shape: BlockShape) -> str | None:
    """What happens to minutes the slot length does not divide, or None when it does."""
    rest = shape.remainder_minutes
    if not rest:
        return None
    last_start = seconds_of_day(shape.start) // 60 + (shape.slots - 1) * shape.slot_minutes
    last_end = last_start + shape.slot_minutes
    return (
        f"{hhmm(shape.start)}–{hhmm(shape.end)} in {shape.slot_minutes}-minute slots makes "
        f"{shape.slots} slot{'s' if shape.slots != 1 else ''}; the last one ends at "
        f"{last_end // 60:02d}:{last_end % 60:02d}, so the final {minutes_text(rest)} "
        "stay unbooked."
    )


def check_block_shape(shape: BlockShape, today: date, *, accept_remainder: bool) -> str | None:
    """Refuse a malformed block (first problem found, in form order); return the
    remainder statement when the slot length leaves minutes over and that is accepted."""
    if not 0 <= shape.weekday <= 6:
        raise AdminError(INVALID_WEEKDAY, "Choose a weekday: Monday to Sunday.", "weekday")
    if shape.end <= shape.start:
        raise AdminError(
            END_NOT_AFTER_START,
            f"The block must end after it starts (it starts at {hhmm(shape.start)} and ends "
            f"at {hhmm(shape.end)}); blocks cannot run past midnight.",
            "end",
        )
    if not MIN_SLOT_MINUTES <= shape.slot_minutes <= MAX_SLOT_MINUTES:
        raise AdminError(
            INVALID_SLOT_LENGTH,
            f"The slot length must be {MIN_SLOT_MINUTES} to {MAX_SLOT_MINUTES} minutes.",
            "slot_minutes",
        )
    if shape.slot_minutes > shape.minutes:
        raise AdminError(
            SLOT_LONGER_THAN_BLOCK,
            f"A {shape.slot_minutes}-minute slot does not fit in {hhmm(shape.start)}–"
            f"{hhmm(shape.end)} ({minutes_text(shape.minutes)}): the block would offer nothing.",
            "slot_minutes",
        )
    if not 1 <= shape.capacity <= MAX_CAPACITY:
        raise AdminError(
            INVALID_CAPACITY,
            f"Capacity is the number of patients per slot: 1 to {MAX_CAPACITY}.",
            "capacity",
        )
    check_period(shape.valid_from, shape.valid_to, "valid_from", "valid_to", today)
    statement = remainder_statement(shape)
    if statement is not None and not accept_remainder:
        raise AdminError(
            SLOT_REMAINDER,
            f"{statement} Choose a slot length that divides {minutes_text(shape.minutes)}, "
            "or accept the unbooked minutes.",
            "slot_minutes",
            remainder_minutes=shape.remainder_minutes,
        )
    return statement


def check_period(
    first: date, last: date | None, first_field: str, last_field: str, today: date | None
) -> None:
    """A validity or assignment period: ends on or after it starts; not wholly past."""
    if last is not None and last < first:
        raise AdminError(
            INVALID_PERIOD,
            f"The period ends ({day_text(last)}) before it starts ({day_text(first)}).",
            last_field,
        )
    if today is not None and last is not None and last < today:
        raise AdminError(
            PERIOD_IN_PAST,
            f"The period ended on {day_text(last)}, before today: it would change nothing "
            "ahead, only the record of the past.",
            last_field,
        )


def periods_overlap(
    a_first: date, a_last: date | None, b_first: date, b_last: date | None
) -> tuple[date, date | None] | None:
    """The common part of two inclusive date periods (None = open end), or None."""
    first = max(a_first, b_first)
    lasts = [d for d in (a_last, b_last) if d is not None]
    last = min(lasts) if lasts else None
    if last is not None and last < first:
        return None
    return first, last


def first_weekday_on_or_after(d: date, weekday: int) -> date:
    return d + timedelta(days=(weekday - d.weekday()) % 7)


def first_clash(
    a: BlockShape, a_zone: str, b: BlockShape, b_zone: str, *, after: date | None = None
) -> date | None:
    """The first local date (of ``a``'s clinic) on which blocks ``a`` and ``b`` run at the
    same instant, or None. ``after``: only dates from then on (e.g. today) count."""
    window = periods_overlap(a.valid_from, a.valid_to, b.valid_from, b.valid_to)
    if window is None:
        # Different zones can still meet across midnight on neighbouring dates.
        if a_zone == b_zone:
            return None
        window = periods_overlap(
            a.valid_from,
            a.valid_to,
            b.valid_from - timedelta(days=1),
            None if b.valid_to is None else b.valid_to + timedelta(days=1),
        )
        if window is None:
            return None
    first, last = window
    if after is not None:
        first = max(first, after)
        if last is not None and last < first:
            return None
    if a_zone == b_zone:
        # Same clock: the same weekday with overlapping hours, on a date both cover.
        if a.weekday != b.weekday or not (a.start < b.end and b.start < a.end):
            return None
        day = first_weekday_on_or_after(first, a.weekday)
        return day if last is None or day <= last else None
    scan_last = first + timedelta(days=_OVERLAP_SCAN_DAYS)
    if last is not None:
        scan_last = min(scan_last, last)
    day = first_weekday_on_or_after(first, a.weekday)
    while day <= scan_last:
        a_lo, a_hi = _instants(a, a_zone, day)
        for shift in (-1, 0, 1):
            other = day + timedelta(days=shift)
            if other.weekday() != b.weekday or not _applies(b, other):
                continue
            b_lo, b_hi = _instants(b, b_zone, other)
            if a_lo < b_hi and b_lo < a_hi:
                return day
        day += timedelta(days=7)
    return None


def _applies(shape: BlockShape, day: date) -> bool:
    return shape.valid_from <= day and (shape.valid_to is None or day <= shape.valid_to)


def _instants(shape: BlockShape, zone: str, day: date) -> tuple[int, int]:
    return (
        first_instant_at_or_after(zone, day, seconds_of_day(shape.start)),
        first_instant_at_or_after(zone, day, seconds_of_day(shape.end)),
    )


def uncovered_day(
    periods: Iterable[tuple[date, date | None]], first: date, last: date | None
) -> date | None:
    """The first date of [first, last] (None = open end) that no period covers, or None
    when the periods cover all of it."""
    day = first
    for p_first, p_last in sorted(periods, key=lambda p: p[0]):
        if p_first > day:
            break
        if p_last is None:
            return None
        if p_last >= day:
            day = p_last + timedelta(days=1)
        if last is not None and day > last:
            return None
    if last is not None and day > last:
        return None
    return day


# --------------------------------------------------------------------------- exceptions


def local_range(
    zone_name: str,
    start_day: date,
    start_time: time | None,
    end_day: date,
    end_time: time | None,
) -> tuple[datetime, datetime]:
    """[start, end) in UTC of a clinic-local range. No start time: from the start of
    ``start_day``; no end time: to the end of ``end_day`` (whole days). A wall time the
    clocks skip (spring forward) means the moment they jump past it."""
    lo = first_instant_at_or_after(
        zone_name, start_day, seconds_of_day(start_time) if start_time else 0
    )
    if end_time is None:
        hi = first_instant_at_or_after(zone_name, end_day + timedelta(days=1), 0)
    else:
        hi = first_instant_at_or_after(zone_name, end_day, seconds_of_day(end_time))
    start, end = datetime.fromtimestamp(lo, UTC), datetime.fromtimestamp(hi, UTC)
    if end <= start:
        raise AdminError(
            END_NOT_AFTER_START,
            "The end must be after the start "
            f"({_wall(start_day, start_time)} to {_wall(end_day, end_time, end=True)}).",
            "end",
        )
    if end - start > timedelta(days=MAX_EXCEPTION_DAYS):
        raise AdminError(
            RANGE_TOO_LONG,
            f"An exception can span at most {MAX_EXCEPTION_DAYS} days; for a longer absence "
            "end the practitioner's weekly blocks (or deactivate them) instead.",
            "end",
        )
    return start, end


def _wall(d: date, t: time | None, *, end: bool = False) -> str:
    if t is None:
        return f"{day_text(d)} {'end of day' if end else '00:00'}"
    return f"{day_text(d)} {hhmm(t)}"


# --------------------------------------------------------------------------- settings


def check_setting(name: str, value: object) -> int:
    """Buffer, minimum notice, horizon, hold or offer length: a whole number in its range."""
    # Imported here: the holds and waitlist modules build on the availability rules.
    from domain.holds import MAX_HOLD_MINUTES
    from domain.waitlist import MAX_OFFER_MINUTES

    limits = {
        "buffer_minutes": (0, MAX_BUFFER_MINUTES, "The buffer", "minutes"),
        "min_notice_minutes": (0, MAX_NOTICE_MINUTES, "The minimum notice", "minutes"),
        "booking_horizon_days": (1, MAX_HORIZON_DAYS, "The booking horizon", "days"),
        "hold_minutes": (1, MAX_HOLD_MINUTES, "A booking-form hold", "minutes"),
        "waitlist_offer_minutes": (1, MAX_OFFER_MINUTES, "A waitlist offer", "minutes"),
    }
    low, high, label, unit = limits[name]
    number = parse_int(value, name, label)
    if not low <= number <= high:
        raise AdminError(
            INVALID_SETTING, f"{label} must be {low} to {high:,} {unit}.", name, limit=high
        )
    return number


def sorted_unique(values: Sequence[int]) -> list[int]:
    return sorted(set(values))
