"""Scheduled capacity: the seat-minutes practitioners offered, from weekly schedule blocks
minus schedule exceptions (leave, holidays, closures).

Pure numpy over small inputs; no database. A block's minutes are measured between its real
start and end instants in the clinic's zone, so a block that spans a DST change is an hour
shorter or longer that day. A block's seats (group sessions hold several patients)
multiply its minutes, to match booked minutes, which count every patient's visit.
"""

from __future__ import annotations

from datetime import date, time

import numpy as np
import pandas as pd

CAPACITY_COLUMNS = ("practitioner_id", "clinic_id", "week_start", "capacity_minutes")
_NS_PER_SECOND = 10**9
_DAY_NS = 86400 * _NS_PER_SECOND


def _minute_of_day(value: time | str) -> int:
    if isinstance(value, str):
        value = time.fromisoformat(value)
    return value.hour * 60 + value.minute


def _day_ns(values: pd.Series, missing: int) -> np.ndarray:
    """Dates as ns since 1970 (naive midnight); ``missing`` for None."""
    out = np.full(len(values), missing, dtype=np.int64)
    for i, v in enumerate(values):
        if v is not None and not pd.isna(v):
            out[i] = pd.Timestamp(v).value
    return out


def _to_utc_ns(days: np.ndarray, minutes: np.ndarray, zone: str) -> np.ndarray:
    """UTC nanoseconds of local wall times ``day + minutes`` (day: ns of a naive local
    midnight) in ``zone``.

    A wall time skipped by a spring-forward change moves forward to the first real
    instant; one repeated by a fall-back change takes its first occurrence. Only the
    distinct (day, minute) pairs are converted: a year of blocks has a few thousand.
    """
    day_idx, day_values = pd.factorize(days)
    minute_idx, minute_values = pd.factorize(minutes)
    grid = (day_values[:, None] + minute_values[None, :] * 60 * _NS_PER_SECOND).ravel()
    idx = pd.DatetimeIndex(grid.astype("datetime64[ns]"))
    utc = idx.tz_localize(
        zone, ambiguous=np.ones(len(idx), dtype=bool), nonexistent="shift_forward"
    )
    return np.asarray(utc.asi8)[day_idx * len(minute_values) + minute_idx]


def empty_capacity() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "practitioner_id": np.zeros(0, dtype=np.int64),
            "clinic_id": np.zeros(0, dtype=np.int64),
            "week_start": np.zeros(0, dtype="datetime64[ns]"),
            "capacity_minutes": np.zeros(0, dtype=np.int64),
        }
    )


