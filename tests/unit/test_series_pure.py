"""The pure half of recurring series: occurrence instants in the clinic's zone (DST-proof
wall-clock), the horizon and size bounds, rule checks and scopes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from domain.errors import BookingError
from domain.series import MAX_OCCURRENCES, Recurrence, in_scope, occurrence_starts, wall_clock

BERLIN = "Europe/Berlin"
FAR = date(2099, 1, 1)


def _local(starts: list[datetime], tz: str) -> list[tuple[date, time]]:
    return [(s.astimezone(ZoneInfo(tz)).date(), s.astimezone(ZoneInfo(tz)).time()) for s in starts]


@pytest.mark.parametrize(
    ("first_day", "offsets"),
    [
        # Europe springs forward on Sunday 29 March 2026 ...
        (date(2026, 3, 17), [timedelta(hours=1)] * 2 + [timedelta(hours=2)] * 2),
        # ... and falls back on Sunday 25 October 2026.
        (date(2026, 10, 13), [timedelta(hours=2)] * 2 + [timedelta(hours=1)] * 2),
    ],
)
def test_weekly_occurrences_keep_the_wall_clock_across_dst(
    first_day: date, offsets: list[timedelta]
) -> None:
    first = wall_clock(first_day, time(8, 30), BERLIN)
    occ = occurrence_starts(first, BERLIN, Recurrence(1, count=4), FAR)

    assert _local(occ.starts, BERLIN) == [
        (first_day + timedelta(weeks=k), time(8, 30)) for k in range(4)
    ]
    assert [s.astimezone(ZoneInfo(BERLIN)).utcoffset() for s in occ.starts] == offsets
    assert all(s.tzinfo is UTC for s in occ.starts)


def test_every_n_weeks_until_a_date_includes_that_date() -> None:
    first = wall_clock(date(2026, 1, 5), time(9), BERLIN)
    occ = occurrence_starts(first, BERLIN, Recurrence(3, until=date(2026, 3, 9)), FAR)
    assert [d for d, _t in _local(occ.starts, BERLIN)] == [
        date(2026, 1, 5),
        date(2026, 1, 26),
        date(2026, 2, 16),
        date(2026, 3, 9),
    ]
    assert occ.cut_at_horizon is None


def test_the_horizon_and_the_maximum_bound_a_series() -> None:
    first = wall_clock(date(2026, 1, 5), time(9), BERLIN)
    cut = occurrence_starts(first, BERLIN, Recurrence(1, count=10), date(2026, 1, 25))
    assert len(cut.starts) == 3 and cut.cut_at_horizon == date(2026, 1, 25)

    endless = occurrence_starts(first, BERLIN, Recurrence(1, until=date(2030, 1, 1)), FAR)
    assert len(endless.starts) == MAX_OCCURRENCES and endless.cut_at_maximum


def test_a_first_date_beyond_the_horizon_is_kept_for_the_rule_to_refuse() -> None:
    first = wall_clock(date(2026, 6, 1), time(9), BERLIN)
    occ = occurrence_starts(first, BERLIN, Recurrence(1, count=4), date(2026, 5, 1))
    assert occ.starts == [first]


@pytest.mark.parametrize(
    "rule",
    [
        Recurrence(0, count=3),
        Recurrence(53, count=3),
        Recurrence(1),
        Recurrence(1, count=3, until=date(2026, 2, 1)),
        Recurrence(1, count=1),
        Recurrence(1, count=MAX_OCCURRENCES + 1),
        Recurrence(1, until=date(2026, 1, 5)),
    ],
)
def test_a_rule_that_makes_no_series_is_refused(rule: Recurrence) -> None:
    first = wall_clock(date(2026, 1, 5), time(9), BERLIN)
    with pytest.raises(BookingError) as info:
        occurrence_starts(first, BERLIN, rule, FAR)
    assert (info.value.code, info.value.field) == ("INVALID_SERIES", "repeat")


def test_scopes() -> None:
    t = [datetime(2026, 1, d, tzinfo=UTC) for d in (5, 12, 19)]
    occurrences = list(zip((1, 2, 3), t, strict=True))

    def reached(scope: str) -> list[int]:
        return [i for i, s in occurrences if in_scope(scope, 2, t[1], i, s)]

    assert reached("this") == [2]
    assert reached("following") == [2, 3]
    assert reached("all") == [1, 2, 3]
    with pytest.raises(BookingError):
        in_scope("some", 2, t[1], 1, t[0])
