"""Administration: clinics (name, time zone, address), added, edited, deactivated."""

from __future__ import annotations

from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, ctx, dcc, html
from dash.exceptions import PreventUpdate

from components.admin import (
    Field,
    FormFields,
    Outputs,
    admin_nav,
    can_manage,
    confirmation,
    error_alert,
    form_feedback,
    form_outputs,
    read_only_note,
    result_alert,
    status_pill,
)
from components.auth import callback
from components.context import app_context, current_actor, current_user
from components.forms import empty_state, page_header
from components.ids import id_factory
from domain.admin import (
    AdminError,
    ConfirmationRequired,
    create_clinic,
    set_clinic_active,
    update_clinic,
)
from domain.admin.rules import timezone_choices
from domain.admin.views import ClinicRow, list_clinic_rows
from domain.permissions import Permission

dash.register_page(
    __name__,
    path="/admin/clinics",
    name="Clinics",
    title="Clinics · Administration · Clinic scheduling",
    nav=False,
    permission=Permission.VIEW_SETTINGS,
)

pid = id_factory("clinics")

FORM = FormFields(
    pid,
    [
        Field("name", "Name", dbc.Input(id=pid("name"), maxLength=200, autoComplete="off")),
        Field(
            "timezone",
            "Time zone",
            dbc.Select(
                id=pid("timezone"),
                options=[{"label": z.replace("_", " "), "value": z} for z in timezone_choices()],
            ),
            "Weekly hours are on this clock (daylight saving included).",
        ),
        Field(
            "address",
            "Address",
            dbc.Textarea(id=pid("address"), rows=2, maxLength=500),
        ),
    ],
)


def _table(rows: list[ClinicRow], manage: bool) -> Any:
    if not rows:
        return empty_state(
            "No clinics yet",
            "Add the clinics where patients are seen. Each has its own time zone; "
            "practitioners are then assigned to them.",
            icon="bi-hospital",
        )
    return dbc.Table(
        [
            html.Thead(
                html.Tr(
                    [
                        html.Th("Clinic"),
                        html.Th("Time zone"),
                        html.Th("Address"),
                        html.Th("Practitioners", className="text-end"),
                        html.Th("Upcoming bookings", className="text-end"),
                        html.Th("Status"),
                        html.Th(""),
                    ]
                )
            ),
            html.Tbody(
                [
                    html.Tr(
                        [
                            html.Td(r.name, className="fw-semibold"),
                            html.Td(r.timezone.replace("_", " ")),
                            html.Td(r.address or "—", style={"whiteSpace": "pre-line"}),
                            html.Td(r.practitioners, className="text-end"),
                            html.Td(f"{r.upcoming:,}", className="text-end"),
                            html.Td(status_pill(r.active)),
                            html.Td(
                                dbc.Button(
                                    [html.I(className="bi bi-pencil me-1"), "Edit"],
                                    id={"type": pid("edit"), "index": r.id},
                                    size="sm",
                                    color="secondary",
                                    outline=True,
                                )
                                if manage
                                else None,
                                className="text-end",
                            ),
                        ],
                        className="" if r.active else "text-muted",
                    )
                    for r in rows
                ]
            ),
        ],
        hover=True,
        responsive=True,
        className="bg-white align-middle",
        id=pid("list"),
    )


def _modal() -> dbc.Modal:
    return dbc.Modal(
        [
            dbc.ModalHeader(dbc.ModalTitle(id=pid("modal-title"))),
            dbc.ModalBody(
                [
                    dbc.Row([FORM.group("name", md=12)]),
                    dbc.Row([FORM.group("timezone", md=12)]),
                    dbc.Row([FORM.group("address", md=12)]),
                    html.Div(id=pid("form-alert")),
                    html.Div(id=pid("confirm-box")),
                ]
            ),
            dbc.ModalFooter(
                [
                    dbc.Button(
                        id=pid("toggle"),
                        color="danger",
                        outline=True,
                        className="me-auto",
                        style={"display": "none"},
                        n_clicks=0,
                    ),
                    dbc.Button("Cancel", id=pid("cancel"), color="secondary", outline=True),
                    dbc.Button("Save", id=pid("save"), color="primary", n_clicks=0),
                ]
            ),
        ],
        id=pid("modal"),
        is_open=False,
        size="lg",
        backdrop="static",
    )


def layout(**_kwargs: str) -> html.Div:
    user = current_user()
    manage = can_manage()
    rows = list_clinic_rows(app_context(), user.organization_id) if user else []
    return html.Div(
        [
            admin_nav("/admin/clinics"),
            page_header(
                "Clinics",
                "Where patients are seen. A deactivated clinic keeps its history and offers "
                "no more slots.",
                dbc.Button(
                    [html.I(className="bi bi-plus-lg me-1"), "Add clinic"],
                    id=pid("add"),
                    color="primary",
                    n_clicks=0,
                    style={} if manage else {"display": "none"},
                ),
            ),
            read_only_note(),
            html.Div(id=pid("flash")),
            dcc.Loading(html.Div(_table(rows, manage), id=pid("table")), delay_show=300),
            _modal(),
            dcc.Store(id=pid("editing")),
            dcc.Store(id=pid("pending")),
        ]
    )


