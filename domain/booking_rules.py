"""The one booking rule: what availability offers and what booking accepts, from one code.

``PractitionerDay`` gathers one practitioner's local date: the slots of their schedule
blocks (every clinic), the exceptions that apply to them, and their appointments. Its
``verdict`` decides whether a requested appointment (clinic, start, duration, type) may be
booked; availability (``open_slots``) offers exactly the slot starts whose verdict is
"yes", and ``check_booking`` turns a "no" into a ``Violation`` with a stable code and a
sentence a receptionist understands. No SQL and no Dash here.

The rules, in the order they are checked (the first failure is reported):

1. ``INVALID_DURATION``: 1 to ``MAX_APPOINTMENT_MINUTES`` minutes.
2. ``IN_PAST`` / ``INSIDE_MIN_NOTICE``: the start is at least the organization's minimum
   notice after now.
3. ``BEYOND_HORIZON``: the start's local date (clinic zone) is at most
   ``booking_horizon_days`` after the clinic's local today.
4. ``OUTSIDE_SCHEDULE``: the whole appointment lies in the practitioner's slots at that
   clinic that day (adjacent slots, also of adjacent blocks, join up).
5. ``WRONG_TYPE_FOR_BLOCK``: every slot it takes accepts its appointment type (a block
   with an appointment type only takes that type).
6. ``EXCEPTION``: no slot it takes touches leave, a holiday or a closure that applies.
7. ``CONFLICT``: every slot it takes has a free seat. A time-holding appointment of the
   practitioner (any status but cancelled, at any clinic: nobody is in two places) takes
   one seat of every slot it overlaps, however long it is.
8. ``BUFFER``: individual appointments keep the organization's buffer from each other,
   before and after (see "Buffer" below).

Buffer: it separates a practitioner's *individual* appointments, those in slots of
capacity 1. In a slot of capacity > 1 (a group session, a vaccination line) the seats are
meant to be taken side by side: the buffer neither applies between them nor widens them
into neighbouring individual slots. An existing appointment counts as a group seat when it
lies in a slot of capacity > 1 of its own clinic's schedule; a request is individual when
any slot it takes has capacity 1.

Grid: availability offers the slot starts of the schedule grid. When only the buffer after
an earlier appointment blocks a grid start, the offer moves forward within that slot to
the first moment the buffer allows (9:00-9:30 booked, 15 minutes of buffer: 9:45 is
offered instead of 9:30, then 10:00 as usual), provided the moved appointment passes every
rule. Offers therefore may overlap each other; booking one hides the other. Booking
accepts any start, on the grid or not, that passes the rules.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import accumulate
from operator import attrgetter, le
from typing import Any

from data.vocabulary import TIME_HOLDING_STATUSES
from domain.slots import (
    CAPACITY,
    END,
    SCHEDULE,
    START,
    TYPE,
    Booking,
    Cell,
    ScheduleBlock,
    ScheduleException,
    day_cells,
    from_ts,
    local_date,
    local_midnight_ts,
    to_ts,
    zone,
)

OUTSIDE_SCHEDULE = "OUTSIDE_SCHEDULE"
WRONG_TYPE_FOR_BLOCK = "WRONG_TYPE_FOR_BLOCK"
EXCEPTION = "EXCEPTION"
CONFLICT = "CONFLICT"
BUFFER = "BUFFER"
IN_PAST = "IN_PAST"
INSIDE_MIN_NOTICE = "INSIDE_MIN_NOTICE"
BEYOND_HORIZON = "BEYOND_HORIZON"
INVALID_DURATION = "INVALID_DURATION"

CODES: tuple[str, ...] = (
    INVALID_DURATION,
    IN_PAST,
    INSIDE_MIN_NOTICE,
    BEYOND_HORIZON,
    OUTSIDE_SCHEDULE,
    WRONG_TYPE_FOR_BLOCK,
    EXCEPTION,
    CONFLICT,
    BUFFER,
)

# Longer than any real visit; also bounds how far back the data layer looks for
# appointments that still run into a day.
MAX_APPOINTMENT_MINUTES = 12 * 60

_TIME_HOLDING = frozenset(TIME_HOLDING_STATUSES)
_booking_order = attrgetter("start_ts", "end_ts")

_REASON_LABELS = {
    "leave": "leave",
    "holiday": "holiday",
    "clinic-closure": "clinic closure",
    "other": "unavailable",
}


@dataclass(frozen=True, slots=True)
class OrgRules:
    """The organization's booking settings (``organizations`` row)."""

    buffer_minutes: int = 0
    min_notice_minutes: int = 0
    booking_horizon_days: int = 365


