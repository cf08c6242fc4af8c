"""The practitioner calendar's read side: the appointments and the free slots of one
practitioner (or of everyone at one clinic) over a few days, and one appointment's
details with the actions the actor may take on it now.

Days are each clinic's own calendar dates, as everywhere else: an appointment is on the
day it starts where it takes place. Two bounded reads (the appointments, one joined
select; the free slots, from the availability cache), whatever the number of days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from domain.activity import ActivityView, get_appointment_history
from domain.actor import Actor
from domain.appointment_views import get_today_appointments, get_upcoming_appointments
from domain.appointments import (
    AppointmentView,
    SeriesOverview,
    get_appointment,
    get_series_overview,
)
from domain.availability import (
    ClinicSlot,
    Slot,
    get_clinic_slots_range,
    get_directory,
    get_practitioner_slots_range,
)
from domain.context import AppContext
from domain.errors import BookingError
from domain.organizations import get_organization
from domain.permissions import (
    Permission,
    PermissionDenied,
    require,
    require_practitioner_scope,
    require_status_change,
)
from domain.slots import from_ts, utc_window
from domain.workflow import RESCHEDULABLE_STATUSES, possible_next

MAX_CALENDAR_DAYS = 14
# A clinic's busiest week is a few hundred appointments; beyond this the view says so.
CALENDAR_LIMIT = 2_000


@dataclass(frozen=True)
class CalendarView:
    days: list[date]
    # Whose calendar: one practitioner (at any of their clinics, or at ``clinic_id``), or
    # everyone at ``clinic_id``.
    practitioner_id: int | None
    clinic_id: int | None
    appointments: list[AppointmentView]
    # Open slots: per practitioner (``Slot``) for a practitioner, per time
    # (``ClinicSlot``, with the practitioners free then) for a clinic.
    free: list[Slot] | list[ClinicSlot]
    # More appointments than ``CALENDAR_LIMIT``: the list stops there.
    truncated: bool


def get_calendar(
    ctx: AppContext,
    organization_id: int,
    first: date,
    last: date,
    *,
    actor: Actor,
    practitioner_id: int | None = None,
    clinic_id: int | None = None,
    include_cancelled: bool = False,
) -> CalendarView:
    """Appointments (ordered by time) and free slots from ``first`` to ``last``.

    Needs ``view_calendar``. A practitioner's account sees only its own calendar: asking
    for nothing gives it, asking for another practitioner is refused (a clinic asked for
    narrows their own calendar to that clinic). Unknown ids raise ``AvailabilityError``
    (NOT_FOUND), as for availability.
    """
    require(actor, Permission.VIEW_CALENDAR)
    if not actor.is_system and actor.organization_id != organization_id:
        raise PermissionDenied("You can only see your own organization's calendars.")
    if last < first or (last - first).days + 1 > MAX_CALENDAR_DAYS:
        raise BookingError("INVALID_RANGE", f"Show from 1 to {MAX_CALENDAR_DAYS} days at a time.")
    practitioner_id = require_practitioner_scope(actor, practitioner_id)
    if practitioner_id is None and clinic_id is None:
        raise BookingError("NO_SELECTION", "Choose a practitioner or a clinic.")
    days = [first + timedelta(days=k) for k in range((last - first).days + 1)]
    directory = get_directory(ctx, organization_id)
    lo, hi = utc_window(directory.zones.values(), first, last)
    upcoming = get_upcoming_appointments(
        ctx,
        organization_id,
        from_ts(lo),
        from_ts(hi),
        practitioner_id=practitioner_id,
        clinic_id=clinic_id,
        include_cancelled=include_cancelled,
        limit=CALENDAR_LIMIT,
    )
    appointments = [a for a in upcoming.rows if first <= a.local_date <= last]
    free: list[Slot] | list[ClinicSlot]
    if practitioner_id is not None:
        by_day = get_practitioner_slots_range(
            ctx, organization_id, practitioner_id, first, last, clinic_id=clinic_id
        )
        free = [s for d in days for s in by_day[d]]
    else:
        assert clinic_id is not None
        by_clinic_day = get_clinic_slots_range(ctx, organization_id, clinic_id, first, last)
        free = [s for d in days for s in by_clinic_day[d]]
    return CalendarView(days, practitioner_id, clinic_id, appointments, free, upcoming.truncated)


def actions_for(view: AppointmentView, actor: Actor, now: datetime) -> tuple[str, ...]:
    """The statuses ``view`` may move to at ``now`` (the workflow's steps and the
    corrections that apply) that the actor's role allows, in the workflow's order."""
    possible = possible_next(
        view.status,
        start_at=view.start_at,
        local_start_date=view.local_date,
        now=now,
        local_today=now.astimezone(ZoneInfo(view.clinic_timezone)).date(),
        actor_role=actor.role,
    )
    allowed = []
    for status in possible:
        try:
            require_status_change(actor, status, view.practitioner_id)
        except PermissionDenied:
            continue
        allowed.append(status)
    return tuple(allowed)


@dataclass(frozen=True)
class AppointmentDetails:
    """One appointment as its detail panel shows it, with what the actor may do now."""

    appointment: AppointmentView
    # Statuses it may move to now (the workflow's steps and corrections that apply at
    # this moment) that the actor's role allows, in the workflow's order.
    next_statuses: tuple[str, ...]
    # It may still be moved (before the patient arrives) and the actor may move it.
    can_reschedule: bool
    # Its audit trail, oldest first; None when the actor may not read histories.
    history: list[ActivityView] | None
    # The recurring series it belongs to (None: a single appointment).
    series: SeriesOverview | None = None


def get_appointment_details(
    ctx: AppContext, organization_id: int, appointment_id: int, *, actor: Actor
) -> AppointmentDetails:
    """Needs ``view_calendar`` or ``view_today``, and the appointment in the actor's
    practitioner scope; raises BookingError APPOINTMENT_NOT_FOUND for an id of another
    organization, as for one that does not exist."""
    require(actor, Permission.VIEW_CALENDAR, Permission.VIEW_TODAY)
    if not actor.is_system and actor.organization_id != organization_id:
        raise PermissionDenied("You can only see your own organization's appointments.")
    view = get_appointment(ctx, organization_id, appointment_id)
    require_practitioner_scope(actor, view.practitioner_id)
    allowed = actions_for(view, actor, ctx.clock())
    history = None
    if actor.can(Permission.VIEW_ACTIVITY):
        history = get_appointment_history(ctx, organization_id, appointment_id)
    series = None
    if view.series_id is not None:
        series = get_series_overview(ctx, organization_id, view.series_id)
    return AppointmentDetails(
        view,
        allowed,
        view.status in RESCHEDULABLE_STATUSES and actor.can(Permission.RESCHEDULE),
        history,
        series,
    )


# The steps of a visit, one click each on the Today view; no-show and cancel need a look
# at the appointment first (the panel).
QUICK_STEPS = ("arrived", "in-progress", "completed")


@dataclass(frozen=True)
class TodayRow:
    appointment: AppointmentView
    # Of ``QUICK_STEPS``, what the actor may do now, in the workflow's order.
    quick: tuple[str, ...]
    # Anything else the actor may do now (confirm, no-show, cancel): the panel.
    more: bool


@dataclass(frozen=True)
class TodayBoard:
    """The morning view: today's appointments in time order with the one-click steps the
    actor may take, and how many are in each status."""

    # The clinic-local dates listed (two when clinics in different zones disagree).
    days: list[date]
    rows: list[TodayRow]
    counts: dict[str, int]

    @property
    def active(self) -> int:
        """Appointments still expected or under way today (not cancelled)."""
        return sum(n for s, n in self.counts.items() if s != "cancelled")


def get_today_board(
    ctx: AppContext,
    organization_id: int,
    *,
    actor: Actor,
    practitioner_id: int | None = None,
    clinic_id: int | None = None,
    include_cancelled: bool = True,
) -> TodayBoard:
    """Today for one practitioner, one clinic or the whole organization (``view_today``;
    a practitioner's login sees only their own day)."""
    rows = get_today_appointments(
        ctx,
        organization_id,
        practitioner_id=practitioner_id,
        clinic_id=clinic_id,
        actor=actor,
    )
    now = ctx.clock()
    counts: dict[str, int] = {}
    out = []
    for a in rows:
        counts[a.status] = counts.get(a.status, 0) + 1
        if a.status == "cancelled" and not include_cancelled:
            continue
        allowed = actions_for(a, actor, now)
        quick = tuple(s for s in allowed if s in QUICK_STEPS)
        out.append(TodayRow(a, quick, len(allowed) > len(quick)))
    days = sorted({a.local_date for a in rows}) or [_org_today(ctx, organization_id, now)]
    return TodayBoard(days, out, counts)


def _org_today(ctx: AppContext, organization_id: int, now: datetime) -> date:
    org = get_organization(ctx, organization_id)
    return org.local_today(now) if org else now.date()
