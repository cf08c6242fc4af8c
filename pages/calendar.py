"""Practitioner calendar: a day or a week of one practitioner, or of everyone at a clinic,
with appointments in their status colours and the free slots between them. Clicking an
appointment opens its panel: details, the actions allowed now, history.

Practitioners see only their own calendar. Query string:
``/calendar?practitioner=ID`` or ``?clinic=ID``, ``&date=YYYY-MM-DD&view=day|week``.
"""

from __future__ import annotations

import time
from datetime import date, timedelta
from typing import Any, Literal
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import dash
import dash_bootstrap_components as dbc
from dash import ALL, MATCH, Input, Output, State, ctx, dcc, html, no_update

from components.appointment_panel import (
    action_feedback,
    apply_action,
    appointment_panel,
    panel_drawer,
    panel_fields,
)
from components.auth import callback
from components.calendar_grid import GridItem, calendar_grid, day_column_header, status_legend
from components.context import app_context, current_actor, current_user
from components.forms import empty_state, page_header, parse_date, parse_instant, parse_int
from components.ids import id_factory
from domain.actor import Actor
from domain.availability import AvailabilityError, ClinicSlot, Slot, get_practitioner_slots
from domain.calendar import CalendarView, get_appointment_details, get_calendar
from domain.catalog import list_clinics, list_practitioners
from domain.errors import BookingError
from domain.organizations import get_organization
from domain.permissions import Permission, PermissionDenied

dash.register_page(
    __name__,
    path="/calendar",
    name="Calendar",
    title="Calendar · Clinic scheduling",
    description="A practitioner's or a clinic's day and week, and each appointment's actions.",
    icon="bi-calendar-week",
    order=30,
    permission=Permission.VIEW_CALENDAR,
)

pid = id_factory("cal")
CHIP, ACT, FIELD = "cal-appt", "cal-act", "cal-field"
ACTION_PERMISSIONS = (Permission.CHANGE_STATUS, Permission.CANCEL, Permission.RESCHEDULE)


def _chip_id(appointment_id: int) -> dict[str, Any]:
    return {"type": CHIP, "id": appointment_id}


def _act_id(action: str) -> dict[str, Any]:
    return {"type": ACT, "action": action}


MOVE_DATE, MOVE_START = "cal-move-date", "cal-move-start"


def _field_ids(appointment_id: int) -> Any:
    """Ids of the panel's fields: the reschedule pair is keyed by the appointment (its
    open times follow its date), the others by name."""

    def make(name: str) -> dict[str, Any]:
        if name in ("move-date", "move-start"):
            return {"type": f"cal-{name}", "appointment": appointment_id}
        return {"type": FIELD, "name": name}

    return make


def _today(org_id: int | None) -> date:
    org = get_organization(app_context(), org_id) if org_id is not None else None
    return org.local_today(app_context().clock()) if org else app_context().clock().date()


def _who_options(user_actor: Actor | None) -> list[dict[str, Any]]:
    """One list for "whose calendar": each practitioner, then each clinic (everyone)."""
    if user_actor is None or user_actor.organization_id is None:
        return []
    app, org_id = app_context(), user_actor.organization_id
    people = list_practitioners(app, org_id)
    if not user_actor.can(Permission.ALL_PRACTITIONERS):
        people = [p for p in people if p.id == user_actor.practitioner_id]
        return [{"label": f"{p.name} (you)", "value": f"p-{p.id}"} for p in people]
    return [{"label": f"{p.name} · {p.specialty}", "value": f"p-{p.id}"} for p in people] + [
        {"label": f"Everyone at {c.name}", "value": f"c-{c.id}"} for c in list_clinics(app, org_id)
    ]


def _parse_who(value: str | None) -> tuple[int | None, int | None]:
    """ "p-12" -> (12, None); "c-3" -> (None, 3)."""
    if not isinstance(value, str) or len(value) < 3 or value[1] != "-":
        return None, None
    ident = parse_int(value[2:])
    if value[0] == "p":
        return ident, None
    if value[0] == "c":
        return None, ident
    return None, None