OUT = Outputs(
    open=Output(pid("modal"), "is_open"),
    title=Output(pid("modal-title"), "children"),
    name=Output(pid("name"), "value"),
    timezone=Output(pid("timezone"), "value"),
    address=Output(pid("address"), "value"),
    toggle_label=Output(pid("toggle"), "children"),
    toggle_style=Output(pid("toggle"), "style"),
    form_alert=Output(pid("form-alert"), "children"),
    confirm=Output(pid("confirm-box"), "children"),
    editing=Output(pid("editing"), "data"),
    pending=Output(pid("pending"), "data"),
    table=Output(pid("table"), "children"),
    flash=Output(pid("flash"), "children"),
).add(form_outputs(FORM))


@callback(
    *OUT.list(),
    Input(pid("add"), "n_clicks"),
    Input({"type": pid("edit"), "index": ALL}, "n_clicks"),
    Input(pid("save"), "n_clicks"),
    Input(pid("toggle"), "n_clicks"),
    Input(pid("cancel"), "n_clicks"),
    Input({"type": pid("confirm"), "index": ALL}, "n_clicks"),
    State(pid("name"), "value"),
    State(pid("timezone"), "value"),
    State(pid("address"), "value"),
    State(pid("editing"), "data"),
    State(pid("pending"), "data"),
    prevent_initial_call=True,
    running=[(Output(pid("save"), "disabled"), True, False)],
    permission=Permission.MANAGE_SETTINGS,
)
def clinic_form(
    _add: int | None,
    _edit: list[int | None] | None,
    _save: int | None,
    _toggle: int | None,
    _cancel: int | None,
    _confirm: list[int | None] | None,
    name: str | None,
    timezone: str | None,
    address: str | None,
    editing: int | None,
    pending: dict[str, Any] | None,
) -> tuple[Any, ...]:
    """Open the form (add or edit), save it, (de)activate the clinic, or repeat a
    refused change with its bookings confirmed."""
    trigger = ctx.triggered_id
    if not ctx.triggered or not ctx.triggered[0].get("value"):
        raise PreventUpdate  # a button appearing, not a click
    c, org, actor = app_context(), current_actor().organization_id, current_actor()
    if trigger == pid("cancel"):
        return OUT.reply(open=False, confirm=None, pending=None)
    if trigger == pid("add"):
        return OUT.reply(
            open=True,
            title="Add a clinic",
            name="",
            timezone=_default_zone(),
            address="",
            toggle_style={"display": "none"},
            editing=None,
            pending=None,
            form_alert=None,
            confirm=None,
            **form_feedback(FORM, None),
        )
    if isinstance(trigger, dict) and trigger.get("type") == pid("edit"):
        row = next((r for r in list_clinic_rows(c, org) if r.id == trigger.get("index")), None)
        if row is None:
            raise PreventUpdate
        return OUT.reply(
            open=True,
            title=f"Edit {row.name}",
            name=row.name,
            timezone=row.timezone,
            address=row.address or "",
            toggle_label="Deactivate clinic" if row.active else "Reactivate clinic",
            toggle_style={},
            editing=row.id,
            pending=None,
            form_alert=None,
            confirm=None,
            **form_feedback(FORM, None),
        )
    action = trigger
    confirmed: list[int] = []
    if isinstance(trigger, dict) and trigger.get("type") == pid("confirm"):
        if not pending:
            raise PreventUpdate
        action, confirmed = pending.get("action"), list(pending.get("ids") or [])
    try:
        if action == pid("toggle") and isinstance(editing, int):
            current = next((r for r in list_clinic_rows(c, org) if r.id == editing), None)
            result = set_clinic_active(
                c,
                actor,
                org,
                editing,
                not (current.active if current else True),
                confirmed_appointment_ids=confirmed,
            )
        elif action == pid("save") and isinstance(editing, int):
            result = update_clinic(
                c,
                actor,
                org,
                editing,
                name=name,
                timezone=timezone,
                address=address,
                confirmed_appointment_ids=confirmed,
            )
        elif action == pid("save"):
            result = create_clinic(c, actor, org, name=name, timezone=timezone, address=address)
        else:
            raise PreventUpdate
    except ConfirmationRequired as refusal:
        return OUT.reply(
            confirm=confirmation(
                refusal, {"type": pid("confirm"), "index": 0}, "Go ahead, keep the bookings"
            ),
            pending={"action": action, "ids": refusal.appointment_ids},
            form_alert=None,
            **form_feedback(FORM, None),
        )
    except AdminError as error:
        return OUT.reply(
            form_alert=error_alert(error, FORM),
            confirm=None,
            pending=None,
            **form_feedback(FORM, error),
        )
    return OUT.reply(
        open=False,
        confirm=None,
        pending=None,
        flash=result_alert(result),
        table=_table(list_clinic_rows(c, org), True),
    )


def _default_zone() -> str:
    from domain.organizations import get_organization

    org = get_organization(app_context(), current_actor().organization_id)
    return org.timezone if org else "UTC"
