"""Scheduled capacity: the seat-minutes practitioners offered, from weekly schedule blocks
minus schedule exceptions (leave, holidays, closures).

Pure pandas/numpy over small frames; no database. A block's minutes are measured between
its real start and end instants in the clinic's zone, so a block that spans a DST change is
an hour shorter or longer that day; a block's seats (group sessions hold several patients)
multiply its minutes, to match booked minutes, which count every patient's visit.
"""

from __future__ import annotations

from datetime import date, datetime, time

import numpy as np
import pandas as pd

CAPACITY_COLUMNS = ("practitioner_id", "clinic_id", "week_start", "capacity_minutes")
_NS_PER_MINUTE = 60 * 10**9


def _minute_of_day(value: time | str) -> int:
    if isinstance(value, str):
        value = time.fromisoformat(value)
    return value.hour * 60 + value.minute


def _to_utc_ns(local_ns: np.ndarray, zone: str) -> np.ndarray:
    """UTC nanoseconds of naive local wall times (given as ns since 1970) in ``zone``.

    A wall time skipped by a spring-forward change moves forward to the first real
    instant; one repeated by a fall-back change takes its first occurrence. Only the
    distinct wall times are converted (a year of blocks has a few thousand).
    """
    unique, inverse = np.unique(local_ns, return_inverse=True)
    idx = pd.DatetimeIndex(unique.astype("datetime64[ns]"))
    utc = idx.tz_localize(
        zone, ambiguous=np.ones(len(idx), dtype=bool), nonexistent="shift_forward"
    )
    return np.asarray(utc.asi8)[inverse]


def _day_ns(values: pd.Series, missing: int) -> np.ndarray:
    """Dates as ns since 1970 (naive midnight); ``missing`` for None."""
    out = np.full(len(values), missing, dtype=np.int64)
    for i, v in enumerate(values):
        if v is not None and not pd.isna(v):
            out[i] = pd.Timestamp(v).value
    return out


def empty_capacity() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "practitioner_id": pd.Series(dtype="int64"),
            "clinic_id": pd.Series(dtype="int64"),
            "week_start": pd.Series(dtype="datetime64[ns]"),
            "capacity_minutes": pd.Series(dtype="int64"),
        }
    )


def block_occurrences(
    schedules: pd.DataFrame, zones: dict[int, str], start: date, end: date
) -> pd.DataFrame:
    """Every dated occurrence of the weekly blocks between two local dates (inclusive).

    ``schedules`` columns: practitioner_id, clinic_id, weekday (Monday = 0), start_time,
    end_time, capacity, valid_from, valid_to (None = open-ended). Blocks of clinics
    missing from ``zones`` are ignored. Returns practitioner_id, clinic_id, day,
    start_ns, end_ns (UTC), seats.
    """
    columns = ["practitioner_id", "clinic_id", "day", "start_ns", "end_ns", "seats"]
    if schedules.empty:
        return pd.DataFrame(columns=columns)
    days = pd.date_range(start, end, freq="D").as_unit("ns")
    day_ns = days.asi8
    day_wd = days.day_of_week.to_numpy()
    s = schedules[schedules["clinic_id"].isin(list(zones))]
    valid_from = _day_ns(s["valid_from"], np.iinfo(np.int64).min)
    valid_to = _day_ns(s["valid_to"], np.iinfo(np.int64).max)
    weekday = s["weekday"].to_numpy(dtype=np.int64)
    parts = []
    for wd in range(7):
        blocks = np.flatnonzero(weekday == wd)
        dated = day_ns[day_wd == wd]
        if len(blocks) == 0 or len(dated) == 0:
            continue
        b = np.repeat(blocks, len(dated))
        d = np.tile(dated, len(blocks))
        keep = (d >= valid_from[b]) & (d <= valid_to[b])
        parts.append((b[keep], d[keep]))
    if not parts:
        return pd.DataFrame(columns=columns)
    b = np.concatenate([p[0] for p in parts])
    d = np.concatenate([p[1] for p in parts])
    start_min = np.array([_minute_of_day(t) for t in s["start_time"]], dtype=np.int64)
    end_min = np.array([_minute_of_day(t) for t in s["end_time"]], dtype=np.int64)
    clinic = s["clinic_id"].to_numpy(dtype=np.int64)[b]
    local_start = d + start_min[b] * _NS_PER_MINUTE
    local_end = d + end_min[b] * _NS_PER_MINUTE
    start_ns = np.empty(len(b), dtype=np.int64)
    end_ns = np.empty(len(b), dtype=np.int64)
    for zone in set(zones.values()):
        m = np.isin(clinic, [c for c, z in zones.items() if z == zone])
        if m.any():
            start_ns[m] = _to_utc_ns(local_start[m], zone)
            end_ns[m] = _to_utc_ns(local_end[m], zone)
    return pd.DataFrame(
        {
            "practitioner_id": s["practitioner_id"].to_numpy(dtype=np.int64)[b],
            "clinic_id": clinic,
            "day": d,
            "start_ns": start_ns,
            "end_ns": end_ns,
            "seats": s["capacity"].to_numpy(dtype=np.int64)[b],
        }
    )


