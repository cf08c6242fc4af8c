"""Organization settings: scheduling rules and notifications (administrators change them
here; managers read them), clinics and staff accounts."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, html

from components.admin import (
    Field,
    FormFields,
    Outputs,
    admin_nav,
    can_manage,
    error_alert,
    form_feedback,
    form_outputs,
)
from components.auth import callback
from components.context import (
    app_context,
    current_actor,
    current_organization_id,
    current_user,
)
from domain.admin import AdminError, update_organization_settings
from domain.admin.org_settings import NOTIFICATION_SWITCHES
from domain.admin.rules import MAX_BUFFER_MINUTES, MAX_HORIZON_DAYS, MAX_NOTICE_MINUTES
from domain.auth import UserInfo, list_users
from domain.holds import MAX_HOLD_MINUTES
from domain.organizations import OrganizationInfo, get_organization, list_clinics
from domain.permissions import ROLE_LABELS, Permission
from domain.waitlist import MAX_OFFER_MINUTES

dash.register_page(
    __name__,
    path="/settings",
    name="Settings",
    title="Organization settings · Clinic scheduling",
    description="Scheduling rules, notifications, clinics and staff accounts.",
    icon="bi-gear",
    order=90,
    permission=Permission.VIEW_SETTINGS,
)

ICON_ON, ICON_OFF = "bi-check-circle-fill text-success", "bi-x-circle text-muted"
NOTIFICATION_LABELS = NOTIFICATION_SWITCHES


def _head(*titles: str) -> html.Thead:
    return html.Thead(html.Tr([html.Th(t) for t in titles]))


def _minutes(n: int) -> str:
    if n == 0:
        return "none"
    hours, minutes = divmod(n, 60)
    parts = [f"{hours} hour{'s' if hours != 1 else ''}"] if hours else []
    if minutes:
        parts.append(f"{minutes} minute{'s' if minutes != 1 else ''}")
    return " ".join(parts)


def _rules_card(org) -> dbc.Card:  # type: ignore[no-untyped-def]
    rows = [
        ("Buffer between appointments", _minutes(org.buffer_minutes)),
        ("Minimum notice for a booking", _minutes(org.min_notice_minutes)),
        ("Booking horizon", f"{org.booking_horizon_days} days ahead"),
        ("A chosen time is held for", _minutes(org.hold_minutes)),
        ("A waitlist offer stays open for", _minutes(org.waitlist_offer_minutes)),
        ("Organization time zone", org.timezone),
    ]
    return dbc.Card(
        [
            dbc.CardHeader("Scheduling rules"),
            dbc.CardBody(
                html.Dl(
                    [
                        item
                        for label, value in rows
                        for item in (
                            html.Dt(label, className="col-sm-7 fw-normal text-muted"),
                            html.Dd(value, className="col-sm-5 mb-2"),
                        )
                    ],
                    className="row mb-0",
                    id="settings-rules",
                )
            ),
        ],
        className="h-100 shadow-sm",
    )


def _number(ident: str, maximum: int, minimum: int = 0) -> dbc.Input:
    return dbc.Input(id=ident, type="number", min=minimum, max=maximum, step=1)


FORM = FormFields(
    lambda name: f"settings-{name}",
    [
        Field(
            "buffer_minutes",
            "Buffer between appointments (minutes)",
            _number("settings-buffer_minutes", MAX_BUFFER_MINUTES),
            "Free time kept between a practitioner's individual appointments.",
        ),
        Field(
            "min_notice_minutes",
            "Minimum notice for a booking (minutes)",
            _number("settings-min_notice_minutes", MAX_NOTICE_MINUTES),
            "Nothing starting sooner than this is offered or accepted.",
        ),
        Field(
            "booking_horizon_days",
            "Booking horizon (days ahead)",
            _number("settings-booking_horizon_days", MAX_HORIZON_DAYS, 1),
        ),
        Field(
            "hold_minutes",
            "Hold a chosen time for (minutes)",
            _number("settings-hold_minutes", MAX_HOLD_MINUTES, 1),
            "While a booking form is open on a time, others see it taken.",
        ),
        Field(
            "waitlist_offer_minutes",
            "A waitlist offer stays open for (minutes)",
            _number("settings-waitlist_offer_minutes", MAX_OFFER_MINUTES, 1),
            "Then the freed seat is offered to the next patient waiting.",
        ),
    ],
)
NOTIFICATION_OPTIONS = [
    {"label": label, "value": key} for key, label in NOTIFICATION_SWITCHES.items()
]


def _edit_card(org: OrganizationInfo | None) -> dbc.Card:
    """The administrator's form, filled with the current values (empty for Dash's
    start-up render, which only needs the ids)."""
    values: dict[str, int | None] = {
        "buffer_minutes": org.buffer_minutes if org else None,
        "min_notice_minutes": org.min_notice_minutes if org else None,
        "booking_horizon_days": org.booking_horizon_days if org else None,
        "hold_minutes": org.hold_minutes if org else None,
        "waitlist_offer_minutes": org.waitlist_offer_minutes if org else None,
    }
    on = [k for k in NOTIFICATION_SWITCHES if org and org.settings.get(k)]
    fields = []
    for f in FORM.fields:
        # Fresh controls per visit: the module-level ones are shared by every request.
        control = _number(f.control.id, f.control.max, f.control.min)
        control.value = values[f.name]
        fields.append(Field(f.name, f.label, control, f.help))
    form = FormFields(FORM.pid, fields)
    return dbc.Card(
        [
            dbc.CardHeader("Scheduling rules and notifications"),
            dbc.CardBody(
                [
                    dbc.Row(
                        [
                            form.group("buffer_minutes", md=4),
                            form.group("min_notice_minutes", md=4),
                            form.group("booking_horizon_days", md=4),
                        ]
                    ),
                    dbc.Row(
                        [
                            form.group("hold_minutes", md=4),
                            form.group("waitlist_offer_minutes", md=4),
                        ]
                    ),
                    dbc.Label("Notifications", html_for="settings-notifications"),
                    dbc.Checklist(
                        id="settings-notifications",
                        options=NOTIFICATION_OPTIONS,
                        value=on,
                        switch=True,
                        className="mb-3",
                    ),
                    html.P(
                        f"Organization time zone: {org.timezone if org else ''}. Changes apply "
                        "to new bookings at once; existing appointments stay as they are.",
                        className="text-muted small",
                    ),
                    html.Div(id="settings-feedback"),
                    dbc.Button("Save settings", id="settings-save", n_clicks=0),
                ]
            ),
        ],
        className="shadow-sm mb-3",
        id="settings-edit",
    )


def _notifications_card(settings: dict[str, object]) -> dbc.Card:
    items = []
    known = [k for k in NOTIFICATION_LABELS if k in settings]
    for key in known + sorted(k for k in settings if k not in NOTIFICATION_LABELS):
        on = settings[key]
        items.append(
            html.Li(
                [
                    html.I(className=f"bi {ICON_ON if on else ICON_OFF} me-2"),
                    NOTIFICATION_LABELS.get(key, key.replace("_", " ").capitalize()),
                    html.Span(" (on)" if on else " (off)", className="visually-hidden"),
                ],
                className="mb-2",
            )
        )
    return dbc.Card(
        [
            dbc.CardHeader("Notifications"),
            dbc.CardBody(
                html.Ul(items, className="list-unstyled mb-0")
                if items
                else html.P("No notifications are configured.", className="text-muted mb-0")
            ),
        ],
        className="h-100 shadow-sm",
    )


def _clinics_card(clinics) -> dbc.Card:  # type: ignore[no-untyped-def]
    return dbc.Card(
        [
            dbc.CardHeader(f"Clinics ({len(clinics)})"),
            dbc.Table(
                [
                    html.Thead(
                        html.Tr([html.Th("Clinic"), html.Th("Time zone"), html.Th("Address")])
                    ),
                    html.Tbody(
                        [
                            html.Tr(
                                [html.Td(c.name), html.Td(c.timezone), html.Td(c.address or "")]
                            )
                            for c in clinics
                        ]
                    ),
                ],
                className="mb-0",
                hover=True,
                responsive=True,
                id="settings-clinics",
            ),
        ],
        className="shadow-sm mb-3",
    )


def layout(**_kwargs: str) -> html.Div:
    # Without a user (Dash's start-up render for its callback checks) the page still
    # returns its frame, with no data.
    user = current_user()
    ctx = app_context()
    org = get_organization(ctx, user.organization_id) if user else None
    details: list[Any] = []
    if user is None or (org is not None and can_manage()):
        details = [_edit_card(org)]
    elif org is not None:
        details = [
            dbc.Row(
                [
                    dbc.Col(_rules_card(org), lg=6, className="mb-3"),
                    dbc.Col(_notifications_card(org.settings), lg=6, className="mb-3"),
                ]
            )
        ]
    if org is not None:
        details.append(_clinics_card(list_clinics(ctx, org.id, include_inactive=True)))
    return html.Div(
        [
            admin_nav("/settings"),
            html.H2("Organization settings", className="mb-0"),
            html.P(org.name if org else "", className="text-muted"),
            *details,
            dbc.Card(
                [
                    dbc.CardHeader(
                        dbc.Row(
                            [
                                dbc.Col("Staff accounts"),
                                dbc.Col(
                                    dbc.Switch(
                                        id="settings-show-inactive",
                                        label="Show deactivated accounts",
                                        value=False,
                                        className="mb-0",
                                    ),
                                    width="auto",
                                ),
                            ],
                            align="center",
                        )
                    ),
                    html.Div(id="settings-staff"),
                ],
                className="shadow-sm",
            ),
        ]
    )


@callback(
    Output("settings-staff", "children"),
    Input("settings-show-inactive", "value"),
    permission=Permission.VIEW_SETTINGS,
)
def show_staff(include_inactive: bool | None) -> dbc.Table:
    org_id = current_organization_id()
    users = list_users(app_context(), org_id, include_inactive=bool(include_inactive))
    org = get_organization(app_context(), org_id)
    tz = ZoneInfo(org.timezone) if org else None

    def last_seen(u: UserInfo) -> str:
        if u.last_login_at is None:
            return "never"
        return f"{u.last_login_at.astimezone(tz):%d %b %Y %H:%M}"

    return dbc.Table(
        [
            html.Thead(
                html.Tr(
                    [
                        html.Th("Name"),
                        html.Th("E-mail"),
                        html.Th("Role"),
                        html.Th("Last sign-in"),
                        html.Th("Status"),
                    ]
                )
            ),
            html.Tbody(
                [
                    html.Tr(
                        [
                            html.Td(u.name),
                            html.Td(u.email),
                            html.Td(ROLE_LABELS.get(u.role, u.role)),
                            html.Td(last_seen(u)),
                            html.Td(
                                dbc.Badge("active", color="success")
                                if u.active
                                else dbc.Badge("deactivated", color="secondary")
                            ),
                        ]
                    )
                    for u in users
                ]
            ),
        ],
        className="mb-0",
        hover=True,
        responsive=True,
        id="settings-staff-table",
    )


SAVE = Outputs(feedback=Output("settings-feedback", "children")).add(form_outputs(FORM))


@callback(
    *SAVE.list(),
    Input("settings-save", "n_clicks"),
    State("settings-buffer_minutes", "value"),
    State("settings-min_notice_minutes", "value"),
    State("settings-booking_horizon_days", "value"),
    State("settings-hold_minutes", "value"),
    State("settings-waitlist_offer_minutes", "value"),
    State("settings-notifications", "value"),
    prevent_initial_call=True,
    running=[(Output("settings-save", "disabled"), True, False)],
    permission=Permission.MANAGE_SETTINGS,
)
def save_settings(
    n_clicks: int | None,
    buffer_minutes: float | None,
    min_notice_minutes: float | None,
    booking_horizon_days: float | None,
    hold_minutes: float | None,
    waitlist_offer_minutes: float | None,
    notifications: list[str] | None,
) -> tuple[Any, ...]:
    if not n_clicks:
        return SAVE.reply()
    actor = current_actor()
    on = set(notifications or [])
    try:
        result = update_organization_settings(
            app_context(),
            actor,
            actor.organization_id,
            buffer_minutes=buffer_minutes,
            min_notice_minutes=min_notice_minutes,
            booking_horizon_days=booking_horizon_days,
            hold_minutes=hold_minutes,
            waitlist_offer_minutes=waitlist_offer_minutes,
            notifications={key: key in on for key in NOTIFICATION_SWITCHES},
        )
    except AdminError as error:
        if error.code == "NO_CHANGE":
            return SAVE.reply(
                feedback=dbc.Alert(error.message, color="secondary", className="py-2"),
                **form_feedback(FORM, None),
            )
        return SAVE.reply(feedback=error_alert(error, FORM), **form_feedback(FORM, error))
    return SAVE.reply(
        feedback=dbc.Alert(result.message, color="success", className="py-2"),
        **form_feedback(FORM, None),
    )