@dataclass(frozen=True)
class Names:
    """Display names for messages; ids without a name are shown as '#id'."""

    practitioners: Mapping[int, str] = field(default_factory=dict)
    clinics: Mapping[int, str] = field(default_factory=dict)
    appointment_types: Mapping[int, str] = field(default_factory=dict)

    def practitioner(self, pid: int) -> str:
        return self.practitioners.get(pid) or f"Practitioner #{pid}"

    def clinic(self, cid: int) -> str:
        return self.clinics.get(cid) or f"Clinic #{cid}"

    def appointment_type(self, tid: int | None) -> str:
        if tid is None:
            return "any"
        return self.appointment_types.get(tid) or f"type #{tid}"


@dataclass(frozen=True)
class BookingRequest:
    """An appointment someone wants to book (or move: ``exclude_appointment_id`` is the
    appointment being rescheduled, left out of its own conflict and buffer checks)."""

    practitioner_id: int
    clinic_id: int
    start: datetime
    duration_minutes: int
    appointment_type_id: int | None = None
    exclude_appointment_id: int | None = None

    @property
    def end(self) -> datetime:
        return self.start + timedelta(minutes=self.duration_minutes)


@dataclass(frozen=True)
class Violation:
    """Why a booking is refused: a stable ``code`` (one of ``CODES``), a sentence for the
    receptionist, and machine-readable ``details`` (appointment ids, the earliest start
    the buffer allows, the schedule hours, ...)."""

    code: str
    message: str
    details: Mapping[str, Any] = field(default_factory=dict)


# A verdict is None (bookable) or (code, detail): the cheap form used in the hot loops;
# messages are only written for the verdict that is reported.
Verdict = tuple[str, Any] | None


class BookingWindow:
    """Past, minimum notice and horizon for one "now": shared by the offer filter and the
    rule so that both cut at the same instant."""

    def __init__(self, now: datetime | int, rules: OrgRules) -> None:
        self.now_ts = now if isinstance(now, int) else to_ts(now)
        self.rules = rules
        self.earliest_ts = self.now_ts + rules.min_notice_minutes * 60
        self._horizon_end: dict[str, int] = {}

    def horizon_end_ts(self, tz_name: str) -> int:
        """The first instant after the last bookable local date of a clinic's zone."""
        end = self._horizon_end.get(tz_name)
        if end is None:
            last_day = self.last_bookable_day(tz_name)
            end = self._horizon_end[tz_name] = local_midnight_ts(
                tz_name, last_day + timedelta(days=1)
            )
        return end

    def last_bookable_day(self, tz_name: str) -> date:
        return local_date(tz_name, self.now_ts) + timedelta(days=self.rules.booking_horizon_days)

    def verdict(self, start_ts: int, tz_name: str) -> Verdict:
        if start_ts < self.now_ts:
            return (IN_PAST, None)
        if start_ts < self.earliest_ts:
            return (INSIDE_MIN_NOTICE, None)
        if start_ts >= self.horizon_end_ts(tz_name):
            return (BEYOND_HORIZON, None)
        return None

    def allows(self, start_ts: int, tz_name: str) -> bool:
        return self.earliest_ts <= start_ts < self.horizon_end_ts(tz_name)


