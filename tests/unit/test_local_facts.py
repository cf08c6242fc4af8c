"""The clinic-local facts stored on appointments (data/local_facts.py): the per-row
derivation (ORM writers) and the vectorized one (bulk writers) agree with zoneinfo,
across DST changes and local midnight."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from data.local_facts import local_facts, local_facts_frame

ZONES = {1: "America/New_York", 2: "Australia/Lord_Howe", 3: "America/Sao_Paulo", 4: "UTC"}
LO = datetime(2015, 1, 1, tzinfo=UTC)


def test_a_new_york_evening_is_the_previous_utc_day_and_dst_days_keep_wall_hours() -> None:
    ny = "America/New_York"
    # 2026-03-08 (spring forward): 09:00 local is 13:00 UTC, not 14:00.
    assert local_facts(datetime(2026, 3, 8, 13, tzinfo=UTC), None, False, ny) == (
        date(2026, 3, 8),
        9,
        0,
    )
    # 2026-11-01 (fall back): 01:30 happens twice; the second one is 06:30 UTC.
    assert local_facts(datetime(2026, 11, 1, 6, 30, tzinfo=UTC), None, False, ny)[:2] == (
        date(2026, 11, 1),
        1,
    )
    # 23:30 local on Jan 27 is 04:30 UTC on Jan 28; booked at 23:59 local the day before
    # the visit (04:59 UTC on the 27th) is one local day ahead.
    assert local_facts(
        datetime(2026, 1, 28, 4, 30, tzinfo=UTC),
        datetime(2026, 1, 27, 4, 59, tzinfo=UTC),
        False,
        ny,
    ) == (date(2026, 1, 27), 23, 1)


def test_a_date_only_row_has_a_date_and_a_lead_but_no_hour() -> None:
    start = datetime.combine(date(2016, 5, 2), datetime.min.time(), ZoneInfo("America/Sao_Paulo"))
    booked = datetime(2016, 4, 29, 15, tzinfo=UTC)
    assert local_facts(start, booked, True, "America/Sao_Paulo") == (date(2016, 5, 2), None, 3)
    frame = pd.DataFrame(
        {"clinic_id": [3], "start_at": [start], "booked_at": [booked], "date_only": [True]}
    )
    facts = local_facts_frame(frame, ZONES)
    assert facts["local_date"].tolist() == [date(2016, 5, 2)]
    assert facts["local_hour"].isna().tolist() == [True]
    assert facts["lead_days"].tolist() == [3]


def test_naive_values_are_utc() -> None:
    assert local_facts(
        datetime(2026, 7, 1, 2), datetime(2026, 6, 1), False, "America/New_York"
    ) == (
        date(2026, 6, 30),
        22,
        30,  # booked 2026-05-31 20:00 local
    )


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(sorted(ZONES)),
            st.integers(min_value=0, max_value=12 * 365 * 86400),
            st.integers(min_value=-400 * 86400, max_value=400 * 86400),
            st.booleans(),
        ),
        min_size=1,
        max_size=40,
    )
)
def test_the_bulk_derivation_agrees_with_the_per_row_one(
    rows: list[tuple[int, int, int, bool]],
) -> None:
    starts = [LO + timedelta(seconds=s) for _, s, _, _ in rows]
    booked = [
        start - timedelta(seconds=lead) for start, (_, _, lead, _) in zip(starts, rows, strict=True)
    ]
    frame = pd.DataFrame(
        {
            "clinic_id": [c for c, _, _, _ in rows],
            "start_at": starts,
            "booked_at": booked,
            "date_only": [d for _, _, _, d in rows],
        }
    )
    facts = local_facts_frame(frame, ZONES)
    for i, (clinic, _, _, date_only) in enumerate(rows):
        expected = local_facts(starts[i], booked[i], date_only, ZONES[clinic])
        hour = facts["local_hour"].iloc[i]
        got = (
            facts["local_date"].iloc[i],
            None if pd.isna(hour) else int(hour),
            int(facts["lead_days"].iloc[i]),
        )
        assert got == expected
