"""Activity: the signed-in user's unread notifications (high priority first, mark read one
by one or all at once) and, for roles that may read it, the organization's activity feed,
newest first, a page at a time.

Every signed-in user gets notifications (a practitioner is told of new and cancelled
appointments), so the page opens to everyone; the feed needs ``view_activity``.
"""

from __future__ import annotations

from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, ctx, dcc, html, no_update

from components.auth import SIGNED_IN, callback
from components.context import app_context, current_actor, current_user
from components.forms import empty_state, page_header, parse_int
from components.ids import id_factory
from components.shell import UNREAD_ID, unread_label
from domain.activity import (
    ActivityView,
    NotificationView,
    count_unread_notifications,
    get_activity_feed,
    get_unread_notifications,
    mark_notifications_read,
)
from domain.errors import BookingError
from domain.organizations import get_organization
from domain.permissions import Permission
from domain.timefmt import fmt_when

dash.register_page(
    __name__,
    path="/activity",
    name="Activity",
    title="Activity · Clinic scheduling",
    description="Your unread notifications and what happened recently in the organization.",
    icon="bi-bell",
    order=80,
    permission=SIGNED_IN,
)

pid = id_factory("activity")
READ = "activity-read"
PAGE_SIZE = 25
NOTIFICATION_LIMIT = 100


def _feed_allowed() -> bool:
    """The feed's components are in the page for users who may read it, and in the
    start-up render (as nobody) that must hold every component a callback names."""
    user = current_user()
    return user is None or user.actor.can(Permission.VIEW_ACTIVITY)


def layout(**_kwargs: str) -> Any:
    notes = dbc.Card(
        [
            dbc.CardHeader(
                html.Div(
                    [
                        html.Span(
                            [html.I(className="bi bi-bell me-2"), "Your unread notifications"],
                            className="fw-semibold",
                        ),
                        dbc.Button(
                            [html.I(className="bi bi-check2-all me-1"), "Mark all read"],
                            id=pid("read-all"),
                            n_clicks=0,
                            color="secondary",
                            outline=True,
                            size="sm",
                        ),
                    ],
                    className="d-flex justify-content-between align-items-center",
                )
            ),
            dbc.CardBody(
                [
                    html.Div(id=pid("notes-feedback")),
                    # Rendered with the page: "mark read" fires at load with nothing
                    # clicked, and its no_update would keep a callback-only list empty.
                    dcc.Loading(html.Div(_notes(), id=pid("notes")), delay_show=200),
                ]
            ),
        ],
        className="shadow-sm mb-3",
    )
    columns = [dbc.Col(notes, lg=5)]
    if _feed_allowed():
        feed = dbc.Card(
            [
                dbc.CardHeader(
                    html.Div(
                        [
                            html.Span(
                                [html.I(className="bi bi-clock-history me-2"), "Recent activity"],
                                className="fw-semibold",
                            ),
                            dbc.Switch(
                                id=pid("important"),
                                label="Important only",
                                value=False,
                                className="mb-0",
                            ),
                        ],
                        className="d-flex justify-content-between align-items-center",
                    )
                ),
                dbc.CardBody(
                    [
                        dcc.Loading(html.Div(id=pid("feed")), delay_show=200),
                        html.Div(
                            [
                                dbc.Button(
                                    [html.I(className="bi bi-chevron-double-left me-1"), "Newest"],
                                    id=pid("newest"),
                                    n_clicks=0,
                                    color="secondary",
                                    outline=True,
                                    size="sm",
                                    className="me-2",
                                ),
                                dbc.Button(
                                    ["Older", html.I(className="bi bi-chevron-right ms-1")],
                                    id=pid("older"),
                                    n_clicks=0,
                                    color="secondary",
                                    outline=True,
                                    size="sm",
                                ),
                            ],
                            className="mt-3",
                        ),
                    ]
                ),
            ],
            className="shadow-sm",
        )
        columns.append(dbc.Col(feed, lg=7))
    return html.Div(
        [
            page_header(
                "Activity",
                "What needs your attention, and what happened recently, newest first.",
            ),
            dbc.Row(columns, className="g-3"),
            dcc.Store(id=pid("notes-refresh"), data=0),
            # The feed's position: the last event of each page shown before this one.
            dcc.Store(id=pid("cursor"), data=[]),
            dcc.Store(id=pid("last")),
        ]
    )


def _timezone(org_id: int) -> str:
    org = get_organization(app_context(), org_id)
    return org.timezone if org else "UTC"


# --------------------------------------------------------------------------- notifications


def _note(n: NotificationView, tz: str) -> html.Li:
    return html.Li(
        [
            html.Div(
                [
                    html.Div(
                        [
                            dbc.Badge("Important", color="danger", className="me-2")
                            if n.priority == "high"
                            else None,
                            html.Span(n.title, className="fw-semibold"),
                        ]
                    ),
                    dbc.Button(
                        "Mark read",
                        id={"type": READ, "id": n.id},
                        n_clicks=0,
                        color="link",
                        size="sm",
                        className="p-0 text-nowrap",
                    ),
                ],
                className="d-flex justify-content-between gap-2",
            ),
            html.Div(n.body, className="small text-prewrap") if n.body else None,
            html.Div(fmt_when(n.created_at, tz), className="small text-muted"),
        ],
        className="list-group-item activity-note"
        + (" activity-note-high" if n.priority == "high" else ""),
        **{"data-priority": n.priority},
    )


@callback(
    Output(pid("notes"), "children"),
    Input(pid("notes-refresh"), "data"),
    prevent_initial_call=True,
    permission=SIGNED_IN,
)
def show_notifications(_refresh: int | None) -> object:
    return _notes()