def layout(
    practitioner: str | None = None,
    clinic: str | None = None,
    date: str | None = None,
    view: str | None = None,
    **_kwargs: str,
) -> html.Div:
    user = current_user()
    user_actor = user.actor if user else None
    options = _who_options(user_actor)
    wanted = f"p-{practitioner}" if practitioner else f"c-{clinic}" if clinic else None
    values = [o["value"] for o in options]
    own = user_actor is not None and not user_actor.can(Permission.ALL_PRACTITIONERS)
    who = wanted if wanted in values else (values[0] if own and values else None)
    day = parse_date(date) or _today(user.organization_id if user else None)
    controls = dbc.Card(
        dbc.CardBody(
            dbc.Row(
                [
                    dbc.Col(
                        [
                            dbc.Label("Calendar of", html_for=pid("who")),
                            dcc.Dropdown(
                                id=pid("who"),
                                options=options,
                                value=who,
                                placeholder="Choose a practitioner or a clinic",
                                clearable=False,
                                disabled=own,
                            ),
                        ],
                        md=6,
                        lg=4,
                    ),
                    dbc.Col(
                        [
                            dbc.Label("Show", html_for=pid("view"), className="d-block"),
                            dbc.RadioItems(
                                id=pid("view"),
                                options=[
                                    {"label": "Day", "value": "day"},
                                    {"label": "Week", "value": "week"},
                                ],
                                value="day" if view == "day" else "week",
                                inline=True,
                                className="btn-group",
                                input_class_name="btn-check",
                                label_class_name="btn btn-outline-primary",
                                label_checked_class_name="active",
                            ),
                        ],
                        xs=6,
                        md=3,
                        lg=2,
                    ),
                    dbc.Col(
                        [
                            dbc.Label("Date", html_for=pid("date")),
                            dbc.InputGroup(
                                [
                                    dbc.Button(
                                        html.I(className="bi bi-chevron-left"),
                                        id=pid("prev"),
                                        color="secondary",
                                        outline=True,
                                        title="Previous",
                                    ),
                                    dbc.Input(id=pid("date"), type="date", value=day.isoformat()),
                                    dbc.Button(
                                        html.I(className="bi bi-chevron-right"),
                                        id=pid("next"),
                                        color="secondary",
                                        outline=True,
                                        title="Next",
                                    ),
                                    dbc.Button(
                                        "Today", id=pid("today"), color="secondary", outline=True
                                    ),
                                ]
                            ),
                        ],
                        xs=12,
                        md=6,
                        lg=4,
                    ),
                    dbc.Col(
                        [
                            dbc.Label("Cancelled", html_for=pid("cancelled")),
                            dbc.Switch(
                                id=pid("cancelled"), label="Show", value=False, className="mt-1"
                            ),
                        ],
                        xs=6,
                        md=3,
                        lg=2,
                    ),
                ],
                className="g-3 align-items-end",
            )
        ),
        className="shadow-sm mb-3",
    )
    panel = panel_drawer(pid("panel"), pid("feedback"), pid("panel-body"))
    return html.Div(
        [
            page_header("Calendar", "Appointments in their status colours; free times in green."),
            controls,
            dbc.Card(
                [
                    dbc.CardHeader(
                        dbc.Row(
                            [
                                dbc.Col(html.Span(id=pid("title"), className="fw-semibold")),
                                dbc.Col(
                                    html.Span(id=pid("summary"), className="text-muted"),
                                    width="auto",
                                ),
                            ],
                            align="center",
                        )
                    ),
                    dbc.CardBody(
                        [
                            dcc.Loading(html.Div(id=pid("grid")), delay_show=200),
                            html.Div(status_legend(), className="mt-2"),
                        ]
                    ),
                ],
                className="shadow-sm",
            ),
            panel,
            dcc.Store(id=pid("selected")),
            dcc.Store(id=pid("version")),
            dcc.Store(id=pid("result")),
            dcc.Store(id=pid("refresh"), data=0),
        ]
    )


# --------------------------------------------------------------------------- navigation