class _ClinicDay:
    """The slots of one clinic in a practitioner's day, with their precomputed state."""

    __slots__ = ("cells", "disjoint", "max_end", "starts", "states", "taken")

    def __init__(self, cells: list[Cell]) -> None:
        self.cells = cells
        self.starts = [c[START] for c in cells]
        ends = [c[END] for c in cells]
        # No two slots share time (the usual case): each ends by the next one's start.
        self.disjoint = all(map(le, ends[:-1], self.starts[1:]))
        # The running maximum of the ends bounds the backward search in `overlapping`;
        # with overlapping blocks a long slot may outlast later ones.
        self.max_end = ends if self.disjoint else list(accumulate(ends, max))
        self.taken: list[int] = [0] * len(cells)
        # Per slot, the verdict for an appointment filling exactly that slot, without the
        # type check (which depends on the request): EXCEPTION, CONFLICT, BUFFER or None.
        self.states: list[Verdict] = [None] * len(cells)

    def overlapping(self, start_ts: int, end_ts: int) -> list[int]:
        """Indexes of the slots overlapping [start_ts, end_ts), in start order."""
        cells, max_end = self.cells, self.max_end
        i = bisect_left(self.starts, end_ts) - 1
        out = []
        while i >= 0 and max_end[i] > start_ts:
            if cells[i][END] > start_ts:
                out.append(i)
            i -= 1
        out.reverse()
        return out


