"""Recurring series, the pure half: which instants a weekly rule gives, and which
occurrences an edit or a cancellation "with scope" reaches. No SQL and no Dash; the
service (``domain.appointments``: ``preview_series``, ``book_series``, ``update_series``,
``cancel_series``) validates and writes.

Occurrences keep the first one's local wall-clock time in the clinic's zone: a 09:00
series stays at 09:00 across a DST change (its UTC instant moves by an hour). A wall time
that does not exist on some date (inside a spring-forward gap) resolves as ``zoneinfo``
does for fold=0, i.e. an hour later by the clock on that date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from domain.errors import BookingError

# A series is booked in one transaction and previewed on one screen: a year of weekly
# visits at most.
MAX_OCCURRENCES = 52
MAX_INTERVAL_WEEKS = 52
SCOPES = ("this", "following", "all")
SCOPE_LABELS = {
    "this": "This appointment only",
    "following": "This and the following ones",
    "all": "All appointments of the series",
}


@dataclass(frozen=True)
class Recurrence:
    """Every ``interval_weeks`` weeks, ``count`` times or until ``until`` (inclusive, a
    clinic-local date); exactly one of the two."""

    interval_weeks: int = 1
    count: int | None = None
    until: date | None = None

    def describe(self) -> str:
        every = "every week" if self.interval_weeks == 1 else f"every {self.interval_weeks} weeks"
        if self.count is not None:
            return f"{every}, {self.count} times"
        return f"{every} until {self.until:%a %d %b %Y}" if self.until else every


def check_recurrence(rule: Recurrence, first_day: date) -> Recurrence:
    """The rule as given, or a BookingError (field "repeat") saying what to fix."""
    interval = rule.interval_weeks
    if isinstance(interval, bool) or not isinstance(interval, int):
        raise BookingError("INVALID_SERIES", "Repeat every whole number of weeks.", "repeat")
    if not 1 <= interval <= MAX_INTERVAL_WEEKS:
        raise BookingError(
            "INVALID_SERIES",
            f"Repeat every 1 to {MAX_INTERVAL_WEEKS} weeks.",
            "repeat",
        )
    if (rule.count is None) == (rule.until is None):
        raise BookingError(
            "INVALID_SERIES",
            "Say how often (a number of appointments) or until which date it repeats.",
            "repeat",
        )
    if rule.count is not None:
        if isinstance(rule.count, bool) or not isinstance(rule.count, int):
            raise BookingError("INVALID_SERIES", "Give a whole number of appointments.", "repeat")
        if not 2 <= rule.count <= MAX_OCCURRENCES:
            raise BookingError(
                "INVALID_SERIES",
                f"A series has 2 to {MAX_OCCURRENCES} appointments.",
                "repeat",
            )
    if rule.until is not None and rule.until <= first_day:
        raise BookingError(
            "INVALID_SERIES",
            f"The end date must be after the first appointment ({first_day:%a %d %b %Y}).",
            "repeat",
        )
    return rule


@dataclass(frozen=True)
class Occurrences:
    starts: list[datetime]  # aware UTC, first one first
    # The rule runs past the organization's booking horizon: the series stops at this
    # last bookable date instead (None: the rule ended by itself).
    cut_at_horizon: date | None = None
    # The rule asked for more than MAX_OCCURRENCES before its end.
    cut_at_maximum: bool = False


def wall_clock(day: date, at: time, tz_name: str) -> datetime:
    """``day`` at local time ``at`` in ``tz_name``, as an aware UTC instant."""
    return datetime.combine(day, at, tzinfo=ZoneInfo(tz_name)).astimezone(UTC)


def occurrence_starts(
    first: datetime, tz_name: str, rule: Recurrence, last_bookable_day: date
) -> Occurrences:
    """The instants of ``rule`` starting at ``first`` (aware), each at the first one's
    local wall-clock time in ``tz_name``, never past ``last_bookable_day`` (the booking
    horizon, clinic-local) nor more than MAX_OCCURRENCES."""
    local = first.astimezone(ZoneInfo(tz_name))
    first_day, at = local.date(), local.time().replace(tzinfo=None)
    check_recurrence(rule, first_day)
    step = timedelta(weeks=rule.interval_weeks)
    starts: list[datetime] = []
    cut_at_horizon: date | None = None
    k = 0
    while True:
        day = first_day + step * k
        if rule.count is not None and k >= rule.count:
            break
        if rule.until is not None and day > rule.until:
            break
        if len(starts) >= MAX_OCCURRENCES:
            return Occurrences(starts, cut_at_horizon, cut_at_maximum=True)
        # The first is always kept: booking it then says BEYOND_HORIZON in its words.
        if day > last_bookable_day and k > 0:
            cut_at_horizon = last_bookable_day
            break
        starts.append(wall_clock(day, at, tz_name))
        k += 1
    return Occurrences(starts, cut_at_horizon)


def in_scope(scope: str, anchor_id: int, anchor_start: datetime, aid: int, start: datetime) -> bool:
    """Whether an occurrence (``aid`` at ``start``) is reached by an edit or cancellation
    of ``anchor_id`` with ``scope``."""
    if scope == "this":
        return aid == anchor_id
    if scope == "following":
        return start >= anchor_start
    if scope == "all":
        return True
    raise BookingError("INVALID_SCOPE", "Choose which appointments of the series.", "scope")