@callback(
    Output(pid("date"), "value"),
    Input(pid("prev"), "n_clicks"),
    Input(pid("next"), "n_clicks"),
    Input(pid("today"), "n_clicks"),
    State(pid("date"), "value"),
    State(pid("view"), "value"),
    prevent_initial_call=True,
    permission=Permission.VIEW_CALENDAR,
)
def step(
    _prev: int | None,
    _next: int | None,
    _today_clicks: int | None,
    current: str | None,
    view: str | None,
) -> object:
    org_id = current_actor().organization_id
    today = _today(org_id)
    if ctx.triggered_id == pid("today"):
        return today.isoformat()
    day = parse_date(current) or today
    days = 1 if view == "day" else 7
    sign = -1 if ctx.triggered_id == pid("prev") else 1
    return (day + timedelta(days=sign * days)).isoformat()


def _span(day: date, view: str | None) -> tuple[date, date]:
    if view == "day":
        return day, day
    monday = day - timedelta(days=day.weekday())
    return monday, monday + timedelta(days=6)


# --------------------------------------------------------------------------- the grid


def _book_href(clinic_id: int, practitioner_id: int, slot: Slot | ClinicSlot) -> str:
    query = {"clinic": clinic_id, "practitioner": practitioner_id, "start": slot.start.isoformat()}
    return "/book?" + urlencode(query)


def _grid(cal: CalendarView, view: str, actor: Actor, today: date) -> tuple[Any, str]:
    app = app_context()
    org_id = actor.organization_id or 0
    clinics = {c.id: c for c in list_clinics(app, org_id)}
    can_book = actor.can(Permission.BOOK)
    items: list[GridItem] = []
    clinic_mode = cal.practitioner_id is None
    by_practitioner = clinic_mode and view == "day"

    def column(local_day: date, practitioner_id: int) -> Any:
        return practitioner_id if by_practitioner else local_day

    # Each day's clinics head its column; a chip names its clinic only when the day has
    # two (a practitioner between sites), and its practitioner in a clinic's week.
    day_clinics: dict[date, set[str]] = {}
    for a in cal.appointments:
        day_clinics.setdefault(a.local_date, set()).add(a.clinic_name)
    for slot in cal.free:
        clinic = clinics.get(slot.clinic_id)
        if clinic is not None:
            local_day = slot.start.astimezone(ZoneInfo(clinic.timezone)).date()
            day_clinics.setdefault(local_day, set()).add(clinic.name)
    for a in cal.appointments:
        detail = a.appointment_type_name
        if clinic_mode and not by_practitioner:
            detail = f"{a.practitioner_name} · {detail}"
        elif len(day_clinics.get(a.local_date, ())) > 1:
            detail = f"{detail} · {a.clinic_name}"
        items.append(
            GridItem(
                column=column(a.local_date, a.practitioner_id),
                start=a.local_start,
                end=a.local_end,
                title=a.patient_name,
                detail=detail,
                status=a.status,
                appointment_id=a.id,
            )
        )
    for slot in cal.free:
        clinic = clinics.get(slot.clinic_id)
        if clinic is None:
            continue
        tz = ZoneInfo(clinic.timezone)
        start, end = slot.start.astimezone(tz), slot.end.astimezone(tz)
        if isinstance(slot, ClinicSlot):
            if by_practitioner:
                for p in slot.practitioner_ids:
                    href = _book_href(slot.clinic_id, p, slot) if can_book else None
                    items.append(GridItem(p, start, end, "free", clinic.name, href=href))
            else:
                who = slot.practitioner_ids
                href = _book_href(slot.clinic_id, who[0], slot) if can_book else None
                title = f"{len(who)} free" if len(who) > 1 else "free"
                items.append(GridItem(start.date(), start, end, title, clinic.name, href=href))
        else:
            href = _book_href(slot.clinic_id, slot.practitioner_id, slot) if can_book else None
            items.append(GridItem(start.date(), start, end, "free", clinic.name, href=href))

    columns: list[tuple[Any, Any]]
    if by_practitioner:
        names = {p.id: p.name for p in list_practitioners(app, org_id)}
        names.update({a.practitioner_id: a.practitioner_name for a in cal.appointments})
        present = sorted({i.column for i in items}, key=lambda p: (names.get(p, ""), p))
        columns = [(p, names.get(p, f"#{p}")) for p in present]
    else:
        columns = [
            (
                d,
                [
                    *day_column_header(d),
                    html.Span(
                        ", ".join(sorted(day_clinics.get(d, ()))),
                        className="d-block small fw-normal text-muted cal-col-clinic",
                    ),
                ],
            )
            for d in cal.days
        ]
    booked = sum(1 for a in cal.appointments if a.status != "cancelled")
    free = sum(1 for i in items if i.status is None)
    summary = f"{booked} appointment{'s' if booked != 1 else ''} · {free} free"
    if cal.truncated:
        summary += " · showing the first 2,000"
    if not items:
        return (
            empty_state(
                "Nothing scheduled and no free time in this period.",
                "Pick another date or another practitioner; days without a schedule stay empty.",
            ),
            summary,
        )
    grid = calendar_grid(
        columns,
        items,
        _chip_id,
        compact=view == "week",
        highlight=today if view == "week" else None,
        grid_id=pid("table"),
    )
    return grid, summary


