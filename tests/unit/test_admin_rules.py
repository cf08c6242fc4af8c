"""The pure rules of schedule administration: block shape, overlap across zones,
assignment coverage, exception ranges, settings."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.admin.errors import AdminError
from domain.admin.rules import (
    BlockShape,
    check_block_shape,
    check_setting,
    check_timezone,
    first_clash,
    local_range,
    parse_time,
    parse_weekday,
    remainder_statement,
    uncovered_day,
)

TODAY = date(2026, 3, 18)
NY, PHX, LIS = "America/New_York", "America/Phoenix", "Europe/Lisbon"


def block(
    weekday: int = 5,
    start: str = "09:00",
    end: str = "12:00",
    slot: int = 30,
    capacity: int = 1,
    valid_from: date = date(2026, 3, 1),
    valid_to: date | None = None,
    clinic_id: int = 1,
) -> BlockShape:
    return BlockShape(
        1,
        clinic_id,
        weekday,
        time.fromisoformat(start),
        time.fromisoformat(end),
        slot,
        capacity,
        valid_from,
        valid_to,
    )


def refusal(shape: BlockShape, *, accept: bool = False) -> AdminError:
    with pytest.raises(AdminError) as caught:
        check_block_shape(shape, TODAY, accept_remainder=accept)
    return caught.value


def test_a_block_must_end_after_it_starts() -> None:
    err = refusal(block(start="12:00", end="09:00"))
    assert (err.code, err.field) == ("END_NOT_AFTER_START", "end")
    assert "starts at 12:00 and ends at 09:00" in err.message
    assert refusal(block(start="09:00", end="09:00")).code == "END_NOT_AFTER_START"


def test_capacity_is_at_least_one_patient() -> None:
    err = refusal(block(capacity=0))
    assert (err.code, err.field) == ("INVALID_CAPACITY", "capacity")
    assert refusal(block(capacity=101)).code == "INVALID_CAPACITY"
    assert check_block_shape(block(capacity=8), TODAY, accept_remainder=False) is None


def test_slot_length_must_fit_the_block() -> None:
    assert refusal(block(slot=4)).code == "INVALID_SLOT_LENGTH"
    err = refusal(block(start="09:00", end="09:20", slot=30))
    assert (err.code, err.field) == ("SLOT_LONGER_THAN_BLOCK", "slot_minutes")


def test_a_slot_length_that_leaves_minutes_over_needs_acknowledging_and_is_stated() -> None:
    shape = block(start="09:00", end="12:10", slot=30)
    err = refusal(shape)
    assert (err.code, err.field) == ("SLOT_REMAINDER", "slot_minutes")
    assert err.details["remainder_minutes"] == 10
    statement = check_block_shape(shape, TODAY, accept_remainder=True)
    assert statement == (
        "09:00–12:10 in 30-minute slots makes 6 slots; the last one ends at 12:00, "
        "so the final 10 minutes stay unbooked."
    )
    assert remainder_statement(block(start="09:00", end="12:00", slot=40)) is not None
    assert remainder_statement(block(start="09:00", end="12:00", slot=20)) is None


def test_validity_must_be_in_order_and_not_wholly_past() -> None:
    err = refusal(block(valid_from=date(2026, 4, 1), valid_to=date(2026, 3, 31)))
    assert (err.code, err.field) == ("INVALID_PERIOD", "valid_to")
    err = refusal(block(valid_from=date(2026, 1, 1), valid_to=date(2026, 3, 17)))
    assert (err.code, err.field) == ("PERIOD_IN_PAST", "valid_to")


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0, 0), (6, 6), ("5", 5), ("Saturday", 5), ("sat", 5), (" MONDAY ", 0), ("Sun", 6)],
)
def test_weekdays_by_number_or_name(value: object, expected: int) -> None:
    assert parse_weekday(value) == expected


@pytest.mark.parametrize("value", [7, -1, True, "Someday", "", None, 2.0])
def test_unknown_weekdays_are_refused(value: object) -> None:
    with pytest.raises(AdminError) as caught:
        parse_weekday(value)
    assert caught.value.code == "INVALID_WEEKDAY"


@pytest.mark.parametrize("value", ["9", "09:60", "25:00", "24:00", "9.30", "", None, "09:5"])
def test_times_are_hh_mm(value: object) -> None:
    with pytest.raises(AdminError) as caught:
        parse_time(value, "start", "Start time")
    assert (caught.value.code, caught.value.field) == ("INVALID_TIME", "start")
    assert parse_time("9:05", "start", "Start time") == time(9, 5)


def test_time_zones_are_iana_names() -> None:
    assert check_timezone(" America/Phoenix ") == "America/Phoenix"
    for bad in ("EST", "Mars/Olympus", "", None, "../../etc/passwd"):
        with pytest.raises(AdminError) as caught:
            check_timezone(bad)
        assert (caught.value.code, caught.value.field) == ("UNKNOWN_TIMEZONE", "timezone")


# --------------------------------------------------------------------------- overlaps


def test_blocks_on_the_same_clock_overlap_when_hours_and_dates_meet() -> None:
    saturday_morning = block(5, "09:00", "12:00")
    assert first_clash(block(5, "11:30", "13:00"), NY, saturday_morning, NY) == date(2026, 3, 7)
    assert first_clash(block(5, "12:00", "13:00"), NY, saturday_morning, NY) is None  # touching
    assert first_clash(block(4, "09:00", "12:00"), NY, saturday_morning, NY) is None
    later = block(5, "09:00", "12:00", valid_from=date(2026, 6, 1))
    ended = block(5, "09:00", "12:00", valid_to=date(2026, 5, 31))
    assert first_clash(later, NY, ended, NY) is None


def test_a_short_common_period_without_that_weekday_is_no_overlap() -> None:
    # Both cover only Mon 16 - Wed 18 March: no Saturday in common.
    a = block(5, valid_from=date(2026, 3, 16), valid_to=date(2026, 3, 18))
    b = block(5, valid_from=date(2026, 3, 10), valid_to=date(2026, 3, 18))
    assert first_clash(a, NY, b, NY) is None


def test_blocks_at_clinics_in_different_zones_are_compared_in_real_time() -> None:
    # 09:00-12:00 in Phoenix (UTC-7 all year) is 11:00-14:00 EST or 12:00-15:00 EDT in
    # New York: 13:00-14:00 New York time clashes with it all year round.
    phoenix = block(2, "09:00", "12:00", clinic_id=2)
    assert first_clash(block(2, "13:00", "14:00"), NY, phoenix, PHX) == date(2026, 3, 4)
    # 09:00-10:00 New York is 06:00/07:00 in Phoenix: before the Phoenix block opens.
    assert first_clash(block(2, "09:00", "10:00"), NY, phoenix, PHX) is None


def test_a_clash_that_only_exists_while_one_zone_keeps_summer_time_is_found() -> None:
    # New York 14:00-15:00 is 11:00-12:00 Phoenix time in summer (EDT, UTC-4) but
    # 12:00-13:00 in winter: it meets a Phoenix 09:00-12:00 block only in summer.
    phoenix = block(2, "09:00", "12:00", valid_from=date(2026, 1, 1), clinic_id=2)
    ny = block(2, "14:00", "15:00", valid_from=date(2026, 1, 1))
    clash = first_clash(ny, NY, phoenix, PHX)
    assert clash == date(2026, 3, 11)  # the first Wednesday after the spring change (8 Mar)


def test_blocks_meet_across_midnight_in_far_apart_zones() -> None:
    # Lisbon Saturday 00:00-02:00 (UTC+0 in winter) is Friday 19:00-21:00 in New York.
    lisbon = block(5, "00:00", "02:00", valid_from=date(2026, 1, 1), clinic_id=2)
    ny_friday_evening = block(4, "20:00", "22:00", valid_from=date(2026, 1, 1))
    assert first_clash(ny_friday_evening, NY, lisbon, LIS) == date(2026, 1, 2)


# --------------------------------------------------------------------------- coverage


def test_assignment_periods_must_cover_every_day_of_a_block() -> None:
    periods = [(date(2026, 1, 1), date(2026, 3, 31)), (date(2026, 4, 1), None)]
    assert uncovered_day(periods, date(2026, 3, 1), None) is None
    gap = [(date(2026, 1, 1), date(2026, 3, 31)), (date(2026, 4, 3), None)]
    assert uncovered_day(gap, date(2026, 3, 1), None) == date(2026, 4, 1)
    assert uncovered_day(gap, date(2026, 3, 1), date(2026, 3, 31)) is None
    assert uncovered_day([], date(2026, 3, 1), None) == date(2026, 3, 1)
    assert uncovered_day([(date(2026, 3, 5), None)], date(2026, 3, 1), None) == date(2026, 3, 1)


@given(
    st.lists(
        st.tuples(st.integers(0, 60), st.integers(0, 30), st.booleans()), min_size=0, max_size=4
    ),
    st.integers(0, 60),
    st.integers(0, 40),
)
def test_uncovered_day_is_the_first_day_no_period_covers(
    raw: list[tuple[int, int, bool]], start: int, length: int
) -> None:
    base = date(2026, 1, 1)
    periods = [
        (base + timedelta(days=a), None if open_ else base + timedelta(days=a + n))
        for a, n, open_ in raw
    ]
    first, last = base + timedelta(days=start), base + timedelta(days=start + length)

    def covered(d: date) -> bool:
        return any(p <= d and (q is None or d <= q) for p, q in periods)

    expected = next(
        (
            first + timedelta(days=k)
            for k in range(length + 1)
            if not covered(first + timedelta(days=k))
        ),
        None,
    )
    assert uncovered_day(periods, first, last) == expected


# --------------------------------------------------------------------------- exceptions


def test_an_exception_range_is_read_on_the_clinics_clock() -> None:
    start, end = local_range(NY, date(2026, 3, 21), None, date(2026, 3, 21), None)
    assert start == datetime(2026, 3, 21, 4, 0, tzinfo=UTC)  # EDT, UTC-4
    assert end == datetime(2026, 3, 22, 4, 0, tzinfo=UTC)
    start, end = local_range(NY, date(2026, 3, 7), time(9), date(2026, 3, 9), time(12))
    assert start == datetime(2026, 3, 7, 14, 0, tzinfo=UTC)  # EST before the change
    assert end == datetime(2026, 3, 9, 16, 0, tzinfo=UTC)  # EDT after it


def test_an_exception_must_end_after_it_starts_and_not_run_for_years() -> None:
    with pytest.raises(AdminError) as caught:
        local_range(NY, date(2026, 3, 21), time(12), date(2026, 3, 21), time(9))
    assert (caught.value.code, caught.value.field) == ("END_NOT_AFTER_START", "end")
    with pytest.raises(AdminError) as caught:
        local_range(NY, date(2026, 1, 1), None, date(2027, 6, 1), None)
    assert caught.value.code == "RANGE_TOO_LONG"


# --------------------------------------------------------------------------- settings


@pytest.mark.parametrize(
    ("name", "value", "ok"),
    [
        ("buffer_minutes", 0, True),
        ("buffer_minutes", 240, True),
        ("buffer_minutes", 241, False),
        ("buffer_minutes", -5, False),
        ("buffer_minutes", "15", True),
        ("buffer_minutes", 7.5, False),
        ("buffer_minutes", True, False),
        ("min_notice_minutes", 43_200, True),
        ("min_notice_minutes", 43_201, False),
        ("booking_horizon_days", 0, False),
        ("booking_horizon_days", 1, True),
        ("booking_horizon_days", None, False),
    ],
)
def test_settings_stay_in_their_ranges(name: str, value: object, ok: bool) -> None:
    if ok:
        assert check_setting(name, value) == int(value)  # type: ignore[call-overload]
    else:
        with pytest.raises(AdminError) as caught:
            check_setting(name, value)
        assert caught.value.field == name
        assert caught.value.code == "INVALID_SETTING"
