"""Pure parts of the statistics: scheduled capacity and rates."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.capacity import capacity_by_week
from domain.stats import Outcomes, rate


def _schedules(*rows: tuple[int, int, int, time, time, int]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "practitioner_id": p,
                "clinic_id": c,
                "weekday": wd,
                "start_time": s,
                "end_time": e,
                "capacity": seats,
                "valid_from": date(2000, 1, 1),
                "valid_to": None,
            }
            for p, c, wd, s, e, seats in rows
        ]
    )


def _exceptions(*rows: tuple[int | None, int | None, datetime, datetime]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["practitioner_id", "clinic_id", "start_at", "end_at"])


def _ny(d: date, t: time) -> datetime:
    return datetime.combine(d, t, ZoneInfo("America/New_York")).astimezone(UTC)


def test_a_block_across_the_spring_and_autumn_dst_switch_has_its_real_length() -> None:
    # Sundays 01:00-04:00 in New York: 2 hours on 8 March 2026, 4 hours on 1 November.
    blocks = _schedules((1, 1, 6, time(1), time(4), 1))
    zones = {1: "America/New_York"}
    spring = capacity_by_week(blocks, _exceptions(), zones, date(2026, 3, 8), date(2026, 3, 8))
    autumn = capacity_by_week(blocks, _exceptions(), zones, date(2026, 11, 1), date(2026, 11, 1))
    plain = capacity_by_week(blocks, _exceptions(), zones, date(2026, 3, 15), date(2026, 3, 15))
    assert spring["capacity_minutes"].tolist() == [120]
    assert autumn["capacity_minutes"].tolist() == [240]
    assert plain["capacity_minutes"].tolist() == [180]


def test_overlapping_exceptions_are_taken_out_once_and_only_where_they_apply() -> None:
    monday = date(2026, 2, 2)
    blocks = _schedules(
        (1, 10, 0, time(9), time(17), 1),  # 480 min
        (2, 10, 0, time(9), time(12), 1),  # 180 min
        (3, 20, 0, time(9), time(10, 30), 4),  # group block: 90 min x 4 seats
    )
    zones = {10: "America/New_York", 20: "America/New_York"}
    exceptions = _exceptions(
        (1, None, _ny(monday, time(8)), _ny(monday, time(11))),  # leave, 2 h of the block
        (None, 10, _ny(monday, time(10)), _ny(monday, time(12))),  # clinic 10 closed 10-12
        (2, 20, _ny(monday, time(9)), _ny(monday, time(17))),  # Dr 2 at another clinic
        (None, None, _ny(monday, time(16)), _ny(monday, time(16, 30))),  # everyone
    )
    table = capacity_by_week(blocks, exceptions, zones, monday, monday + pd.Timedelta(days=6))
    minutes = dict(zip(table["practitioner_id"], table["capacity_minutes"], strict=True))
    # Dr 1: 480 - (9-12 covered by the union of 8-11 and 10-12 = 180) - 30 = 270
    # Dr 2: 180 - (10-12) = 60; Dr 3: (90 - 0) x 4 seats
    assert minutes == {1: 270, 2: 60, 3: 360}
    assert set(table["week_start"]) == {pd.Timestamp(monday)}


def test_blocks_count_only_inside_their_validity_and_the_period() -> None:
    blocks = _schedules((1, 1, 0, time(9), time(10), 1), (1, 1, 1, time(9), time(10), 1))
    blocks.loc[1, "valid_to"] = date(2026, 2, 9)
    zones = {1: "America/New_York"}
    # Mondays 2, 9, 16 Feb; Tuesdays 3 and 10 (valid until the 9th: only the 3rd).
    table = capacity_by_week(blocks, _exceptions(), zones, date(2026, 2, 2), date(2026, 2, 16))
    assert table["capacity_minutes"].tolist() == [120, 60, 60]
    assert capacity_by_week(blocks, _exceptions(), {}, date(2026, 2, 2), date(2026, 2, 16)).empty


def test_rates_over_nothing_are_zero() -> None:
    assert rate(3, 0) == 0.0 and rate(1, 4) == 0.25
    empty = Outcomes()
    assert (empty.no_show_rate, empty.completion_rate, empty.cancellation_rate) == (0, 0, 0)


@settings(max_examples=60, deadline=None)
@given(
    start=st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31)),
    days=st.integers(min_value=0, max_value=800),
)
def test_every_day_of_any_period_is_laid_out_including_the_last(start: date, days: int) -> None:
    from datetime import timedelta

    end = start + timedelta(days=days)
    every_day = _schedules(*[(1, 1, wd, time(10), time(11), 1) for wd in range(7)])
    table = capacity_by_week(every_day, _exceptions(), {1: "Asia/Tokyo"}, start, end)
    assert table["capacity_minutes"].sum() == 60 * (days + 1)
