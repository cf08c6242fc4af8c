"""Administration: practitioners (name, specialty, active) and their clinic assignments."""

from __future__ import annotations

from datetime import date
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
    org_today,
    read_only_note,
    result_alert,
    status_pill,
)
from components.auth import callback
from components.context import app_context, current_actor, current_user
from components.forms import empty_state, page_header, parse_int
from components.ids import id_factory
from domain.admin import (
    AdminError,
    ConfirmationRequired,
    create_assignment,
    create_practitioner,
    delete_assignment,
    set_practitioner_active,
    update_assignment,
    update_practitioner,
)
from domain.admin.views import (
    AssignmentRow,
    PractitionerRow,
    clinic_options,
    list_practitioner_rows,
)
from domain.permissions import Permission

dash.register_page(
    __name__,
    path="/admin/practitioners",
    name="Practitioners",
    title="Practitioners · Administration · Clinic scheduling",
    nav=False,
    permission=Permission.VIEW_SETTINGS,
)

pid = id_factory("practitioners")

FORM = FormFields(
    pid,
    [
        Field("name", "Name", dbc.Input(id=pid("name"), maxLength=200, autoComplete="off")),
        Field(
            "specialty",
            "Specialty",
            dbc.Input(id=pid("specialty"), maxLength=100, list=pid("specialties")),
        ),
    ],
)
ASSIGN = FormFields(
    pid,
    [
        Field("clinic", "Clinic", dbc.Select(id=pid("clinic"))),
        Field("active_from", "From", dbc.Input(id=pid("active_from"), type="date")),
        Field(
            "active_to",
            "Until (last day)",
            dbc.Input(id=pid("active_to"), type="date"),
            "Leave empty for “until further notice”.",
        ),
    ],
)


def _period(a: AssignmentRow) -> str:
    if a.active_to is None:
        return f"since {a.active_from:%d %b %Y}"
    return f"{a.active_from:%d %b %Y} – {a.active_to:%d %b %Y}"


def _assignment_badges(row: PractitionerRow, today: date) -> list[Any]:
    shown = [a for a in row.assignments if a.active_to is None or a.active_to >= today]
    if not shown:
        return [html.Span("not assigned to a clinic", className="text-danger small")]
    return [
        html.Div(
            [html.Span(a.clinic_name, className="fw-semibold"), f" · {_period(a)}"],
            className="small" + ("" if a.current(today) else " text-muted"),
        )
        for a in shown
    ]


def _table(rows: list[PractitionerRow], manage: bool, today: date) -> Any:
    if not rows:
        return empty_state(
            "No practitioners yet",
            "Add the people patients book with, assign each to the clinics they work at, "
            "then give them weekly hours under “Weekly schedules”.",
            icon="bi-person-badge",
        )
    body = []
    for r in rows:
        actions = (
            html.Div(
                [
                    dbc.Button(
                        [html.I(className="bi bi-pencil me-1"), "Edit"],
                        id={"type": pid("edit"), "index": r.id},
                        size="sm",
                        color="secondary",
                        outline=True,
                    ),
                    dbc.Button(
                        [html.I(className="bi bi-hospital me-1"), "Clinics"],
                        id={"type": pid("assign"), "index": r.id},
                        size="sm",
                        color="secondary",
                        outline=True,
                    ),
                ],
                className="d-flex gap-1 justify-content-end",
            )
            if manage
            else None
        )
        body.append(
            html.Tr(
                [
                    html.Td(
                        [
                            html.Div(r.name, className="fw-semibold"),
                            html.Small(r.specialty, className="text-muted"),
                        ]
                    ),
                    html.Td(_assignment_badges(r, today)),
                    html.Td(
                        dcc.Link(
                            "Weekly hours",
                            href=f"/admin/schedules?practitioner={r.id}",
                            className="small",
                        )
                    ),
                    html.Td(f"{r.upcoming:,}", className="text-end"),
                    html.Td(status_pill(r.active)),
                    html.Td(actions),
                ],
                className="" if r.active else "text-muted",
            )
        )
    return dbc.Table(
        [
            html.Thead(
                html.Tr(
                    [
                        html.Th("Practitioner"),
                        html.Th("Clinics"),
                        html.Th("Schedule"),
                        html.Th("Upcoming bookings", className="text-end"),
                        html.Th("Status"),
                        html.Th(""),
                    ]
                )
            ),
            html.Tbody(body),
        ],
        hover=True,
        responsive=True,
        className="bg-white align-middle",
        id=pid("list"),
    )