class PractitionerDay:
    """Everything the rule needs about one practitioner on one local date.

    ``blocks`` are the practitioner's schedule blocks at every clinic (inactive ones and
    other weekdays are ignored); ``clinic_zones`` maps each clinic the practitioner may
    work at to its time zone; ``exceptions`` and ``bookings`` may hold more than this day
    (they are filtered here; cancelled bookings are ignored).
    """

    def __init__(
        self,
        practitioner_id: int,
        day: date,
        blocks: Sequence[ScheduleBlock],
        clinic_zones: Mapping[int, str],
        exceptions: Iterable[ScheduleException],
        bookings: Iterable[Booking],
        rules: OrgRules,
        *,
        exclude_appointment_id: int | None = None,
        names: Names | None = None,
    ) -> None:
        self.practitioner_id = practitioner_id
        self.day = day
        self.blocks = [b for b in blocks if b.practitioner_id == practitioner_id]
        self.clinic_zones = clinic_zones
        self.rules = rules
        self.buffer_s = rules.buffer_minutes * 60
        self.names = names or _NO_NAMES
        self.clinics: dict[int, _ClinicDay] = {
            cid: _ClinicDay(cells)
            for cid, cells in day_cells(self.blocks, day, self.clinic_zones).items()
        }
        lo, hi = self._span()
        margin = self.buffer_s
        self.exceptions = [
            e
            for e in exceptions
            if e.start_ts < hi
            and e.end_ts > lo
            and (e.practitioner_id is None or e.practitioner_id == practitioner_id)
        ]
        self.bookings = [
            b
            for b in bookings
            if b.start_ts < hi + margin
            and b.end_ts > lo - margin
            and b.practitioner_id == practitioner_id
            and b.status in _TIME_HOLDING
            and b.id != exclude_appointment_id
        ]
        self.bookings.sort(key=_booking_order)
        self._group_windows: dict[tuple[int, date], list[tuple[int, int]]] = {}
        self.individual = (
            [b for b in self.bookings if not self._is_group_seat(b)]
            if self.buffer_s
            else self.bookings
        )
        for cid, cd in self.clinics.items():
            self._precompute(cid, cd)

    # ----------------------------------------------------------------- set-up

    def _span(self) -> tuple[int, int]:
        """[first slot start, last slot end) over every clinic of the day."""
        if not self.clinics:
            return (0, 0)
        days = self.clinics.values()
        return min(cd.starts[0] for cd in days), max(cd.max_end[-1] for cd in days)

    def _is_group_seat(self, booking: Booking) -> bool:
        """A booking inside a slot of capacity > 1 of its own clinic's schedule."""
        tz_name = self.clinic_zones.get(booking.clinic_id)
        if tz_name is None or not any(b.capacity > 1 for b in self.blocks):
            return False
        key = (booking.clinic_id, local_date(tz_name, booking.start_ts))
        windows = self._group_windows.get(key)
        if windows is None:
            group_blocks = [
                b for b in self.blocks if b.capacity > 1 and b.clinic_id == booking.clinic_id
            ]
            cells = day_cells(group_blocks, key[1], self.clinic_zones).get(booking.clinic_id, [])
            windows = self._group_windows[key] = [(c[START], c[END]) for c in cells]
        return any(s < booking.end_ts and e > booking.start_ts for s, e in windows)

    def _precompute(self, clinic_id: int, cd: _ClinicDay) -> None:
        """Each slot's seats taken and its verdict as a request of exactly that slot."""
        cells, taken, states = cd.cells, cd.taken, cd.states
        for e in self.exceptions:
            if e.applies_to(self.practitioner_id, clinic_id):
                for i in cd.overlapping(e.start_ts, e.end_ts):
                    if states[i] is None:
                        states[i] = (EXCEPTION, e)
        if cd.disjoint:
            # Bookings by start, slots by start and end: one sweep finds every overlap.
            starts, ends, n, j = cd.starts, cd.max_end, len(cells), 0
            for b in self.bookings:
                b_start, b_end = b.start_ts, b.end_ts
                while j < n and ends[j] <= b_start:
                    j += 1
                i = j
                while i < n and starts[i] < b_end:
                    taken[i] += 1
                    if taken[i] == cells[i][CAPACITY] and states[i] is None:
                        states[i] = (CONFLICT, cells[i])
                    i += 1
        else:
            for b in self.bookings:
                for i in cd.overlapping(b.start_ts, b.end_ts):
                    taken[i] += 1
                    if taken[i] == cells[i][CAPACITY] and states[i] is None:
                        states[i] = (CONFLICT, cells[i])
        if self.buffer_s:
            for i, cell in enumerate(cells):
                if states[i] is None and cell[CAPACITY] == 1:
                    near = self._buffer_clash(cell[START], cell[END])
                    if near is not None:
                        states[i] = (BUFFER, near)

    def _buffer_clash(self, start_ts: int, end_ts: int) -> Booking | None:
        """The individual booking closest in time that sits within the buffer of
        [start_ts, end_ts) without overlapping it, if any."""
        buf = self.buffer_s
        clash = None
        for b in self.individual:
            if b.start_ts >= end_ts + buf:
                break
            if b.end_ts + buf > start_ts and b.start_ts < end_ts + buf:
                if b.start_ts < end_ts and b.end_ts > start_ts:
                    continue  # an overlap is a conflict, counted by the seats
                if clash is None or b.end_ts > clash.end_ts:
                    clash = b
        return clash

    # ----------------------------------------------------------------- the rule

    def verdict(
        self,
        clinic_id: int,
        start_ts: int,
        end_ts: int,
        appointment_type_id: int | None = None,
        window: BookingWindow | None = None,
    ) -> Verdict:
        """None when [start_ts, end_ts) at the clinic may be booked, else (code, detail).

        ``appointment_type_id`` None skips the type check (availability without a type
        filter); ``window`` None skips past/notice/horizon (they depend on "now" and are
        applied when cached offers are read).
        """
        minutes = (end_ts - start_ts) / 60
        if not (1 <= minutes <= MAX_APPOINTMENT_MINUTES) or minutes != int(minutes):
            return (INVALID_DURATION, None)
        tz_name = self.clinic_zones.get(clinic_id)
        if window is not None and tz_name is not None:
            timing = window.verdict(start_ts, tz_name)
            if timing is not None:
                return timing
        cd = self.clinics.get(clinic_id)
        if cd is None:
            return (OUTSIDE_SCHEDULE, None)
        idx = cd.overlapping(start_ts, end_ts)
        covered = start_ts
        for i in idx:
            cell = cd.cells[i]
            if cell[START] > covered:
                break
            covered = max(covered, cell[END])
        if not idx or covered < end_ts:
            return (OUTSIDE_SCHEDULE, None)
        # Every slot taken must accept the type; without a type (availability, no filter)
        # the slots must at least not be reserved for two different types.
        reserved = appointment_type_id
        for i in idx:
            wanted = cd.cells[i][TYPE]
            if wanted is not None:
                if reserved is not None and wanted != reserved:
                    return (WRONG_TYPE_FOR_BLOCK, cd.cells[i])
                reserved = wanted
        if len(idx) == 1:
            cell = cd.cells[idx[0]]
            if cell[START] == start_ts and cell[END] == end_ts:
                return cd.states[idx[0]]  # exactly one slot: its precomputed verdict
        states = [cd.states[i] for i in idx]
        for wanted_code in (EXCEPTION, CONFLICT):
            for state in states:
                if state is not None and state[0] == wanted_code:
                    return state
        individual = any(cd.cells[i][CAPACITY] == 1 for i in idx)
        if individual and self.buffer_s:
            near = self._buffer_clash(start_ts, end_ts)
            if near is not None:
                return (BUFFER, near)
        return None

    def slot_capacity(self, clinic_id: int, start: datetime, end: datetime) -> int:
        """The largest capacity among the slots [start, end) takes at the clinic: 1 means
        the appointment has the practitioner to itself (an individual appointment), 0
        that it lies in no slot. For a request ``check_booking`` accepted."""
        cd = self.clinics.get(clinic_id)
        if cd is None:
            return 0
        taken = cd.overlapping(to_ts(start), to_ts(end))
        return max((cd.cells[i][CAPACITY] for i in taken), default=0)

    # ----------------------------------------------------------------- offers

    def grid(self, clinic_id: int) -> list[tuple[Cell, int, str | None]]:
        """Every slot of the schedule grid at the clinic with its seats taken and what
        stops it being booked as a whole (EXCEPTION, CONFLICT, BUFFER) or None; before
        past/notice/horizon and type filters. For views of the grid itself (e.g. FHIR
        Slots); offers come from ``open_slots``."""
        cd = self.clinics.get(clinic_id)
        if cd is None:
            return []
        out: list[tuple[Cell, int, str | None]] = []
        for i, cell in enumerate(cd.cells):
            state = cd.states[i]
            out.append((cell, cd.taken[i], None if state is None else state[0]))
        return out

    def open_slots(
        self,
        clinic_id: int,
        duration_minutes: int | None = None,
        appointment_type_id: int | None = None,
    ) -> list[tuple[int, int, int, int, int | None, int]]:
        """The bookable slots at one clinic, before past/notice/horizon are applied:
        (start_ts, end_ts, capacity, seats_left, block's appointment type, schedule id).

        Each grid start is offered when an appointment of ``duration_minutes`` (default:
        the slot's own length) of ``appointment_type_id`` (default: whatever the block
        takes) passes ``verdict``; when only the buffer after an earlier appointment stops
        it, at the first later moment within the slot that passes.
        """
        cd = self.clinics.get(clinic_id)
        if cd is None:
            return []
        out = []
        if duration_minutes is None and cd.disjoint:
            # Slot-long requests on a grid whose slots do not overlap: the verdict of each
            # is its precomputed state, exactly what ``verdict`` returns for it.
            for i, state in enumerate(cd.states):
                start, end, capacity, wanted, schedule_id, _ = cell = cd.cells[i]
                if appointment_type_id is not None and wanted not in (None, appointment_type_id):
                    continue
                if state is None:
                    out.append((start, end, capacity, capacity - cd.taken[i], wanted, schedule_id))
                elif state[0] == BUFFER:
                    type_id = appointment_type_id if appointment_type_id is not None else wanted
                    self._offer_after_buffer(out, clinic_id, cd, cell, state, end - start, type_id)
            return out
        for cell in cd.cells:
            start, end, capacity, wanted, schedule_id, _ = cell
            if appointment_type_id is not None and wanted not in (None, appointment_type_id):
                continue
            type_id = appointment_type_id if appointment_type_id is not None else wanted
            length = duration_minutes * 60 if duration_minutes else end - start
            state = self.verdict(clinic_id, start, start + length, type_id)
            if state is None:
                self._offer(out, cd, cell, start, length)
            elif state[0] == BUFFER:
                self._offer_after_buffer(out, clinic_id, cd, cell, state, length, type_id)
        return out

    def _offer(self, out: list[Any], cd: _ClinicDay, cell: Cell, start: int, length: int) -> None:
        """Offer [start, start + length) from ``cell``'s grid position (it passed)."""
        taken = cd.overlapping(start, start + length)
        seats = min(cd.cells[k][CAPACITY] - cd.taken[k] for k in taken)
        reserved = next((cd.cells[k][TYPE] for k in taken if cd.cells[k][TYPE] is not None), None)
        out.append((start, start + length, cell[CAPACITY], seats, reserved, cell[SCHEDULE]))

    def _offer_after_buffer(
        self,
        out: list[Any],
        clinic_id: int,
        cd: _ClinicDay,
        cell: Cell,
        state: tuple[str, Any],
        length: int,
        type_id: int | None,
    ) -> None:
        """A grid start stopped only by the buffer after an earlier appointment: offer the
        first later moment within the slot that passes the rule, if any."""
        if state[1].end_ts > cell[START]:
            return  # the clash is with a later appointment: moving later cannot help
        start = self._earliest_after_buffer(cell[START])
        if start < cell[END] and self.verdict(clinic_id, start, start + length, type_id) is None:
            self._offer(out, cd, cell, start, length)

    def _earliest_after_buffer(self, start_ts: int) -> int:
        """The first start at or after ``start_ts`` that keeps the buffer after every
        individual booking that ends by then."""
        moved = start_ts
        for b in self.individual:
            if b.start_ts >= moved:
                break
            if b.end_ts <= moved < b.end_ts + self.buffer_s:
                moved = b.end_ts + self.buffer_s
        return moved

    # ----------------------------------------------------------------- messages

    def explain(self, request: BookingRequest, verdict: Verdict, window: BookingWindow | None):
        """The ``Violation`` for a non-None verdict of ``request``."""
        assert verdict is not None
        code, detail = verdict
        tz_name = self.clinic_zones.get(request.clinic_id, "UTC")
        names = self.names
        prac = names.practitioner(request.practitioner_id)
        clinic = names.clinic(request.clinic_id)
        start_ts = to_ts(request.start)
        end_ts = start_ts + request.duration_minutes * 60
        span = f"{_when(start_ts, tz_name)}–{_clock(end_ts, tz_name)}"
        details: dict[str, Any] = {}
        if code == INVALID_DURATION:
            message = (
                f"The duration must be a whole number of minutes from 1 to "
                f"{MAX_APPOINTMENT_MINUTES} ({request.duration_minutes} given)."
            )
        elif code == IN_PAST:
            message = f"{_when(start_ts, tz_name)} has already passed; choose a later time."
        elif code == INSIDE_MIN_NOTICE:
            assert window is not None
            notice = _duration_text(self.rules.min_notice_minutes)
            message = (
                f"Bookings need at least {notice} notice; the earliest bookable time now is "
                f"{_when(window.earliest_ts, tz_name)}."
            )
            details["earliest_start"] = from_ts(window.earliest_ts)
        elif code == BEYOND_HORIZON:
            assert window is not None
            last = window.last_bookable_day(tz_name)
            message = (
                f"Bookings open {self.rules.booking_horizon_days} days ahead; "
                f"{_day(local_date(tz_name, start_ts))} is after the last bookable day, "
                f"{_day(last)}."
            )
            details["last_bookable_day"] = last
        elif code == OUTSIDE_SCHEDULE:
            hours = self.schedule_hours(request.clinic_id)
            details["schedule_hours"] = hours
            if hours:
                listed = " and ".join(f"from {a} to {b}" for a, b in hours)
                message = (
                    f"{prac} works at {clinic} on {_day(self.day)} {listed}; {span} is "
                    f"outside those hours."
                )
            else:
                message = f"{prac} has no hours at {clinic} on {_day(self.day)}."
        elif code == WRONG_TYPE_FOR_BLOCK:
            cell: Cell = detail
            details["required_appointment_type_id"] = cell[TYPE]
            message = (
                f"The {_clock(cell[START], tz_name)}–{_clock(cell[END], tz_name)} slot "
                f"at {clinic} is reserved for {names.appointment_type(cell[TYPE])}"
                f"; a {names.appointment_type(request.appointment_type_id)} appointment cannot "
                f"be booked in it."
            )
        elif code == EXCEPTION:
            exc: ScheduleException = detail
            details["exception_id"] = exc.id
            label = _REASON_LABELS.get(exc.reason, exc.reason)
            why = f"{label}: {exc.note}" if exc.note else label
            period = f"from {_when(exc.start_ts, tz_name)} to {_when(exc.end_ts, tz_name)}"
            if exc.practitioner_id is not None:
                message = f"{prac} is unavailable {period} ({why})."
            elif exc.clinic_id is not None:
                message = f"{names.clinic(exc.clinic_id)} is closed {period} ({why})."
            else:
                message = f"All clinics are closed {period} ({why})."
        elif code == CONFLICT:
            cell = detail
            taking = [b for b in self.bookings if b.start_ts < cell[END] and b.end_ts > cell[START]]
            details["appointment_ids"] = [b.id for b in taking]
            if taking:
                details["appointment_id"] = taking[0].id
            slot = f"{_clock(cell[START], tz_name)}–{_clock(cell[END], tz_name)}"
            if cell[CAPACITY] == 1 and taking:
                b = taking[0]
                where = (
                    "" if b.clinic_id == request.clinic_id else f" at {names.clinic(b.clinic_id)}"
                )
                message = (
                    f"{prac} already has appointment #{b.id}{where} from "
                    f"{_when(b.start_ts, tz_name)} to {_clock(b.end_ts, tz_name)}, which takes "
                    f"the {slot} slot."
                )
            else:
                ids = ", ".join(f"#{b.id}" for b in taking)
                message = (
                    f"The {slot} slot on {_day(self.day)} is full: {len(taking)} of "
                    f"{cell[CAPACITY]} seats are taken ({ids})."
                )
        elif code == BUFFER:
            b = detail
            details["appointment_id"] = b.id
            buf = self.rules.buffer_minutes
            appt = (
                f"{prac} has appointment #{b.id} from {_clock(b.start_ts, tz_name)} to "
                f"{_clock(b.end_ts, tz_name)}, and appointments need {buf} minutes between them"
            )
            if b.end_ts <= start_ts:
                earliest = b.end_ts + self.buffer_s
                details["earliest_start"] = from_ts(earliest)
                message = f"{appt}; the earliest start after it is {_clock(earliest, tz_name)}."
            else:
                latest_end = b.start_ts - self.buffer_s
                details["latest_end"] = from_ts(latest_end)
                message = (
                    f"{appt}; an appointment before it must end by {_clock(latest_end, tz_name)}."
                )
        else:  # pragma: no cover - every code above is handled
            raise ValueError(code)
        return Violation(code, message, details)

    def schedule_hours(self, clinic_id: int) -> list[tuple[str, str]]:
        """The clinic's blocks for this day as local ("09:00", "12:00") pairs."""
        seen = sorted(
            {
                (b.start_time, b.end_time)
                for b in self.blocks
                if b.clinic_id == clinic_id and b.applies_on(self.day)
            }
        )
        return [(a.strftime("%H:%M"), b.strftime("%H:%M")) for a, b in seen]