def block_occurrences(
    schedules: pd.DataFrame, zones: dict[int, str], start: date, end: date
) -> dict[str, np.ndarray]:
    """Every dated occurrence of the weekly blocks between two local dates (inclusive).

    ``schedules`` columns: practitioner_id, clinic_id, weekday (Monday = 0), start_time,
    end_time, capacity, valid_from, valid_to (None = open-ended). Blocks of clinics
    missing from ``zones`` are ignored. Returns arrays practitioner_id, clinic_id, day
    (ns, local midnight), start_ns, end_ns (UTC), seats.
    """
    names = ("practitioner_id", "clinic_id", "day", "start_ns", "end_ns", "seats")
    empty = {n: np.zeros(0, dtype=np.int64) for n in names}
    if schedules.empty:
        return empty
    s = schedules[schedules["clinic_id"].isin(list(zones))]
    # Not np.arange(first, last, step): its length is computed in floating point and can
    # drop the last day at nanosecond magnitudes.
    day_ns = pd.Timestamp(start).value + np.arange((end - start).days + 1) * _DAY_NS
    day_wd = (day_ns // _DAY_NS + 3) % 7  # 1970-01-01 was a Thursday
    valid_from = _day_ns(s["valid_from"], np.iinfo(np.int64).min)
    valid_to = _day_ns(s["valid_to"], np.iinfo(np.int64).max)
    weekday = s["weekday"].to_numpy(dtype=np.int64)
    blocks, days = [], []
    for wd in range(7):
        of_day = np.flatnonzero(weekday == wd)
        dated = day_ns[day_wd == wd]
        if len(of_day) == 0 or len(dated) == 0:
            continue
        b = np.repeat(of_day, len(dated))
        d = np.tile(dated, len(of_day))
        keep = (d >= valid_from[b]) & (d <= valid_to[b])
        blocks.append(b[keep])
        days.append(d[keep])
    if not blocks:
        return empty
    b = np.concatenate(blocks)
    d = np.concatenate(days)
    start_min = np.array([_minute_of_day(t) for t in s["start_time"]], dtype=np.int64)[b]
    end_min = np.array([_minute_of_day(t) for t in s["end_time"]], dtype=np.int64)[b]
    clinic = s["clinic_id"].to_numpy(dtype=np.int64)[b]
    start_ns = np.empty(len(b), dtype=np.int64)
    end_ns = np.empty(len(b), dtype=np.int64)
    for zone in set(zones.values()):
        m = np.isin(clinic, [c for c, z in zones.items() if z == zone])
        if m.any():
            start_ns[m] = _to_utc_ns(d[m], start_min[m], zone)
            end_ns[m] = _to_utc_ns(d[m], end_min[m], zone)
    return {
        "practitioner_id": s["practitioner_id"].to_numpy(dtype=np.int64)[b],
        "clinic_id": clinic,
        "day": d,
        "start_ns": start_ns,
        "end_ns": end_ns,
        "seats": s["capacity"].to_numpy(dtype=np.int64)[b],
    }


def _optional_ids(values: pd.Series) -> np.ndarray:
    """Ids with -1 for "everyone"."""
    return np.array([-1 if v is None or pd.isna(v) else int(v) for v in values], dtype=np.int64)


def excluded_seconds(occ: dict[str, np.ndarray], exceptions: pd.DataFrame) -> np.ndarray:
    """Per occurrence, the seconds covered by applicable exceptions (overlaps count once).

    ``exceptions`` columns: practitioner_id, clinic_id (None = everyone), start_at, end_at.
    """
    out = np.zeros(len(occ["start_ns"]), dtype=np.int64)
    if len(out) == 0 or exceptions.empty:
        return out
    occ_start = occ["start_ns"] // _NS_PER_SECOND
    occ_end = occ["end_ns"] // _NS_PER_SECOND
    order = np.argsort(occ_start, kind="stable")
    sorted_start = occ_start[order]
    longest = int((occ_end - occ_start).max())
    e_prac = _optional_ids(exceptions["practitioner_id"])
    e_clinic = _optional_ids(exceptions["clinic_id"])
    e_start = np.array([pd.Timestamp(t).value // _NS_PER_SECOND for t in exceptions["start_at"]])
    e_end = np.array([pd.Timestamp(t).value // _NS_PER_SECOND for t in exceptions["end_at"]])
    pairs_occ, pairs_lo, pairs_hi = [], [], []
    for i in range(len(e_start)):
        # Only occurrences starting in [exception start - longest block, exception end).
        lo = np.searchsorted(sorted_start, e_start[i] - longest, side="left")
        hi = np.searchsorted(sorted_start, e_end[i], side="left")
        cand = order[lo:hi]
        m = (occ_end[cand] > e_start[i]) & (occ_start[cand] < e_end[i])
        if e_prac[i] >= 0:
            m &= occ["practitioner_id"][cand] == e_prac[i]
        if e_clinic[i] >= 0:
            m &= occ["clinic_id"][cand] == e_clinic[i]
        hit = cand[m]
        if len(hit):
            pairs_occ.append(hit)
            pairs_lo.append(np.maximum(occ_start[hit], e_start[i]))
            pairs_hi.append(np.minimum(occ_end[hit], e_end[i]))
    if not pairs_occ:
        return out
    which = np.concatenate(pairs_occ)
    lo_s = np.concatenate(pairs_lo) - occ_start[which]  # seconds into the occurrence
    hi_s = np.concatenate(pairs_hi) - occ_start[which]
    # Union per occurrence in one pass: shift each occurrence onto its own stretch of the
    # number line, sort, and let an interval only add what lies beyond the furthest end
    # reached before it (a running maximum that cannot leak between occurrences).
    stretch = int(hi_s.max()) + 1
    lo_s = lo_s + which * stretch
    hi_s = hi_s + which * stretch
    by_start = np.lexsort((lo_s, which))
    lo_s, hi_s, which = lo_s[by_start], hi_s[by_start], which[by_start]
    reached = np.maximum.accumulate(hi_s)
    before = np.concatenate(([np.iinfo(np.int64).min], reached[:-1]))
    added = np.clip(hi_s - np.maximum(lo_s, before), 0, None)
    np.add.at(out, which, added)
    return out


def capacity_by_week(
    schedules: pd.DataFrame,
    exceptions: pd.DataFrame,
    zones: dict[int, str],
    start: date,
    end: date,
) -> pd.DataFrame:
    """Capacity seat-minutes per practitioner, clinic and week (week_start: the Monday of
    the local date, as datetime64) between two local dates, inclusive."""
    occ = block_occurrences(schedules, zones, start, end)
    if len(occ["day"]) == 0:
        return empty_capacity()
    seconds = (occ["end_ns"] - occ["start_ns"]) // _NS_PER_SECOND
    open_seconds = np.clip(seconds - excluded_seconds(occ, exceptions), 0, None)
    minutes = open_seconds // 60 * occ["seats"]
    day = occ["day"] // _DAY_NS
    week = day - (day + 3) % 7
    # One integer per (practitioner, clinic, week) to group on.
    p_idx, pracs = pd.factorize(occ["practitioner_id"])
    c_idx, clinics = pd.factorize(occ["clinic_id"])
    first_week = int(week.min())
    n_weeks = (int(week.max()) - first_week) // 7 + 1
    key = (p_idx * len(clinics) + c_idx) * n_weeks + (week - first_week) // 7
    totals = np.bincount(key, weights=minutes)
    groups = np.flatnonzero(np.bincount(key))
    totals = totals[groups]
    return pd.DataFrame(
        {
            "practitioner_id": np.asarray(pracs)[groups // n_weeks // len(clinics)],
            "clinic_id": np.asarray(clinics)[groups // n_weeks % len(clinics)],
            "week_start": ((groups % n_weeks * 7 + first_week) * _DAY_NS).astype("datetime64[ns]"),
            "capacity_minutes": totals.astype(np.int64),
        }
    )