@callback(
    Output(pid("grid"), "children"),
    Output(pid("title"), "children"),
    Output(pid("summary"), "children"),
    Input(pid("who"), "value"),
    Input(pid("view"), "value"),
    Input(pid("date"), "value"),
    Input(pid("cancelled"), "value"),
    Input(pid("refresh"), "data"),
    permission=Permission.VIEW_CALENDAR,
)
def show_calendar(
    who: str | None,
    view: Literal["day", "week"] | None,
    day_value: str | None,
    show_cancelled: bool | None,
    _refresh: int | None,
) -> tuple[object, object, object]:
    actor = current_actor()
    org_id = actor.organization_id or 0
    today = _today(org_id)
    day = parse_date(day_value) or today
    view = view or "week"
    first, last = _span(day, view)
    title = (
        f"{day:%A %d %B %Y}" if view == "day" else f"Week of {first:%a %d %b} – {last:%a %d %b %Y}"
    )
    practitioner_id, clinic_id = _parse_who(who)
    if practitioner_id is None and clinic_id is None:
        hint = empty_state(
            "Choose whose calendar to show.",
            "Pick a practitioner, or a clinic to see everyone working there.",
            icon="bi-person-lines-fill",
        )
        return hint, title, ""
    try:
        cal = get_calendar(
            app_context(),
            org_id,
            first,
            last,
            actor=actor,
            practitioner_id=practitioner_id,
            clinic_id=clinic_id,
            include_cancelled=bool(show_cancelled),
        )
    except (AvailabilityError, BookingError, PermissionDenied) as exc:
        return dbc.Alert(getattr(exc, "message", str(exc)), color="warning"), title, ""
    grid, summary = _grid(cal, view, actor, today)
    return grid, title, summary


# --------------------------------------------------------------------------- the panel


@callback(
    Output(pid("panel"), "is_open"),
    Output(pid("selected"), "data"),
    Input({"type": CHIP, "id": ALL}, "n_clicks"),
    prevent_initial_call=True,
    permission=Permission.VIEW_CALENDAR,
)
def open_panel(_clicks: list[int | None] | None) -> tuple[object, object]:
    """A click on an appointment opens its panel (chips appearing do not)."""
    triggered = ctx.triggered_id
    clicked = bool(ctx.triggered) and bool(ctx.triggered[0].get("value"))
    if not clicked or not isinstance(triggered, dict):
        return no_update, no_update
    appointment_id = parse_int(triggered.get("id"))
    if appointment_id is None:
        return no_update, no_update
    return True, {"id": appointment_id, "opened": time.time()}