_NO_NAMES = Names()


def check_booking(
    day: PractitionerDay, request: BookingRequest, now: datetime | None
) -> Violation | None:
    """Apply the rule to one request; None means it may be booked.

    ``day`` must be built for the request's practitioner, for the local date of its start
    at its clinic, with ``exclude_appointment_id=request.exclude_appointment_id``
    (``domain.availability.practitioner_day_for`` reads exactly that from the database).
    ``now`` None skips past, notice and horizon.
    """
    if request.practitioner_id != day.practitioner_id:
        raise ValueError("the day belongs to another practitioner")
    start_ts = to_ts(request.start)
    window = BookingWindow(now, day.rules) if now is not None else None
    if not isinstance(request.duration_minutes, int) or isinstance(request.duration_minutes, bool):
        verdict: Verdict = (INVALID_DURATION, None)
    else:
        verdict = day.verdict(
            request.clinic_id,
            start_ts,
            start_ts + request.duration_minutes * 60,
            request.appointment_type_id,
            window,
        )
    return None if verdict is None else day.explain(request, verdict, window)


# --------------------------------------------------------------------------- wording


def _clock(ts: int, tz_name: str) -> str:
    return datetime.fromtimestamp(ts, zone(tz_name)).strftime("%H:%M")


def _when(ts: int, tz_name: str) -> str:
    return datetime.fromtimestamp(ts, zone(tz_name)).strftime("%a %d %b %Y %H:%M")


def _day(d: date) -> str:
    return d.strftime("%a %d %b %Y")


def _duration_text(minutes: int) -> str:
    if minutes % 60 == 0 and minutes >= 60:
        hours = minutes // 60
        return f"{hours} hour{'s' if hours != 1 else ''}'"
    return f"{minutes} minutes'"
