"""Today: the morning view. The day's appointments of one practitioner, one clinic or the
whole organization in time order, with one-click check-in, start and complete; anything
else (confirm, no-show, cancel) in the appointment's panel. Counts per status on top.

Practitioners see only their own day. Query string: ``/today?practitioner=ID`` or
``?clinic=ID``.
"""

from __future__ import annotations

import time
from dataclasses import replace
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import dash
import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, ctx, dcc, html, no_update

from components.appointment_panel import (
    ACTION_ICONS,
    action_feedback,
    action_label,
    apply_action,
    appointment_panel,
    panel_drawer,
    panel_fields,
)
from components.auth import callback
from components.context import app_context, current_actor, current_user
from components.forms import empty_state, page_header, parse_int
from components.ids import id_factory
from components.status import STATUS_COLORS, STATUS_LABELS, status_badge
from components.wire import wire
from domain.actor import Actor
from domain.calendar import TodayBoard, TodayRow, get_appointment_details, get_today_board
from domain.catalog import list_clinics, list_practitioners
from domain.errors import BookingError
from domain.organizations import get_organization
from domain.permissions import Permission, PermissionDenied

dash.register_page(
    __name__,
    path="/today",
    name="Today",
    title="Today · Clinic scheduling",
    description="Today's appointments in time order: check patients in, start and complete.",
    icon="bi-sunrise",
    order=5,
    permission=Permission.VIEW_TODAY,
)

pid = id_factory("today")
STEP, MORE, ACT, FIELD = "today-step", "today-more", "today-act", "today-field"
ACTION_PERMISSIONS = (Permission.CHANGE_STATUS, Permission.CANCEL)
# The count cards, in the order a day goes; pending only shows when there is one.
COUNT_ORDER = ("pending", "booked", "confirmed", "arrived", "in-progress", "completed")
COUNT_TAIL = ("no-show", "cancelled")
REFRESH_MS = 60_000


def _who_options(actor: Actor | None) -> list[dict[str, Any]]:
    """Everyone, each clinic, each practitioner; a practitioner's login: only themself."""
    if actor is None or actor.organization_id is None:
        return []
    app, org_id = app_context(), actor.organization_id
    people = list_practitioners(app, org_id)
    if not actor.can(Permission.ALL_PRACTITIONERS):
        return [
            {"label": f"{p.name} (you)", "value": f"p-{p.id}"}
            for p in people
            if p.id == actor.practitioner_id
        ]
    return (
        [{"label": "Everyone, all clinics", "value": "all"}]
        + [
            {"label": f"Everyone at {c.name}", "value": f"c-{c.id}"}
            for c in list_clinics(app, org_id)
        ]
        + [{"label": f"{p.name} · {p.specialty}", "value": f"p-{p.id}"} for p in people]
    )


def _parse_who(value: str | None) -> tuple[int | None, int | None]:
    """ "p-12" -> (12, None); "c-3" -> (None, 3); "all" or anything else -> (None, None)."""
    if not isinstance(value, str) or len(value) < 3 or value[1] != "-":
        return None, None
    ident = parse_int(value[2:])
    if value[0] == "p":
        return ident, None
    if value[0] == "c":
        return None, ident
    return None, None


