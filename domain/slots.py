"""Pure slot arithmetic: schedule blocks, clinic wall clocks and UTC instants.

No database and no Dash here. Instants are POSIX seconds (UTC) as plain ``int`` inside the
engine, because the availability of a whole organization is thousands of comparisons and
integers are what Python compares fastest; the public services turn them into aware
datetimes at the edge. For the same reason the records are NamedTuples (immutable, and
cheap to make by the thousand).

Wall clock to instant, the DST rules (see README "Availability rules"):

- Slots are laid out on the block's wall-clock grid (09:00, 09:30, ... in the clinic's
  zone) and every slot lasts its true number of minutes.
- A grid time that does not exist (the spring-forward gap) yields no slot.
- A grid time that occurs twice (the fall-back hour) yields a slot at each occurrence, so
  a practitioner at work through the night is bookable for the whole real hour, without
  two slots overlapping: a slot that would overlap the previous one is dropped.
- A block ends the first time the clinic's clock shows its end time (or, when that time
  does not exist, at the moment the clock jumps past it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache, partial
from operator import itemgetter
from typing import Final, NamedTuple
from zoneinfo import ZoneInfo

from data.vocabulary import TIME_HOLDING_STATUSES

DAY_SECONDS = 86_400
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_TIME_HOLDING = frozenset(TIME_HOLDING_STATUSES)


def to_ts(at: datetime) -> int:
    """POSIX seconds of an aware datetime (naive ones are refused: a guessed zone is how
    appointments drift by hours)."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"naive datetime {at!r}: attach a time zone")
    return int(at.timestamp())


