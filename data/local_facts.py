"""Clinic-local facts stored on every appointment, derived here and nowhere else.

Statistics group appointments by the clinic-local date and hour of their start and by
the booking lead time in local days. Working these out per row at query time (time-zone
conversion of millions of instants) is what made full-organization statistics slow, so
every writer stores them beside ``start_at``:

- ``local_date``: the clinic-local calendar date of ``start_at``;
- ``local_hour``: the clinic-local hour (0-23) of ``start_at``; NULL for date-only rows
  (imported history that recorded only the day has no time of day);
- ``lead_days``: ``local_date`` minus the clinic-local date of ``booked_at`` (negative
  when the booking was recorded after the day, which imported history contains).

Writers: ORM inserts and updates of ``Appointment`` get them from a flush hook
(``data/models.py`` registers ``set_local_facts``), so ``AppointmentService`` and every
test factory are covered; bulk writers (the seed, history import) call
``local_facts_frame``; a clinic's time-zone change and the migration that added the
columns call ``refresh_local_facts``. Tests check that the three agree, DST days
included.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from sqlalchemy import text
from sqlalchemy.engine import Connection

FACT_COLUMNS: tuple[str, ...] = ("local_date", "local_hour", "lead_days")


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; they are UTC by the storage convention.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def local_facts(
    start_at: datetime, booked_at: datetime | None, date_only: bool, timezone: str
) -> tuple[date, int | None, int]:
    """(local_date, local_hour, lead_days) of one appointment in a clinic's zone."""
    tz = ZoneInfo(timezone)
    start = _aware(start_at).astimezone(tz)
    booked = _aware(booked_at).astimezone(tz).date() if booked_at is not None else start.date()
    return start.date(), None if date_only else start.hour, (start.date() - booked).days


def local_facts_frame(frame: pd.DataFrame, clinic_tz: Mapping[int, str]) -> pd.DataFrame:
    """The facts of many appointments at once: ``frame`` has clinic_id, start_at,
    booked_at (aware or UTC-naive) and optionally date_only; returns local_date (dates),
    local_hour (nullable Int16) and lead_days (int64) on the same index."""
    n = len(frame)
    day = np.zeros(n, dtype="datetime64[D]")
    hour = np.zeros(n, dtype=np.int64)
    booked_day = np.zeros(n, dtype="datetime64[D]")
    clinic = frame["clinic_id"].to_numpy()
    start = pd.to_datetime(frame["start_at"], utc=True)
    booked = pd.to_datetime(frame["booked_at"], utc=True)
    for cid in pd.unique(clinic):
        mask = clinic == cid
        tz = clinic_tz[int(cid)]
        local = pd.DatetimeIndex(start[mask]).tz_convert(tz).tz_localize(None)
        day[mask] = local.to_numpy().astype("datetime64[D]")
        hour[mask] = local.hour.to_numpy()
        booked_local = pd.DatetimeIndex(booked[mask]).tz_convert(tz).tz_localize(None)
        booked_day[mask] = booked_local.to_numpy().astype("datetime64[D]")
    date_only = (
        frame["date_only"].to_numpy(dtype=bool) if "date_only" in frame else np.zeros(n, bool)
    )
    local_hour = pd.array(hour, dtype="Int16")
    local_hour[date_only] = pd.NA
    return pd.DataFrame(
        {
            "local_date": day.astype(object),
            "local_hour": local_hour,
            "lead_days": (day - booked_day).astype(np.int64),
        },
        index=frame.index,
    )


def set_local_facts(connection: Connection, target: Any) -> None:
    """Flush hook: (re)derive an ORM-written appointment's facts from its own columns."""
    timezone = connection.execute(
        text("SELECT timezone FROM clinics WHERE id = :id"), {"id": target.clinic_id}
    ).scalar_one()
    target.local_date, target.local_hour, target.lead_days = local_facts(
        target.start_at, target.booked_at, bool(target.date_only), timezone
    )


_BATCH_ROWS = 50_000


def refresh_local_facts(connection: Connection, clinic_id: int | None = None) -> int:
    """Recompute the stored facts of every appointment (of one clinic, when given) from
    start_at, booked_at, date_only and the clinic's current zone; returns the rows
    rewritten. PostgreSQL converts in one set-based UPDATE (its zone database, the same
    IANA rules as zoneinfo); SQLite has no zones, so rows go through
    ``local_facts_frame`` in batches."""
    where = "" if clinic_id is None else f"AND a.clinic_id = {int(clinic_id)}"
    if connection.dialect.name == "postgresql":
        result = connection.execute(
            text(
                "UPDATE appointments a SET "
                "local_date = (a.start_at AT TIME ZONE c.timezone)::date, "
                "local_hour = CASE WHEN a.date_only THEN NULL ELSE "
                "extract(hour FROM a.start_at AT TIME ZONE c.timezone)::smallint END, "
                "lead_days = (a.start_at AT TIME ZONE c.timezone)::date "
                "- (a.booked_at AT TIME ZONE c.timezone)::date "
                f"FROM clinics c WHERE c.id = a.clinic_id {where}"
            )
        )
        return max(result.rowcount, 0)
    zones = dict(connection.execute(text("SELECT id, timezone FROM clinics")).all())
    done, last_id = 0, 0
    while True:
        batch = pd.DataFrame(
            connection.execute(
                text(
                    "SELECT a.id, a.clinic_id, a.start_at, a.booked_at, a.date_only "
                    f"FROM appointments a WHERE a.id > :last {where} ORDER BY a.id LIMIT :n"
                ),
                {"last": last_id, "n": _BATCH_ROWS},
            ).all(),
            columns=["id", "clinic_id", "start_at", "booked_at", "date_only"],
        )
        if batch.empty:
            return done
        facts = local_facts_frame(batch, zones)
        connection.execute(
            text(
                "UPDATE appointments SET local_date = :d, local_hour = :h, lead_days = :l "
                "WHERE id = :id"
            ),
            [
                {
                    "id": int(i),
                    "d": d.isoformat(),
                    "h": None if pd.isna(h) else int(h),
                    "l": int(lead),
                }
                for i, d, h, lead in zip(
                    batch["id"],
                    facts["local_date"],
                    facts["local_hour"],
                    facts["lead_days"],
                    strict=True,
                )
            ],
        )
        done += len(batch)
        last_id = int(batch["id"].iloc[-1])
