"""Slot arithmetic: the schedule grid in each clinic's wall clock, correct across DST."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.slots import (
    END,
    START,
    ScheduleBlock,
    block_cells,
    day_cells,
    first_instant_at_or_after,
    from_ts,
    local_date,
    local_day_bounds,
    utc_window,
    wall_instants,
)

NY = "America/New_York"
PHOENIX = "America/Phoenix"
SPRING_FORWARD = date(2026, 3, 8)  # a Sunday: 02:00 -> 03:00
FALL_BACK = date(2026, 11, 1)  # a Sunday: 02:00 -> 01:00


def _block(day: date, start: time, end: time, minutes: int = 30, **kw: object) -> ScheduleBlock:
    return ScheduleBlock(
        **{
            "id": 1,
            "practitioner_id": 1,
            "clinic_id": 1,
            "weekday": day.weekday(),
            "start_time": start,
            "end_time": end,
            "slot_minutes": minutes,
            **kw,
        }  # type: ignore[arg-type]
    )


def _local(ts: int, tz: str = NY) -> str:
    return from_ts(ts).astimezone(ZoneInfo(tz)).strftime("%H:%M %Z")


def test_an_ordinary_day_lays_slots_on_the_wall_clock_grid() -> None:
    day = date(2026, 3, 16)
    cells = block_cells(_block(day, time(9), time(12)), day, NY)
    assert [_local(c[START]) for c in cells] == [
        f"{h:02d}:{m:02d} EDT" for h in (9, 10, 11) for m in (0, 30)
    ]
    assert all(c[END] - c[START] == 1800 for c in cells)
    assert from_ts(cells[0][START]) == datetime(2026, 3, 16, 13, 0, tzinfo=UTC)


def test_spring_forward_day_offers_no_slot_in_the_skipped_hour() -> None:
    cells = block_cells(_block(SPRING_FORWARD, time(0), time(6)), SPRING_FORWARD, NY)
    assert [_local(c[START]) for c in cells] == [
        "00:00 EST",
        "00:30 EST",
        "01:00 EST",
        "01:30 EST",
        "03:00 EDT",
        "03:30 EDT",
        "04:00 EDT",
        "04:30 EDT",
        "05:00 EDT",
        "05:30 EDT",
    ]
    # Durations are true minutes: the 01:30 slot ends when the clock jumps to 03:00.
    assert all(c[END] - c[START] == 1800 for c in cells)
    assert _local(cells[3][END]) == "03:00 EDT"
    assert all(a[END] <= b[START] for a, b in itertools.pairwise(cells))


def test_fall_back_day_offers_the_repeated_hour_twice_without_overlap() -> None:
    cells = block_cells(_block(FALL_BACK, time(0), time(6)), FALL_BACK, NY)
    labels = [_local(c[START]) for c in cells]
    assert labels[:6] == [
        "00:00 EDT",
        "00:30 EDT",
        "01:00 EDT",
        "01:30 EDT",
        "01:00 EST",
        "01:30 EST",
    ]
    assert len(cells) == 14  # 7 real hours of 30-minute slots
    assert len({c[START] for c in cells}) == len(cells)  # no duplicates
    assert all(a[END] == b[START] for a, b in itertools.pairwise(cells))
    assert all(c[END] - c[START] == 1800 for c in cells)


def test_a_block_ending_inside_the_skipped_hour_ends_when_the_clock_jumps() -> None:
    cells = block_cells(_block(SPRING_FORWARD, time(1), time(2, 30)), SPRING_FORWARD, NY)
    assert [_local(c[START]) for c in cells] == ["01:00 EST", "01:30 EST"]
    assert first_instant_at_or_after(NY, SPRING_FORWARD, 2 * 3600 + 1800) == cells[-1][END]


def test_a_block_ending_in_the_repeated_hour_ends_at_its_first_occurrence() -> None:
    cells = block_cells(_block(FALL_BACK, time(0), time(1, 30)), FALL_BACK, NY)
    assert [_local(c[START]) for c in cells] == ["00:00 EDT", "00:30 EDT", "01:00 EDT"]


def test_slot_lengths_that_do_not_divide_the_hour_drop_what_would_overlap() -> None:
    cells = block_cells(_block(SPRING_FORWARD, time(0), time(6), minutes=45), SPRING_FORWARD, NY)
    assert [_local(c[START]) for c in cells] == [
        "00:00 EST",
        "00:45 EST",
        "01:30 EST",  # ends 03:15 EDT, so the 03:00 grid slot would overlap it
        "03:45 EDT",
        "04:30 EDT",
        "05:15 EDT",
    ]
    assert all(a[END] <= b[START] for a, b in itertools.pairwise(cells))


def test_wall_instants_name_zero_one_or_two_moments() -> None:
    assert wall_instants(NY, SPRING_FORWARD, 2 * 3600 + 1800) == ()
    assert len(wall_instants(NY, FALL_BACK, 3600 + 1800)) == 2
    a, b = wall_instants(NY, FALL_BACK, 3600 + 1800)
    assert b - a == 3600
    assert len(wall_instants(NY, date(2026, 6, 1), 9 * 3600)) == 1
    assert len(wall_instants(PHOENIX, SPRING_FORWARD, 2 * 3600 + 1800)) == 1  # no DST there


def test_each_clinic_gets_slots_in_its_own_zone() -> None:
    day = date(2026, 7, 7)
    blocks = [
        _block(day, time(9), time(10)),
        _block(day, time(9), time(10), id=2, clinic_id=2),
    ]
    cells = day_cells(blocks, day, {1: NY, 2: PHOENIX})
    ny_start, az_start = cells[1][0][START], cells[2][0][START]
    assert az_start - ny_start == 3 * 3600  # 09:00 in Phoenix is 12:00 in New York


def test_validity_dates_and_weekday_decide_whether_a_block_applies() -> None:
    monday = date(2026, 3, 16)
    block = _block(monday, time(9), time(10), valid_from=monday + timedelta(days=7))
    assert not block.applies_on(monday)
    assert block.applies_on(monday + timedelta(days=7))
    assert not block.applies_on(monday + timedelta(days=8))  # a Tuesday
    ended = _block(monday, time(9), time(10), valid_to=monday - timedelta(days=1))
    assert not ended.applies_on(monday)
    assert day_cells([block], monday, {1: NY}) == {}


def test_a_block_listed_twice_contributes_its_slots_once() -> None:
    day = date(2026, 3, 16)
    block = _block(day, time(9), time(10))
    assert len(day_cells([block, block], day, {1: NY})[1]) == 2


def test_a_local_date_maps_to_a_utc_interval_per_zone() -> None:
    lo, hi = local_day_bounds(NY, SPRING_FORWARD)
    assert hi - lo == 23 * 3600
    lo, hi = local_day_bounds(NY, FALL_BACK)
    assert hi - lo == 25 * 3600
    both = utc_window([NY, PHOENIX], date(2026, 7, 7), date(2026, 7, 7))
    assert both == (
        local_day_bounds(NY, date(2026, 7, 7))[0],
        local_day_bounds(PHOENIX, date(2026, 7, 7))[1],
    )


ZONES = st.sampled_from([NY, PHOENIX, "Europe/London", "Australia/Lord_Howe", "America/Santiago"])
DAYS = st.sampled_from(
    [
        SPRING_FORWARD,
        FALL_BACK,
        date(2026, 3, 29),
        date(2026, 10, 25),
        date(2026, 4, 5),
        date(2026, 9, 6),
        date(2026, 1, 14),
    ]
)


@settings(max_examples=150, deadline=None)
@given(
    zone=ZONES,
    day=DAYS,
    start_minute=st.integers(0, 23 * 60 - 15).map(lambda m: m - m % 15),
    length=st.integers(1, 16).map(lambda n: n * 15),
    minutes=st.sampled_from([10, 15, 20, 30, 45, 60, 90]),
)
def test_slots_never_overlap_last_their_minutes_and_stay_on_their_local_day(
    zone: str, day: date, start_minute: int, length: int, minutes: int
) -> None:
    end_minute = min(start_minute + length, 24 * 60 - 1)
    block = _block(day, time(*divmod(start_minute, 60)), time(*divmod(end_minute, 60)), minutes)
    cells = block_cells(block, day, zone)
    assert all(c[END] - c[START] == minutes * 60 for c in cells)
    assert all(a[END] <= b[START] for a, b in itertools.pairwise(cells))
    lo, hi = local_day_bounds(zone, day)
    assert all(lo <= c[START] and c[END] <= hi for c in cells)
    for c in cells:
        wall = datetime.fromtimestamp(c[START], ZoneInfo(zone))
        assert local_date(zone, c[START]) == day
        # Every slot starts on the block's wall-clock grid.
        assert (wall.hour * 60 + wall.minute - start_minute) % minutes == 0