def from_ts(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def seconds_of_day(t: time) -> int:
    return t.hour * 3600 + t.minute * 60 + t.second


class ScheduleBlock(NamedTuple):
    """A weekly block of a practitioner's time at a clinic (a ``schedules`` row), with its
    validity already narrowed to the practitioner's assignment to that clinic."""

    id: int
    practitioner_id: int
    clinic_id: int
    weekday: int  # Monday = 0
    start_time: time
    end_time: time
    slot_minutes: int
    capacity: int = 1
    appointment_type_id: int | None = None
    valid_from: date | None = None
    valid_to: date | None = None

    def applies_on(self, day: date) -> bool:
        return (
            day.weekday() == self.weekday
            and (self.valid_from is None or self.valid_from <= day)
            and (self.valid_to is None or day <= self.valid_to)
        )


class ScheduleException(NamedTuple):
    """Time taken out of schedules. ``practitioner_id`` None: everyone (of the clinic, or
    of the organization when ``clinic_id`` is None too)."""

    id: int
    practitioner_id: int | None
    clinic_id: int | None
    start_ts: int
    end_ts: int
    reason: str
    note: str | None = None

    def applies_to(self, practitioner_id: int, clinic_id: int) -> bool:
        return (self.practitioner_id is None or self.practitioner_id == practitioner_id) and (
            self.clinic_id is None or self.clinic_id == clinic_id
        )


class Booking(NamedTuple):
    """An existing appointment of the practitioner (at any clinic)."""

    id: int
    practitioner_id: int
    clinic_id: int
    start_ts: int
    end_ts: int
    status: str = "booked"

    @property
    def holds_time(self) -> bool:
        return self.status in _TIME_HOLDING


class Cell(NamedTuple):
    """One slot of the grid, before bookings: [start_ts, end_ts) with its seats."""

    start_ts: int
    end_ts: int
    capacity: int
    appointment_type_id: int | None
    schedule_id: int
    clinic_id: int


# Field positions, for the hot loops that index cells instead of naming fields.
START: Final = 0
END: Final = 1
CAPACITY: Final = 2
TYPE: Final = 3
SCHEDULE: Final = 4
CLINIC: Final = 5

# Cells and bookings are made by the thousand per request; this skips NamedTuple's
# Python-level __new__ (about 2.5x faster) and gives the very same object.
_new_cell = partial(tuple.__new__, Cell)
new_booking = partial(tuple.__new__, Booking)


# --------------------------------------------------------------------------- zones


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


class _ZoneDay(NamedTuple):
    # POSIX seconds of the local midnight read as if it were UTC ("naive epoch").
    naive_midnight: int
    # The zone's UTC offset in seconds when it is the same all day long, else None (a
    # transition happens that day and every wall time is converted the careful way).
    fixed_offset: int | None


@lru_cache(maxsize=16_384)
def _zone_day(tz_name: str, day: date) -> _ZoneDay:
    tz = zone(tz_name)
    naive_midnight = (day.toordinal() - _EPOCH_ORDINAL) * DAY_SECONDS
    probes = [
        datetime.combine(d, time(0), tz).replace(fold=f)
        for d in (day, day + timedelta(days=1))
        for f in (0, 1)
    ]
    offsets = {p.utcoffset() for p in probes}
    if len(offsets) == 1:
        (offset,) = offsets
        assert offset is not None
        return _ZoneDay(naive_midnight, int(offset.total_seconds()))
    return _ZoneDay(naive_midnight, None)


def wall_instants(tz_name: str, day: date, second_of_day: int) -> tuple[int, ...]:
    """Every instant at which the clinic's clock shows ``day`` + ``second_of_day``:
    none in a spring-forward gap, two in a fall-back hour (earlier first), else one."""
    zd = _zone_day(tz_name, day)
    if zd.fixed_offset is not None:
        return (zd.naive_midnight + second_of_day - zd.fixed_offset,)
    tz = zone(tz_name)
    wall = datetime.combine(day, time(0)) + timedelta(seconds=second_of_day)
    first = wall.replace(tzinfo=tz, fold=0)
    if first.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != wall:
        return ()  # the clocks jumped over this time
    second = wall.replace(tzinfo=tz, fold=1)
    a, b = int(first.timestamp()), int(second.timestamp())
    return (a,) if a == b else (min(a, b), max(a, b))


def first_instant_at_or_after(tz_name: str, day: date, second_of_day: int) -> int:
    """The first instant the clinic's clock reads ``second_of_day`` on ``day`` or, if that
    time is skipped, the moment the clock jumps past it."""
    found = wall_instants(tz_name, day, second_of_day)
    if found:
        return found[0]
    # Transitions happen on whole minutes: the first wall minute that exists after the
    # gap is the instant of the jump.
    start = (second_of_day // 60 + 1) * 60
    for probe in range(start, start + 6 * 3600, 60):
        found = wall_instants(tz_name, day, probe)
        if found:
            return found[0]
    raise ValueError(f"{tz_name} skips more than six hours on {day}")


def local_midnight_ts(tz_name: str, day: date) -> int:
    """The first instant of ``day`` in the zone (the start of the local date)."""
    return first_instant_at_or_after(tz_name, day, 0)


def local_date(tz_name: str, ts: int) -> date:
    return datetime.fromtimestamp(ts, zone(tz_name)).date()


def local_day_bounds(tz_name: str, day: date) -> tuple[int, int]:
    """[start, end) of a local date as POSIX seconds."""
    return local_midnight_ts(tz_name, day), local_midnight_ts(tz_name, day + timedelta(days=1))


def utc_window(zones: Iterable[str], first: date, last: date) -> tuple[int, int]:
    """The UTC interval covering local dates ``first``..``last`` in every given zone."""
    names = set(zones) or {"UTC"}
    lo = min(local_midnight_ts(z, first) for z in names)
    hi = max(local_midnight_ts(z, last + timedelta(days=1)) for z in names)
    return lo, hi


# --------------------------------------------------------------------------- cells


def block_cells(block: ScheduleBlock, day: date, tz_name: str) -> list[Cell]:
    """The slots a block yields on ``day`` (caller checks ``block.applies_on(day)``)."""
    sid, _, cid, _, start, end, minutes, cap, type_id, _, _ = block
    step = minutes * 60
    first = start.hour * 3600 + start.minute * 60 + start.second
    last = end.hour * 3600 + end.minute * 60 + end.second - step  # the last start that fits
    zd = _zone_day(tz_name, day)
    if zd.fixed_offset is not None:
        base = zd.naive_midnight - zd.fixed_offset
        return [
            _new_cell((base + w, base + w + step, cap, type_id, sid, cid))
            for w in range(first, last + 1, step)
        ]
    # A DST day: convert each grid time on its own, drop the skipped ones, keep both
    # occurrences of repeated ones, never overlap, never run past the block's end.
    end_limit = first_instant_at_or_after(tz_name, day, seconds_of_day(block.end_time))
    starts = sorted(
        ts for w in range(first, last + 1, step) for ts in wall_instants(tz_name, day, w)
    )
    cells: list[Cell] = []
    previous_end = None
    for ts in starts:
        if ts + step > end_limit:
            break
        if previous_end is not None and ts < previous_end:
            continue
        cells.append(_new_cell((ts, ts + step, cap, type_id, sid, cid)))
        previous_end = ts + step
    return cells


def day_cells(
    blocks: Iterable[ScheduleBlock], day: date, clinic_zones: Mapping[int, str]
) -> dict[int, list[Cell]]:
    """Every slot of one practitioner's day, per clinic, sorted by start. A block listed
    twice (two assignment periods) contributes once."""
    out: dict[int, list[Cell]] = {}
    seen: list[int] = []
    weekday = day.weekday()
    for block in blocks:
        if block.weekday != weekday or block.id in seen or not block.applies_on(day):
            continue
        tz_name = clinic_zones.get(block.clinic_id)
        if tz_name is None:
            continue  # clinic outside the organization or inactive
        seen.append(block.id)
        cells = grid_cells(block, day, tz_name)
        if not cells:
            continue  # e.g. a short block that falls into a DST gap
        mine = out.get(block.clinic_id)
        if mine is None:
            out[block.clinic_id] = cells
        else:
            mine = out[block.clinic_id] = [*mine, *cells]
            mine.sort(key=_cell_order)
    return out


@lru_cache(maxsize=8192)
def grid_cells(block: ScheduleBlock, day: date, tz_name: str) -> list[Cell]:
    """``block_cells``, remembered: a block's grid on a date never changes (a changed
    block is another key), and a server recomputes the same days after every booking.
    The lists are shared: read them, never change them. About 10 MB when full."""
    return block_cells(block, day, tz_name)


_cell_order = itemgetter(0, 1)