@callback(
    Output(pid("panel-body"), "children"),
    Output(pid("version"), "data"),
    Output(pid("feedback"), "children"),
    Input(pid("selected"), "data"),
    Input(pid("result"), "data"),
    prevent_initial_call=True,
    permission=Permission.VIEW_CALENDAR,
)
def show_panel(
    selected: dict[str, Any] | None, result: dict[str, Any] | None
) -> tuple[object, object, object]:
    """The selected appointment as it is now, and the outcome of the last action on it
    (since it was opened)."""
    appointment_id = parse_int((selected or {}).get("id"))
    if appointment_id is None:
        return None, None, None
    actor = current_actor()
    org_id = actor.organization_id or 0
    try:
        details = get_appointment_details(app_context(), org_id, appointment_id, actor=actor)
    except (BookingError, PermissionDenied) as exc:
        return None, None, dbc.Alert(getattr(exc, "message", str(exc)), color="warning")
    feedback = None
    opened = (selected or {}).get("opened")
    if (
        result
        and result.get("id") == appointment_id
        and isinstance(opened, int | float)
        and isinstance(result.get("at"), int | float)
        and result["at"] >= opened
    ):
        feedback = action_feedback(
            result.get("kind"), str(result.get("message", "")), "cal", "The panel"
        )
    body = appointment_panel(details, _act_id, _field_ids(appointment_id), _today(org_id))
    return body, details.appointment.version, feedback


@callback(
    Output(pid("result"), "data"),
    Output(pid("refresh"), "data"),
    Input({"type": ACT, "action": ALL}, "n_clicks"),
    State({"type": FIELD, "name": ALL}, "value"),
    State({"type": MOVE_START, "appointment": ALL}, "value"),
    State(pid("selected"), "data"),
    State(pid("version"), "data"),
    State(pid("refresh"), "data"),
    prevent_initial_call=True,
    permission=ACTION_PERMISSIONS,
)
def act(
    _clicks: list[int | None] | None,
    field_values: list[Any] | None,
    move_starts: list[str | None] | None,
    selected: dict[str, Any] | None,
    version: int | None,
    refresh: int | None,
) -> tuple[object, object]:
    """Apply a status change, a cancellation (of one appointment or a scope of its
    series), a move or a series edit at the version the panel shows: if someone changed
    the appointment meanwhile, the service refuses it (STALE) and the panel reloads."""
    triggered = ctx.triggered_id
    clicked = bool(ctx.triggered) and bool(ctx.triggered[0].get("value"))
    appointment_id = parse_int((selected or {}).get("id"))
    action = triggered.get("action") if isinstance(triggered, dict) else None
    if not clicked or appointment_id is None or not isinstance(action, str):
        return no_update, no_update
    kind, message = apply_action(
        app_context(),
        current_actor(),
        appointment_id,
        action,
        version,
        panel_fields(field_values or []),
        move_start=parse_instant(next((v for v in move_starts or [] if v), None)),
    )
    data = {"id": appointment_id, "at": time.time(), "kind": kind, "message": message}
    return data, (refresh or 0) + 1


@callback(
    Output({"type": MOVE_START, "appointment": MATCH}, "options"),
    Input({"type": MOVE_DATE, "appointment": MATCH}, "value"),
    permission=Permission.RESCHEDULE,
)
def move_times(day_value: str | None) -> object:
    """The open times on the chosen date for the same practitioner, clinic, type and
    length."""
    triggered = ctx.outputs_list if isinstance(ctx.outputs_list, dict) else {}
    appointment_id = parse_int((triggered.get("id") or {}).get("appointment"))
    day = parse_date(day_value)
    if appointment_id is None or day is None:
        return []
    actor = current_actor()
    org_id = actor.organization_id or 0
    try:
        details = get_appointment_details(app_context(), org_id, appointment_id, actor=actor)
        a = details.appointment
        slots = get_practitioner_slots(
            app_context(),
            org_id,
            a.practitioner_id,
            day,
            clinic_id=a.clinic_id,
            appointment_type_id=a.appointment_type_id,
            duration_minutes=a.duration_minutes,
        )
    except (BookingError, PermissionDenied, AvailabilityError):
        return []
    tz = ZoneInfo(a.clinic_timezone)
    return [
        {"label": f"{s.start.astimezone(tz):%H:%M}", "value": s.start.isoformat()} for s in slots
    ]