def _notes() -> object:
    user = current_user()
    if user is None:  # the start-up render, as nobody
        return None
    actor = user.actor
    org_id = actor.organization_id or 0
    try:
        notes = get_unread_notifications(
            app_context(), org_id, actor.user_id or 0, limit=NOTIFICATION_LIMIT
        )
    except BookingError as exc:
        return dbc.Alert(exc.message, color="warning")
    if not notes:
        return empty_state(
            "You're all caught up.",
            "New notifications (bookings, cancellations, changes for you or your team) "
            "appear here and on the bell in the top bar.",
            icon="bi-bell-slash",
        )
    tz = _timezone(org_id)
    shown = html.Ul([_note(n, tz) for n in notes], className="list-group", id=pid("note-list"))
    if len(notes) == NOTIFICATION_LIMIT:
        more = html.P(
            f"Showing the {NOTIFICATION_LIMIT} most urgent; mark these read to see the rest.",
            className="small text-muted mt-2 mb-0",
        )
        return [shown, more]
    return shown


@callback(
    Output(pid("notes-refresh"), "data"),
    Output(pid("notes-feedback"), "children"),
    Output(UNREAD_ID, "children", allow_duplicate=True),
    Output(UNREAD_ID, "className", allow_duplicate=True),
    Input({"type": READ, "id": ALL}, "n_clicks"),
    Input(pid("read-all"), "n_clicks"),
    State(pid("notes-refresh"), "data"),
    prevent_initial_call=True,
    permission=SIGNED_IN,
)
def mark_read(
    _clicks: list[int | None] | None, _all: int | None, refresh: int | None
) -> tuple[object, object, object, object]:
    """Mark one notification (or all of the user's) read; the list and the bell's count
    follow at once."""
    triggered = ctx.triggered_id
    clicked = bool(ctx.triggered) and bool(ctx.triggered[0].get("value"))
    if not clicked:
        return no_update, no_update, no_update, no_update
    ids: list[int] | None
    if triggered == pid("read-all"):
        ids = None
    elif isinstance(triggered, dict) and parse_int(triggered.get("id")) is not None:
        ids = [parse_int(triggered.get("id")) or 0]
    else:
        return no_update, no_update, no_update, no_update
    actor = current_actor()
    app, org_id, user_id = app_context(), actor.organization_id or 0, actor.user_id or 0
    try:
        changed = mark_notifications_read(app, org_id, user_id, ids)
        left = count_unread_notifications(app, org_id, user_id)
    except BookingError as exc:
        return no_update, dbc.Alert(exc.message, color="warning"), no_update, no_update
    feedback = None
    if ids is None:
        feedback = dbc.Alert(
            f"Marked {changed} notification{'s' if changed != 1 else ''} read.",
            color="success",
            className="py-2",
            duration=4000,
        )
    return (refresh or 0) + 1, feedback, *unread_label(left)


# --------------------------------------------------------------------------- the feed


def _event(e: ActivityView, tz: str) -> html.Li:
    return html.Li(
        [
            html.Div(fmt_when(e.created_at, tz), className="small text-muted"),
            html.Div(
                [
                    dbc.Badge("Important", color="danger", className="me-2")
                    if e.priority == "high"
                    else None,
                    html.Span(e.summary, className="text-prewrap"),
                ]
            ),
        ],
        className="list-group-item activity-event",
        **{"data-priority": e.priority},
    )


def _cursor_entry(value: Any) -> int | None:
    """A page's position: the id of the last event shown on the page before it."""
    return parse_int(value.get("id")) if isinstance(value, dict) else None


@callback(
    Output(pid("feed"), "children"),
    Output(pid("last"), "data"),
    Output(pid("older"), "disabled"),
    Output(pid("newest"), "disabled"),
    Input(pid("cursor"), "data"),
    # A new filter starts the pages over (``page_feed``), which brings the feed here.
    State(pid("important"), "value"),
    permission=Permission.VIEW_ACTIVITY,
)
def show_feed(
    cursor: list[Any] | None, important: bool | None
) -> tuple[object, object, object, object]:
    actor = current_actor()
    org_id = actor.organization_id or 0
    position = _cursor_entry((cursor or [None])[-1])
    events = get_activity_feed(
        app_context(),
        org_id,
        limit=PAGE_SIZE + 1,
        before_id=position,
        min_priority="high" if important else None,
    )
    has_older = len(events) > PAGE_SIZE
    events = events[:PAGE_SIZE]
    first_page = position is None
    if not events:
        hint = (
            "Bookings, check-ins, cancellations and changes to the set-up appear here "
            "as they happen."
            if first_page
            else "There is nothing older; go back to the newest."
        )
        title = "No important events yet." if important else "No activity yet."
        return empty_state(title, hint, icon="bi-clock-history"), None, True, first_page
    tz = _timezone(org_id)
    last = {"id": events[-1].id}
    listing = html.Ul([_event(e, tz) for e in events], className="list-group", id=pid("events"))
    return listing, last, not has_older, first_page


@callback(
    Output(pid("cursor"), "data"),
    Input(pid("older"), "n_clicks"),
    Input(pid("newest"), "n_clicks"),
    Input(pid("important"), "value"),
    State(pid("cursor"), "data"),
    State(pid("last"), "data"),
    prevent_initial_call=True,
    permission=Permission.VIEW_ACTIVITY,
)
def page_feed(
    _older: int | None,
    _newest: int | None,
    _important: bool | None,
    cursor: list[Any] | None,
    last: dict[str, Any] | None,
) -> object:
    """Older: continue after the last event shown; Newest (or a new filter): start over."""
    if ctx.triggered_id == pid("older") and _cursor_entry(last) is not None:
        return [*(cursor or []), last]
    return []
