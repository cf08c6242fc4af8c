"""Organization settings (read-only): scheduling rules, notifications, clinics, staff."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, html

from components.auth import callback
from components.context import app_context, current_organization_id, current_user
from domain.auth import UserInfo, list_users
from domain.organizations import get_organization, list_clinics
from domain.permissions import ROLE_LABELS, Permission

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
NOTIFICATION_LABELS = {
    "notify_practitioner": "The practitioner is told about new, moved and cancelled visits",
    "notify_patient": "The patient is told about new, moved and cancelled visits",
    "notify_coordinators": "Coordinators are told about cancellations",
}


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
    details = []
    if org is not None:
        details = [
            dbc.Row(
                [
                    dbc.Col(_rules_card(org), lg=6, className="mb-3"),
                    dbc.Col(_notifications_card(org.settings), lg=6, className="mb-3"),
                ]
            ),
            _clinics_card(list_clinics(ctx, org.id, include_inactive=True)),
        ]
    return html.Div(
        [
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
