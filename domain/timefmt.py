"""Dates and times as messages show them: in the clinic's own time zone."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo


def fmt_when(at: datetime, timezone: str) -> str:
    """'Tue 24 Mar 2026 09:00' in the clinic's own time."""
    return at.astimezone(ZoneInfo(timezone)).strftime("%a %d %b %Y %H:%M")


def fmt_span(start: datetime, end: datetime, timezone: str) -> str:
    """'Tue 24 Mar 2026 09:00-09:30' (the end date is shown too when it differs)."""
    tz = ZoneInfo(timezone)
    s, e = start.astimezone(tz), end.astimezone(tz)
    tail = e.strftime("%H:%M") if s.date() == e.date() else e.strftime("%a %d %b %Y %H:%M")
    return f"{s.strftime('%a %d %b %Y %H:%M')}-{tail}"