def layout(practitioner: str | None = None, clinic: str | None = None, **_kwargs: str) -> Any:
    user = current_user()
    actor = user.actor if user else None
    options = _who_options(actor)
    values = [o["value"] for o in options]
    wanted = f"p-{practitioner}" if practitioner else f"c-{clinic}" if clinic else None
    who = wanted if wanted in values else (values[0] if values else None)
    own = actor is not None and not actor.can(Permission.ALL_PRACTITIONERS)
    controls = dbc.Card(
        dbc.CardBody(
            dbc.Row(
                [
                    dbc.Col(
                        [
                            dbc.Label("Whose day", html_for=pid("who")),
                            dcc.Dropdown(
                                id=pid("who"),
                                options=options,
                                value=who,
                                clearable=False,
                                disabled=own,
                            ),
                        ],
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
                    dbc.Col(
                        html.Div(
                            [
                                html.Span(id=pid("updated"), className="text-muted small me-2"),
                                dbc.Button(
                                    [html.I(className="bi bi-arrow-clockwise me-1"), "Refresh"],
                                    id=pid("reload"),
                                    color="secondary",
                                    outline=True,
                                    size="sm",
                                ),
                            ],
                            className="text-md-end",
                        ),
                        xs=6,
                        md=3,
                        lg=6,
                    ),
                ],
                className="g-3 align-items-end",
            )
        ),
        className="shadow-sm mb-3",
    )
    panel = panel_drawer(pid("panel"), pid("panel-feedback"), pid("panel-body"))
    return html.Div(
        [
            page_header(
                "Today",
                html.Span(id=pid("subtitle"), children="Today's appointments in time order."),
            ),
            controls,
            dcc.Loading(
                [
                    html.Div(id=pid("counts"), className="mb-3"),
                    html.Div(id=pid("feedback")),
                    dbc.Card(dbc.CardBody(html.Div(id=pid("list"))), className="shadow-sm"),
                ],
                delay_show=200,
                # The list stays readable (dimmed) while it reloads, e.g. every minute.
                overlay_style={"visibility": "visible", "opacity": 0.6},
            ),
            panel,
            dcc.Interval(id=pid("tick"), interval=REFRESH_MS),
            dcc.Store(id=pid("refresh"), data=0),
            dcc.Store(id=pid("selected")),
            dcc.Store(id=pid("version")),
            dcc.Store(id=pid("panel-result")),
        ]
    )


# --------------------------------------------------------------------------- the list


def _count_cards(board: TodayBoard) -> Any:
    statuses = [s for s in COUNT_ORDER if s != "pending" or board.counts.get(s)]
    statuses += list(COUNT_TAIL)
    cards = [
        dbc.Col(
            dbc.Card(
                dbc.CardBody(
                    [
                        html.Div(STATUS_LABELS[s], className="small text-muted"),
                        html.Div(str(board.counts.get(s, 0)), className="fs-3 fw-semibold"),
                    ],
                    className="py-2 px-3",
                ),
                className="h-100 today-count",
                style={"borderLeft": f"0.35rem solid {STATUS_COLORS[s]}"},
                id=pid(f"count-{s}"),
            ),
            xs=6,
            sm=4,
            lg=True,
        )
        for s in statuses
    ]
    total = dbc.Col(
        dbc.Card(
            dbc.CardBody(
                [
                    html.Div("Expected today", className="small text-muted"),
                    html.Div(str(board.active), className="fs-3 fw-semibold"),
                ],
                className="py-2 px-3",
            ),
            className="h-100 today-count bg-light",
            id=pid("count-total"),
        ),
        xs=6,
        sm=4,
        lg=True,
    )
    return dbc.Row([total, *cards], className="g-2")


def _step_button(row: TodayRow, status: str) -> dbc.Button:
    a = row.appointment
    return dbc.Button(
        [
            html.I(className=f"bi {ACTION_ICONS.get(status, 'bi-arrow-right')} me-1"),
            action_label(a.status, status),
        ],
        # The version the list showed rides along: a change made meanwhile by someone
        # else makes the service refuse the click (STALE) instead of overwriting it.
        id={"type": STEP, "id": a.id, "status": status, "version": a.version},
        n_clicks=0,
        color="primary",
        size="sm",
        className="me-1 mb-1",
    )


def _table(board: TodayBoard, single_practitioner: bool, single_clinic: bool) -> Any:
    header = ["Time", "Patient", "Type"]
    if not single_practitioner:
        header.append("Practitioner")
    if not single_clinic:
        header.append("Clinic")
    header += ["Status", ""]
    body = [_row(row, single_practitioner, single_clinic) for row in board.rows]
    return html.Div(
        dbc.Table(
            [html.Thead(html.Tr([html.Th(h) for h in header])), html.Tbody(body)],
            hover=True,
            responsive=False,
            className="mb-0 align-middle",
            id=pid("table"),
        ),
        className="table-responsive",
    )


# A row is a pure function of its appointment (every field, the version included), the
# steps offered and the columns shown, and most rows stay the same from one refresh (a
# minute) and one user to the next: rendered once, in Dash's wire form. An organization's
# busy day is several hundred rows; a kept row takes about 8 kB.
@lru_cache(maxsize=2048)
def _row(row: TodayRow, single_practitioner: bool, single_clinic: bool) -> dict[str, Any]:
    a = row.appointment
    cells: list[Any] = [
        html.Td(
            [
                html.Span(f"{a.local_start:%H:%M}", className="fw-semibold"),
                html.Span(f"–{a.local_end:%H:%M}", className="text-muted small"),
            ],
            className="text-nowrap",
        ),
        html.Td(a.patient_name, className="fw-semibold"),
        html.Td(a.appointment_type_name),
    ]
    if not single_practitioner:
        cells.append(html.Td(a.practitioner_name))
    if not single_clinic:
        cells.append(html.Td(a.clinic_name))
    actions: list[Any] = [_step_button(row, s) for s in row.quick]
    if row.more:
        actions.append(
            dbc.Button(
                "More…",
                id={"type": MORE, "id": a.id},
                n_clicks=0,
                color="secondary",
                outline=True,
                size="sm",
                className="mb-1",
                title="Confirm, mark no-show or cancel",
            )
        )
    cells += [
        html.Td(status_badge(a.status)),
        html.Td(actions, className="text-nowrap today-actions"),
    ]
    return wire(
        html.Tr(
            cells,
            id=f"today-row-{a.id}",
            className="today-row text-muted" if a.status == "cancelled" else "today-row",
            **{"data-status": a.status},
        )
    )


def _empty(board: TodayBoard, actor: Actor) -> Any:
    if board.counts:  # only cancelled ones, and they are hidden
        return empty_state(
            "Every appointment today was cancelled.",
            "Switch on “Show cancelled” to see them.",
            icon="bi-calendar-x",
        )
    hint = (
        "Book patients on the Book page, or pick another clinic or practitioner above."
        if actor.can(Permission.BOOK)
        else "Pick another clinic or practitioner above; new bookings show up here."
    )
    return empty_state("No appointments today.", hint, icon="bi-cup-hot")


@callback(
    Output(pid("counts"), "children"),
    Output(pid("list"), "children"),
    Output(pid("subtitle"), "children"),
    Output(pid("updated"), "children"),
    Input(pid("who"), "value"),
    Input(pid("cancelled"), "value"),
    Input(pid("refresh"), "data"),
    Input(pid("tick"), "n_intervals"),
    Input(pid("reload"), "n_clicks"),
    permission=Permission.VIEW_TODAY,
)
def show_today(
    who: str | None,
    show_cancelled: bool | None,
    _refresh: int | None,
    _tick: int | None,
    _reload: int | None,
) -> tuple[object, object, object, object]:
    actor = current_actor()
    app = app_context()
    practitioner_id, clinic_id = _parse_who(who)
    try:
        board = get_today_board(
            app,
            actor.organization_id or 0,
            actor=actor,
            practitioner_id=practitioner_id,
            clinic_id=clinic_id,
            include_cancelled=bool(show_cancelled),
        )
    except (BookingError, PermissionDenied) as exc:
        alert = dbc.Alert(getattr(exc, "message", str(exc)), color="warning")
        return None, alert, no_update, ""
    days = " / ".join(f"{d:%A %d %B %Y}" for d in board.days)
    subtitle = f"{days}: appointments in time order; check patients in as they arrive."
    org = get_organization(app, actor.organization_id or 0)
    now = app.clock()
    updated = f"Updated at {now.astimezone(ZoneInfo(org.timezone)) if org else now:%H:%M}"
    if not board.rows:
        return _count_cards(board), _empty(board, actor), subtitle, updated
    single_clinic = clinic_id is not None or len({r.appointment.clinic_id for r in board.rows}) == 1
    own = not actor.can(Permission.ALL_PRACTITIONERS)
    table = _table(board, practitioner_id is not None or own, single_clinic)
    return _count_cards(board), table, subtitle, updated


# --------------------------------------------------------------------------- one click


@callback(
    Output(pid("feedback"), "children"),
    Output(pid("refresh"), "data"),
    Input({"type": STEP, "id": ALL, "status": ALL, "version": ALL}, "n_clicks"),
    State(pid("refresh"), "data"),
    prevent_initial_call=True,
    permission=Permission.CHANGE_STATUS,
)
def step(_clicks: list[int | None] | None, refresh: int | None) -> tuple[object, object]:
    """Check in, start or complete at the version the list showed; if someone changed
    the appointment meanwhile the service refuses (STALE) and the list reloads."""
    triggered = ctx.triggered_id
    clicked = bool(ctx.triggered) and bool(ctx.triggered[0].get("value"))
    if not clicked or not isinstance(triggered, dict):
        return no_update, no_update
    appointment_id = parse_int(triggered.get("id"))
    version = parse_int(triggered.get("version"))
    status = triggered.get("status")
    if appointment_id is None or not isinstance(status, str):
        return no_update, no_update
    kind, message = apply_action(
        app_context(), current_actor(), appointment_id, status, version, {}
    )
    return action_feedback(kind, message, "today", "The list"), (refresh or 0) + 1


# --------------------------------------------------------------------------- the panel


@callback(
    Output(pid("panel"), "is_open"),
    Output(pid("selected"), "data"),
    Input({"type": MORE, "id": ALL}, "n_clicks"),
    prevent_initial_call=True,
    permission=Permission.VIEW_TODAY,
)
def open_panel(_clicks: list[int | None] | None) -> tuple[object, object]:
    """A click on "More…" opens that appointment's panel (buttons appearing do not)."""
    triggered = ctx.triggered_id
    clicked = bool(ctx.triggered) and bool(ctx.triggered[0].get("value"))
    if not clicked or not isinstance(triggered, dict):
        return no_update, no_update
    appointment_id = parse_int(triggered.get("id"))
    if appointment_id is None:
        return no_update, no_update
    return True, {"id": appointment_id, "opened": time.time()}


def _field_id(name: str) -> dict[str, Any]:
    return {"type": FIELD, "name": name}


def _act_id(action: str) -> dict[str, Any]:
    return {"type": ACT, "action": action}


@callback(
    Output(pid("panel-body"), "children"),
    Output(pid("version"), "data"),
    Output(pid("panel-feedback"), "children"),
    Input(pid("selected"), "data"),
    Input(pid("panel-result"), "data"),
    prevent_initial_call=True,
    permission=Permission.VIEW_TODAY,
)
def show_panel(
    selected: dict[str, Any] | None, result: dict[str, Any] | None
) -> tuple[object, object, object]:
    """The selected appointment as it is now, and the outcome of the last action taken
    in the panel since it was opened."""
    appointment_id = parse_int((selected or {}).get("id"))
    if appointment_id is None:
        return None, None, None
    actor = current_actor()
    org_id = actor.organization_id or 0
    app = app_context()
    try:
        details = get_appointment_details(app, org_id, appointment_id, actor=actor)
    except (BookingError, PermissionDenied) as exc:
        return None, None, dbc.Alert(getattr(exc, "message", str(exc)), color="warning")
    # Moving an appointment to another day is the calendar's job, not the morning's.
    details = replace(details, can_reschedule=False)
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
            result.get("kind"), str(result.get("message", "")), "today-panel", "The panel"
        )
    today = details.appointment.local_date
    body = appointment_panel(details, _act_id, _field_id, today)
    return body, details.appointment.version, feedback


