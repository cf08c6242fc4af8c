"""Properties over random days: schedules (DST days included), capacities, buffers,
exceptions and bookings. Availability and booking must agree exactly."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from data.availability_queries import CalendarRows
from data.vocabulary import APPOINTMENT_STATUSES, TIME_HOLDING_STATUSES
from domain.availability import blocks_from_rows, offers_from_rows
from domain.booking_rules import BookingRequest, OrgRules, PractitionerDay, check_booking
from domain.slots import (
    CAPACITY,
    END,
    START,
    TYPE,
    Booking,
    ScheduleBlock,
    ScheduleException,
    from_ts,
    local_day_bounds,
)
from tests.unit.rule_builders import NY, PHOENIX, offers

DAYS = [date(2026, 3, 16), date(2026, 3, 8), date(2026, 11, 1), date(2026, 3, 29)]
ZONES = [NY, PHOENIX, "Europe/London"]


@dataclass
class Scenario:
    day: date
    zone: str
    blocks: list[ScheduleBlock]
    bookings: list[Booking]
    exceptions: list[ScheduleException]
    rules: OrgRules
    now: datetime

    def plan(self, bookings: list[Booking] | None = None) -> PractitionerDay:
        return PractitionerDay(
            1,
            self.day,
            self.blocks,
            {1: self.zone, 2: self.zone},
            self.exceptions,
            self.bookings if bookings is None else bookings,
            self.rules,
        )


@st.composite
def scenarios(draw: Any, capacities: tuple[int, ...] = (1, 1, 1, 2, 3)) -> Scenario:
    day = draw(st.sampled_from(DAYS))
    zone = draw(st.sampled_from(ZONES))
    blocks = []
    for k in range(draw(st.integers(1, 3))):
        start = draw(st.integers(0, 20 * 4)) * 15
        minutes = draw(st.sampled_from([15, 20, 30, 45, 60, 90]))
        end = min(start + minutes * draw(st.integers(1, 8)), 23 * 60 + 59)
        blocks.append(
            ScheduleBlock(
                k + 1,
                1,
                draw(st.sampled_from([1, 1, 2])),
                day.weekday(),
                time(*divmod(start, 60)),
                time(*divmod(end, 60)),
                minutes,
                draw(st.sampled_from(capacities)),
                draw(st.sampled_from([None, None, 2])),
            )
        )
    lo, hi = local_day_bounds(zone, day)
    bookings = [
        Booking(
            100 + k,
            draw(st.sampled_from([1, 1, 1, 2])),
            draw(st.sampled_from([1, 2])),
            start := lo + draw(st.integers(-12, (hi - lo) // 300)) * 300,
            start + draw(st.sampled_from([10, 15, 20, 30, 45, 60, 90, 120])) * 60,
            draw(st.sampled_from(APPOINTMENT_STATUSES)),
        )
        for k in range(draw(st.integers(0, 14)))
    ]
    exceptions = [
        ScheduleException(
            500 + k,
            draw(st.sampled_from([None, 1, 2])),
            draw(st.sampled_from([None, 1, 2])),
            start := lo + draw(st.integers(0, (hi - lo) // 900)) * 900,
            start + draw(st.integers(1, 24)) * 900,
            "leave",
        )
        for k in range(draw(st.integers(0, 2)))
    ]
    rules = OrgRules(
        draw(st.sampled_from([0, 0, 5, 10, 15, 30])),
        draw(st.sampled_from([0, 0, 60, 240])),
        draw(st.sampled_from([365, 365, 0])),
    )
    now = from_ts(lo + draw(st.sampled_from([-3 * 86400, -86400, 0, 6 * 3600, 12 * 3600])))
    return Scenario(day, zone, blocks, bookings, exceptions, rules, now)


def _request(start: int, end: int, clinic: int, type_id: int | None) -> BookingRequest:
    return BookingRequest(1, clinic, from_ts(start), (end - start) // 60, type_id or 1)


DURATIONS = st.sampled_from([None, None, 20, 45, 60])


@settings(max_examples=300, deadline=None)
@given(s=scenarios(), duration=DURATIONS)
def test_whatever_availability_offers_booking_accepts(s: Scenario, duration: int | None) -> None:
    day = s.plan()
    for clinic in (1, 2):
        for start, end, _, _, type_id, _ in offers(day, clinic, now=s.now, duration=duration):
            verdict = check_booking(day, _request(start, end, clinic, type_id), s.now)
            assert verdict is None, verdict


@settings(max_examples=300, deadline=None)
@given(s=scenarios(), duration=DURATIONS)
def test_whatever_availability_hides_on_the_grid_booking_refuses(
    s: Scenario, duration: int | None
) -> None:
    day = s.plan()
    for clinic, cd in day.clinics.items():
        offered = {(o[0], o[1]) for o in offers(day, clinic, now=s.now, duration=duration)}
        for cell in cd.cells:
            end = cell[START] + duration * 60 if duration else cell[END]
            if (cell[START], end) not in offered:
                request = _request(cell[START], end, clinic, cell[TYPE])
                assert check_booking(day, request, s.now) is not None


def _holds(b: Booking) -> bool:
    return b.practitioner_id == 1 and b.status in TIME_HOLDING_STATUSES


@settings(max_examples=300, deadline=None)
@given(s=scenarios(capacities=(1,)))
def test_no_offered_slot_overlaps_a_booking_plus_its_buffer(s: Scenario) -> None:
    day = s.plan()
    buffer = s.rules.buffer_minutes * 60
    for clinic in (1, 2):
        for start, end, *_ in offers(day, clinic, now=s.now):
            for b in filter(_holds, s.bookings):
                assert end + buffer <= b.start_ts or b.end_ts + buffer <= start


@settings(max_examples=300, deadline=None)
@given(s=scenarios())
def test_remaining_seats_are_between_one_and_capacity_and_count_the_bookings(
    s: Scenario,
) -> None:
    day = s.plan()
    for clinic, cd in day.clinics.items():
        for start, end, capacity, seats, *_ in offers(day, clinic, now=s.now):
            assert 1 <= seats <= capacity
            covered = [c for c in cd.cells if c[START] < end and c[END] > start]
            expected = min(
                c[CAPACITY]
                - sum(
                    1
                    for b in s.bookings
                    if _holds(b) and b.start_ts < c[END] and b.end_ts > c[START]
                )
                for c in covered
            )
            assert seats == expected


@settings(max_examples=200, deadline=None)
@given(s=scenarios(), pick=st.integers(0, 100))
def test_a_cancelled_booking_gives_its_seat_back(s: Scenario, pick: int) -> None:
    held = [b for b in s.bookings if _holds(b)]
    if not held:
        return
    target = held[pick % len(held)]
    cancelled = [b._replace(status="cancelled") if b is target else b for b in s.bookings]
    without = [b for b in s.bookings if b is not target]
    after = {clinic: offers(s.plan(cancelled), clinic, now=s.now) for clinic in (1, 2)}
    assert after == {clinic: offers(s.plan(without), clinic, now=s.now) for clinic in (1, 2)}
    # Every slot offered while it held time is still offered, with at least as many seats.
    before_plan = s.plan()
    for clinic in (1, 2):
        grid = {c[START] for c in before_plan.clinics.get(clinic, _NO_CELLS).cells}
        seats_after = {(o[0], o[1]): o[3] for o in after[clinic]}
        for o in offers(before_plan, clinic, now=s.now):
            if o[0] in grid:
                assert seats_after.get((o[0], o[1]), 0) >= o[3]


class _NoCells:
    cells: tuple[()] = ()


_NO_CELLS = _NoCells()


@settings(max_examples=60, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    first=st.sampled_from([date(2026, 3, 4), date(2026, 10, 28), date(2026, 3, 25)]),
    seed_rows=st.lists(
        st.tuples(
            st.integers(0, 9 * 24 * 4), st.sampled_from([15, 30, 60, 90]), st.sampled_from([1, 2])
        ),
        max_size=30,
    ),
    buffer=st.sampled_from([0, 10, 30]),
)
def test_a_range_equals_the_union_of_its_single_days(
    zone: str, first: date, seed_rows: list[tuple[int, int, int]], buffer: int
) -> None:
    days = [first + timedelta(days=k) for k in range(8)]
    schedules = [
        (
            k + 1,
            1,
            1,
            wd,
            time(h),
            time(min(h + 4, 23)),
            m,
            cap,
            None,
            date(2026, 1, 1),
            None,
            date(2026, 1, 1),
            None,
        )
        for k, (wd, h, m, cap) in enumerate(
            [
                (0, 8, 30, 1),
                (1, 0, 20, 1),
                (2, 13, 30, 2),
                (3, 9, 45, 1),
                (6, 0, 30, 1),
                (6, 20, 60, 3),
            ]
        )
    ]
    lo = local_day_bounds(zone, first)[0]
    appointments = [
        (1000 + k, 1, clinic, lo + q * 900, lo + q * 900 + minutes * 60)
        for k, (q, minutes, clinic) in enumerate(seed_rows)
    ]
    exceptions = [
        (9, 1, None, lo + 86400 * 2 + 3600 * 9, lo + 86400 * 2 + 3600 * 11, "leave", None)
    ]
    rows = CalendarRows(exceptions, appointments)
    blocks = blocks_from_rows(schedules)
    zones = {1: zone, 2: zone}
    rules = OrgRules(buffer, 0, 365)
    whole = offers_from_rows(rows, blocks, [1], days, zones, rules)
    for d in days:
        assert whole[(1, d)] == offers_from_rows(rows, blocks, [1], [d], zones, rules)[(1, d)]