def _excluded_ns(occ: pd.DataFrame, exceptions: pd.DataFrame) -> np.ndarray:
    """Per occurrence, the nanoseconds covered by applicable exceptions (overlapping
    exceptions counted once)."""
    out = np.zeros(len(occ), dtype=np.int64)
    if occ.empty or exceptions.empty:
        return out
    # Only exceptions that name no one, or someone with blocks here, can matter.
    exceptions = exceptions[
        (
            exceptions["practitioner_id"].isna()
            | exceptions["practitioner_id"].isin(occ["practitioner_id"].unique().tolist())
        )
        & (
            exceptions["clinic_id"].isna()
            | exceptions["clinic_id"].isin(occ["clinic_id"].unique().tolist())
        )
    ]
    occ_start = occ["start_ns"].to_numpy()
    occ_end = occ["end_ns"].to_numpy()
    occ_prac = occ["practitioner_id"].to_numpy()
    occ_clinic = occ["clinic_id"].to_numpy()
    order = np.argsort(occ_start, kind="stable")
    sorted_start = occ_start[order]
    longest = int((occ_end - occ_start).max())
    pair_occ: list[np.ndarray] = []
    pair_lo: list[np.ndarray] = []
    pair_hi: list[np.ndarray] = []
    for e in exceptions.itertuples(index=False):
        e_start = pd.Timestamp(e.start_at).value
        e_end = pd.Timestamp(e.end_at).value
        # Occurrences starting in [e_start - longest block, e_end) are the only candidates.
        lo = np.searchsorted(sorted_start, e_start - longest, side="left")
        hi = np.searchsorted(sorted_start, e_end, side="left")
        cand = order[lo:hi]
        m = (occ_end[cand] > e_start) & (occ_start[cand] < e_end)
        if not pd.isna(e.practitioner_id):
            m &= occ_prac[cand] == int(e.practitioner_id)
        if not pd.isna(e.clinic_id):
            m &= occ_clinic[cand] == int(e.clinic_id)
        hit = cand[m]
        if len(hit):
            pair_occ.append(hit)
            pair_lo.append(np.maximum(occ_start[hit], e_start))
            pair_hi.append(np.minimum(occ_end[hit], e_end))
    if not pair_occ:
        return out
    pairs = pd.DataFrame(
        {
            "occ": np.concatenate(pair_occ),
            "lo": np.concatenate(pair_lo),
            "hi": np.concatenate(pair_hi),
        }
    ).sort_values(["occ", "lo"], kind="stable")
    # Union of intervals per occurrence: each interval only adds what lies beyond the
    # furthest end reached by the earlier ones.
    reached = pairs.groupby("occ")["hi"].cummax()
    prev = reached.groupby(pairs["occ"]).shift(1).fillna(np.iinfo(np.int64).min)
    effective_lo = np.maximum(pairs["lo"].to_numpy(), prev.to_numpy(dtype=np.int64))
    added = np.clip(pairs["hi"].to_numpy() - effective_lo, 0, None)
    sums = pd.Series(added).groupby(pairs["occ"].to_numpy()).sum()
    out[sums.index.to_numpy()] = sums.to_numpy()
    return out


def capacity_by_week(
    schedules: pd.DataFrame,
    exceptions: pd.DataFrame,
    zones: dict[int, str],
    start: date,
    end: date,
) -> pd.DataFrame:
    """Capacity seat-minutes per practitioner, clinic and week (Monday of the local date)
    between two local dates, inclusive.

    ``exceptions`` columns: practitioner_id, clinic_id (None = all), start_at, end_at
    (aware datetimes). An exception with neither practitioner nor clinic covers everyone.
    """
    occ = block_occurrences(schedules, zones, start, end)
    if occ.empty:
        return empty_capacity()
    minutes_ns = occ["end_ns"].to_numpy() - occ["start_ns"].to_numpy()
    open_ns = np.clip(minutes_ns - _excluded_ns(occ, exceptions), 0, None)
    day = occ["day"].to_numpy().astype("datetime64[ns]")
    weekday = (day.astype("datetime64[D]").view("i8") + 3) % 7  # 1970-01-01 was a Thursday
    out = pd.DataFrame(
        {
            "practitioner_id": occ["practitioner_id"].to_numpy(),
            "clinic_id": occ["clinic_id"].to_numpy(),
            "week_start": day - weekday.astype("timedelta64[D]"),
            "capacity_minutes": open_ns // _NS_PER_MINUTE * occ["seats"].to_numpy(),
        }
    )
    return out.groupby(
        ["practitioner_id", "clinic_id", "week_start"], as_index=False, sort=True
    ).sum()


def week_start(day: date) -> datetime:
    """Midnight of the Monday of ``day``'s week (naive, as the frames hold it)."""
    return datetime.combine(day, time(0)) - pd.Timedelta(days=day.weekday())