@callback(
    Output(pid("panel-result"), "data"),
    Output(pid("refresh"), "data", allow_duplicate=True),
    Input({"type": ACT, "action": ALL}, "n_clicks"),
    State({"type": FIELD, "name": ALL}, "value"),
    State(pid("selected"), "data"),
    State(pid("version"), "data"),
    State(pid("refresh"), "data"),
    prevent_initial_call=True,
    permission=ACTION_PERMISSIONS,
)
def act(
    _clicks: list[int | None] | None,
    field_values: list[Any] | None,
    selected: dict[str, Any] | None,
    version: int | None,
    refresh: int | None,
) -> tuple[object, object]:
    """Confirm, no-show or cancel (with a category and a reason) from the panel, at the
    version it shows; the list behind it reloads."""
    triggered = ctx.triggered_id
    clicked = bool(ctx.triggered) and bool(ctx.triggered[0].get("value"))
    appointment_id = parse_int((selected or {}).get("id"))
    action = triggered.get("action") if isinstance(triggered, dict) else None
    if not clicked or appointment_id is None or not isinstance(action, str):
        return no_update, no_update
    fields = panel_fields(field_values or [])
    kind, message = apply_action(
        app_context(), current_actor(), appointment_id, action, version, fields
    )
    data = {"id": appointment_id, "at": time.time(), "kind": kind, "message": message}
    return data, (refresh or 0) + 1