def _specialties(rows: list[PractitionerRow]) -> html.Datalist:
    return html.Datalist(
        [html.Option(value=s) for s in sorted({r.specialty for r in rows})],
        id=pid("specialties"),
    )


def _practitioner_modal() -> dbc.Modal:
    return dbc.Modal(
        [
            dbc.ModalHeader(dbc.ModalTitle(id=pid("modal-title"))),
            dbc.ModalBody(
                [
                    dbc.Row([FORM.group("name", md=7), FORM.group("specialty", md=5)]),
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
        backdrop="static",
    )


def _assignment_modal() -> dbc.Modal:
    return dbc.Modal(
        [
            dbc.ModalHeader(dbc.ModalTitle(id=pid("assign-title"))),
            dbc.ModalBody(
                [
                    html.P(
                        "A practitioner can be booked at a clinic only while assigned to it. "
                        "Ending an assignment also ends their weekly hours there.",
                        className="text-muted small",
                    ),
                    html.Div(id=pid("assign-list")),
                    html.H6(id=pid("assign-form-title"), className="mt-3"),
                    dbc.Row(
                        [
                            ASSIGN.group("clinic", md=4),
                            ASSIGN.group("active_from", md=4),
                            ASSIGN.group("active_to", md=4),
                        ]
                    ),
                    html.Div(id=pid("assign-alert")),
                    html.Div(id=pid("assign-confirm-box")),
                ]
            ),
            dbc.ModalFooter(
                [
                    dbc.Button(
                        "New assignment",
                        id=pid("assign-new"),
                        color="secondary",
                        outline=True,
                        className="me-auto",
                        n_clicks=0,
                    ),
                    dbc.Button("Close", id=pid("assign-close"), color="secondary", outline=True),
                    dbc.Button("Save assignment", id=pid("assign-save"), n_clicks=0),
                ]
            ),
        ],
        id=pid("assign-modal"),
        is_open=False,
        size="lg",
        backdrop="static",
    )


def layout(**_kwargs: str) -> html.Div:
    user = current_user()
    manage = can_manage()
    rows = list_practitioner_rows(app_context(), user.organization_id) if user else []
    return html.Div(
        [
            admin_nav("/admin/practitioners"),
            page_header(
                "Practitioners",
                "The people patients book with and the clinics they work at. A deactivated "
                "practitioner keeps their history and is offered no more.",
                dbc.Button(
                    [html.I(className="bi bi-plus-lg me-1"), "Add practitioner"],
                    id=pid("add"),
                    n_clicks=0,
                    style={} if manage else {"display": "none"},
                ),
            ),
            read_only_note(),
            html.Div(id=pid("flash")),
            dcc.Loading(
                html.Div(
                    html.Div(_table(rows, manage, org_today()), id=pid("table-body")),
                    id=pid("table"),
                ),
                delay_show=300,
            ),
            _specialties(rows),
            _practitioner_modal(),
            _assignment_modal(),
            dcc.Store(id=pid("editing")),
            dcc.Store(id=pid("pending")),
            dcc.Store(id=pid("assigning")),
            dcc.Store(id=pid("assign-version")),
        ]
    )


OUT = Outputs(
    open=Output(pid("modal"), "is_open"),
    title=Output(pid("modal-title"), "children"),
    name=Output(pid("name"), "value"),
    specialty=Output(pid("specialty"), "value"),
    toggle_label=Output(pid("toggle"), "children"),
    toggle_style=Output(pid("toggle"), "style"),
    form_alert=Output(pid("form-alert"), "children"),
    confirm=Output(pid("confirm-box"), "children"),
    editing=Output(pid("editing"), "data"),
    pending=Output(pid("pending"), "data"),
    table=Output(pid("table-body"), "children"),
    flash=Output(pid("flash"), "children"),
).add(form_outputs(FORM))


def _triggered() -> Any:
    if not ctx.triggered or not ctx.triggered[0].get("value"):
        raise PreventUpdate  # a button appearing, not a click
    return ctx.triggered_id


def _row(practitioner_id: Any) -> PractitionerRow:
    rows = list_practitioner_rows(app_context(), current_actor().organization_id)
    row = next((r for r in rows if r.id == practitioner_id), None)
    if row is None:
        raise PreventUpdate
    return row


def _refreshed_table() -> Any:
    rows = list_practitioner_rows(app_context(), current_actor().organization_id)
    return _table(rows, True, org_today())


@callback(
    *OUT.list(),
    Input(pid("add"), "n_clicks"),
    Input({"type": pid("edit"), "index": ALL}, "n_clicks"),
    Input(pid("save"), "n_clicks"),
    Input(pid("toggle"), "n_clicks"),
    Input(pid("cancel"), "n_clicks"),
    Input({"type": pid("confirm"), "index": ALL}, "n_clicks"),
    State(pid("name"), "value"),
    State(pid("specialty"), "value"),
    State(pid("editing"), "data"),
    State(pid("pending"), "data"),
    prevent_initial_call=True,
    running=[(Output(pid("save"), "disabled"), True, False)],
    permission=Permission.MANAGE_SETTINGS,
)
def practitioner_form(
    _add: int | None,
    _edit: list[int | None] | None,
    _save: int | None,
    _toggle: int | None,
    _cancel: int | None,
    _confirm: list[int | None] | None,
    name: str | None,
    specialty: str | None,
    editing: int | None,
    pending: dict[str, Any] | None,
) -> tuple[Any, ...]:
    """Open the form (add or edit), save it, (de)activate, or repeat a refused
    deactivation with its bookings confirmed."""
    trigger = _triggered()
    c, actor = app_context(), current_actor()
    org = actor.organization_id
    if trigger == pid("cancel"):
        return OUT.reply(open=False, confirm=None, pending=None)
    if trigger == pid("add"):
        return OUT.reply(
            open=True,
            title="Add a practitioner",
            name="",
            specialty="",
            toggle_style={"display": "none"},
            editing=None,
            pending=None,
            form_alert=None,
            confirm=None,
            **form_feedback(FORM, None),
        )
    if isinstance(trigger, dict) and trigger.get("type") == pid("edit"):
        row = _row(trigger.get("index"))
        return OUT.reply(
            open=True,
            title=f"Edit {row.name}",
            name=row.name,
            specialty=row.specialty,
            toggle_label="Deactivate" if row.active else "Reactivate",
            toggle_style={},
            editing=row.id,
            pending=None,
            form_alert=None,
            confirm=None,
            **form_feedback(FORM, None),
        )
    action, confirmed = trigger, []
    if isinstance(trigger, dict) and trigger.get("type") == pid("confirm"):
        if not pending:
            raise PreventUpdate
        action, confirmed = pending.get("action"), list(pending.get("ids") or [])
    try:
        if action == pid("toggle") and isinstance(editing, int):
            row = _row(editing)
            result = set_practitioner_active(
                c, actor, org, editing, not row.active, confirmed_appointment_ids=confirmed
            )
        elif action == pid("save") and isinstance(editing, int):
            result = update_practitioner(c, actor, org, editing, name=name, specialty=specialty)
        elif action == pid("save"):
            result = create_practitioner(c, actor, org, name=name, specialty=specialty)
        else:
            raise PreventUpdate
    except ConfirmationRequired as refusal:
        return OUT.reply(
            confirm=confirmation(
                refusal, {"type": pid("confirm"), "index": 0}, "Deactivate, keep the bookings"
            ),
            pending={"action": action, "ids": refusal.appointment_ids},
            form_alert=None,
        )
    except AdminError as error:
        return OUT.reply(
            form_alert=error_alert(error, FORM),
            confirm=None,
            pending=None,
            **form_feedback(FORM, error),
        )
    return OUT.reply(
        open=False, confirm=None, pending=None, flash=result_alert(result), table=_refreshed_table()
    )


# --------------------------------------------------------------------------- assignments

ASSIGN_OUT = Outputs(
    open=Output(pid("assign-modal"), "is_open"),
    title=Output(pid("assign-title"), "children"),
    listing=Output(pid("assign-list"), "children"),
    form_title=Output(pid("assign-form-title"), "children"),
    clinic_options=Output(pid("clinic"), "options"),
    clinic=Output(pid("clinic"), "value"),
    clinic_disabled=Output(pid("clinic"), "disabled"),
    active_from=Output(pid("active_from"), "value"),
    active_to=Output(pid("active_to"), "value"),
    alert=Output(pid("assign-alert"), "children"),
    confirm=Output(pid("assign-confirm-box"), "children"),
    assigning=Output(pid("assigning"), "data"),
    changed=Output(pid("assign-version"), "data"),
).add(form_outputs(ASSIGN))


def _assignment_list(row: PractitionerRow) -> Any:
    if not row.assignments:
        return dbc.Alert(
            f"{row.name} is not assigned to any clinic yet: choose one below.",
            color="info",
            className="py-2",
        )
    today = org_today()
    return dbc.Table(
        html.Tbody(
            [
                html.Tr(
                    [
                        html.Td(a.clinic_name, className="fw-semibold"),
                        html.Td(_period(a)),
                        html.Td(
                            dbc.Badge("now", color="success")
                            if a.current(today)
                            else dbc.Badge(
                                "ended" if a.active_to and a.active_to < today else "upcoming",
                                color="secondary",
                            )
                        ),
                        html.Td(
                            html.Div(
                                [
                                    dbc.Button(
                                        "Change dates",
                                        id={"type": pid("assign-edit"), "index": a.id},
                                        size="sm",
                                        color="secondary",
                                        outline=True,
                                    ),
                                    dbc.Button(
                                        "Remove",
                                        id={"type": pid("assign-remove"), "index": a.id},
                                        size="sm",
                                        color="danger",
                                        outline=True,
                                    )
                                    if a.active_from > today
                                    else None,
                                ],
                                className="d-flex gap-1 justify-content-end",
                            )
                        ),
                    ]
                )
                for a in row.assignments
            ]
        ),
        size="sm",
        className="mb-0 align-middle",
    )


def _clinic_choices() -> list[dict[str, Any]]:
    options = clinic_options(app_context(), current_actor().organization_id)
    return [{"label": o.label, "value": str(o.value), "disabled": not o.active} for o in options]


@callback(
    *ASSIGN_OUT.list(),
    Input({"type": pid("assign"), "index": ALL}, "n_clicks"),
    Input({"type": pid("assign-edit"), "index": ALL}, "n_clicks"),
    Input({"type": pid("assign-remove"), "index": ALL}, "n_clicks"),
    Input(pid("assign-new"), "n_clicks"),
    Input(pid("assign-save"), "n_clicks"),
    Input(pid("assign-close"), "n_clicks"),
    Input({"type": pid("assign-confirm"), "index": ALL}, "n_clicks"),
    State(pid("clinic"), "value"),
    State(pid("active_from"), "value"),
    State(pid("active_to"), "value"),
    State(pid("assigning"), "data"),
    prevent_initial_call=True,
    running=[(Output(pid("assign-save"), "disabled"), True, False)],
    permission=Permission.MANAGE_SETTINGS,
)
def assignment_form(
    _open: list[int | None] | None,
    _edit: list[int | None] | None,
    _remove: list[int | None] | None,
    _new: int | None,
    _save: int | None,
    _close: int | None,
    _confirm: list[int | None] | None,
    clinic: str | None,
    active_from: str | None,
    active_to: str | None,
    assigning: dict[str, Any] | None,
) -> tuple[Any, ...]:
    """The practitioner's assignments: list them, add one, change one's dates (with the
    bookings it would strand confirmed), remove one that has not started."""
    trigger = _triggered()
    c, actor = app_context(), current_actor()
    org = actor.organization_id
    state = dict(assigning or {})
    if trigger == pid("assign-close"):
        return ASSIGN_OUT.reply(open=False, confirm=None)
    if isinstance(trigger, dict) and trigger.get("type") == pid("assign"):
        row = _row(trigger.get("index"))
        return ASSIGN_OUT.reply(
            open=True,
            title=f"Clinics of {row.name}",
            listing=_assignment_list(row),
            **_new_form(row),
            assigning={"practitioner": row.id, "assignment": None},
            alert=None,
            confirm=None,
        )
    row = _row(state.get("practitioner"))
    if trigger == pid("assign-new"):
        return ASSIGN_OUT.reply(
            **_new_form(row),
            assigning={"practitioner": row.id, "assignment": None},
            alert=None,
            confirm=None,
        )
    if isinstance(trigger, dict) and trigger.get("type") == pid("assign-edit"):
        a = next((a for a in row.assignments if a.id == trigger.get("index")), None)
        if a is None:
            raise PreventUpdate
        return ASSIGN_OUT.reply(
            form_title=f"Change the assignment to {a.clinic_name}",
            clinic_options=_clinic_choices(),
            clinic=str(a.clinic_id),
            clinic_disabled=True,
            active_from=a.active_from.isoformat(),
            active_to=a.active_to.isoformat() if a.active_to else "",
            assigning={"practitioner": row.id, "assignment": a.id},
            alert=None,
            confirm=None,
            **form_feedback(ASSIGN, None),
        )
    confirmed: list[int] = []
    action = trigger
    if isinstance(trigger, dict) and trigger.get("type") == pid("assign-confirm"):
        action, confirmed = pid("assign-save"), list(state.get("ids") or [])
    try:
        if isinstance(action, dict) and action.get("type") == pid("assign-remove"):
            result = delete_assignment(c, actor, org, parse_int(action.get("index")) or 0)
        elif action == pid("assign-save") and isinstance(state.get("assignment"), int):
            result = update_assignment(
                c,
                actor,
                org,
                state["assignment"],
                active_from=active_from,
                active_to=active_to or None,
                confirmed_appointment_ids=confirmed,
            )
        elif action == pid("assign-save"):
            result = create_assignment(
                c,
                actor,
                org,
                practitioner_id=row.id,
                clinic_id=parse_int(clinic),
                active_from=active_from,
                active_to=active_to or None,
            )
        else:
            raise PreventUpdate
    except ConfirmationRequired as refusal:
        return ASSIGN_OUT.reply(
            confirm=confirmation(
                refusal, {"type": pid("assign-confirm"), "index": 0}, "Save, keep the bookings"
            ),
            assigning={**state, "ids": refusal.appointment_ids},
            alert=None,
            **form_feedback(ASSIGN, None),
        )
    except AdminError as error:
        return ASSIGN_OUT.reply(
            alert=error_alert(error, ASSIGN), confirm=None, **form_feedback(ASSIGN, error)
        )
    row = _row(row.id)
    return ASSIGN_OUT.reply(
        listing=_assignment_list(row),
        **_new_form(row),
        assigning={"practitioner": row.id, "assignment": None},
        alert=result_alert(result),
        confirm=None,
        changed=result.id,
    )


@callback(
    Output(pid("table"), "children"),
    Input(pid("assign-version"), "data"),
    prevent_initial_call=True,
    permission=Permission.VIEW_SETTINGS,
)
def refresh_after_assignment(_changed: int | None) -> Any:
    rows = list_practitioner_rows(app_context(), current_actor().organization_id)
    return html.Div(_table(rows, can_manage(), org_today()), id=pid("table-body"))


def _new_form(row: PractitionerRow) -> dict[str, Any]:
    return {
        "form_title": "Assign to another clinic",
        "clinic_options": _clinic_choices(),
        "clinic": None,
        "clinic_disabled": False,
        "active_from": org_today().isoformat(),
        "active_to": "",
        **form_feedback(ASSIGN, None),
    }
