"""Administration: weekly schedules, as a week grid per practitioner (or a week table per
clinic), with the blocks listed below and a form to add, change or end a block."""

from __future__ import annotations

from datetime import date, timedelta
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
)
from components.auth import callback
from components.context import app_context, current_actor, current_user
from components.forms import empty_state, page_header, parse_int
from components.ids import id_factory
from components.week_grid import clinic_week, practitioner_week
from domain.admin import (
    AdminError,
    ConfirmationRequired,
    create_schedule_block,
    end_schedule_block,
    update_schedule_block,
)
from domain.admin.rules import WEEKDAYS, hhmm
from domain.admin.views import (
    BlockRow,
    appointment_type_options,
    clinic_options,
    list_blocks,
    practitioner_options,
    week_plan,
    week_start,
)
from domain.permissions import Permission

dash.register_page(
    __name__,
    path="/admin/schedules",
    name="Weekly schedules",
    title="Weekly schedules · Administration · Clinic scheduling",
    nav=False,
    permission=Permission.VIEW_SETTINGS,
)

pid = id_factory("schedules")
ANY = "any"

WEEKDAY_OPTIONS = [{"label": name, "value": str(i)} for i, name in enumerate(WEEKDAYS)]

FORM = FormFields(
    pid,
    [
        Field("practitioner", "Practitioner", dbc.Select(id=pid("practitioner"))),
        Field("clinic", "Clinic", dbc.Select(id=pid("clinic"))),
        Field("weekday", "Weekday", dbc.Select(id=pid("weekday"), options=WEEKDAY_OPTIONS)),
        Field("start", "Starts", dbc.Input(id=pid("start"), type="time", step=300)),
        Field("end", "Ends", dbc.Input(id=pid("end"), type="time", step=300)),
        Field(
            "slot_minutes",
            "Slot length (minutes)",
            dbc.Input(id=pid("slot_minutes"), type="number", min=5, max=720, step=5),
        ),
        Field(
            "capacity",
            "Patients per slot",
            dbc.Input(id=pid("capacity"), type="number", min=1, max=100, step=1),
            "More than 1 for group sessions.",
        ),
        Field("valid_from", "Valid from", dbc.Input(id=pid("valid_from"), type="date")),
        Field(
            "valid_to",
            "Valid until (last day)",
            dbc.Input(id=pid("valid_to"), type="date"),
            "Empty: until further notice.",
        ),
        Field(
            "appointment_type",
            "Only this appointment type",
            dbc.Select(id=pid("appointment_type")),
            "Optional, e.g. a group-therapy block.",
        ),
    ],
)


def _options(items: list[Any], *, blank: str | None = None) -> list[dict[str, Any]]:
    # Not "": a select's own empty placeholder option would shadow it.
    out = [{"label": blank, "value": ANY}] if blank is not None else []
    return out + [
        {"label": o.label, "value": str(o.value), "disabled": not o.active} for o in items
    ]


def _query_int(value: str | None) -> int | None:
    return int(value) if isinstance(value, str) and value.isdigit() else None


def _query_date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _modal() -> dbc.Modal:
    return dbc.Modal(
        [
            dbc.ModalHeader(dbc.ModalTitle(id=pid("modal-title"))),
            dbc.ModalBody(
                [
                    dbc.Row([FORM.group("practitioner", md=6), FORM.group("clinic", md=6)]),
                    dbc.Row(
                        [
                            FORM.group("weekday", md=4),
                            FORM.group("start", md=4, xs=6),
                            FORM.group("end", md=4, xs=6),
                        ]
                    ),
                    dbc.Row(
                        [
                            FORM.group("slot_minutes", md=4, xs=6),
                            FORM.group("capacity", md=4, xs=6),
                            FORM.group("appointment_type", md=4),
                        ]
                    ),
                    html.Div(
                        dbc.Checkbox(
                            id=pid("accept_remainder"),
                            label="Leave the minutes after the last slot unbooked",
                            value=False,
                        ),
                        id=pid("remainder-box"),
                        style={"display": "none"},
                        className="mb-3",
                    ),
                    dbc.Row([FORM.group("valid_from", md=6), FORM.group("valid_to", md=6)]),
                    html.Div(id=pid("form-alert")),
                    html.Div(id=pid("confirm-box")),
                    html.Div(
                        [
                            html.Hr(),
                            html.H6("End this block"),
                            html.P(
                                "The block stops after its last day; the past keeps its "
                                "hours. A block that has not started yet is removed.",
                                className="text-muted small mb-2",
                            ),
                            dbc.InputGroup(
                                [
                                    dbc.InputGroupText("Last day"),
                                    dbc.Input(id=pid("last_day"), type="date"),
                                    dbc.Button(
                                        "End block",
                                        id=pid("end-block"),
                                        color="danger",
                                        outline=True,
                                        n_clicks=0,
                                    ),
                                ],
                                style={"maxWidth": "26rem"},
                            ),
                        ],
                        id=pid("end-box"),
                        style={"display": "none"},
                    ),
                ]
            ),
            dbc.ModalFooter(
                [
                    dbc.Button("Cancel", id=pid("cancel"), color="secondary", outline=True),
                    dbc.Button("Save", id=pid("save"), n_clicks=0),
                ]
            ),
        ],
        id=pid("modal"),
        is_open=False,
        size="lg",
        backdrop="static",
    )


def layout(
    practitioner: str | None = None,
    clinic: str | None = None,
    week: str | None = None,
    **_kwargs: str,
) -> html.Div:
    user = current_user()
    manage = can_manage()
    pracs = practitioner_options(app_context(), user.organization_id) if user else []
    clinics = clinic_options(app_context(), user.organization_id) if user else []
    # An id from the address that is not one of this organization's (another's, or gone)
    # is not put into a picker: the first one is chosen instead.
    chosen_clinic = _query_int(clinic)
    if chosen_clinic not in {o.value for o in clinics}:
        chosen_clinic = None
    view = "clinic" if chosen_clinic is not None else "practitioner"
    chosen = _query_int(practitioner)
    if chosen not in {o.value for o in pracs}:
        chosen = pracs[0].value if pracs else None
    if chosen_clinic is None and clinics:
        chosen_clinic = clinics[0].value
    monday = week_start(_query_date(week) or (org_today() if user else date.today()))
    return html.Div(
        [
            admin_nav("/admin/schedules"),
            page_header(
                "Weekly schedules",
                "The hours each practitioner works at each clinic, on the clinic's clock. "
                "Slots are cut from these blocks.",
                dbc.Button(
                    [html.I(className="bi bi-plus-lg me-1"), "Add block"],
                    id=pid("add"),
                    n_clicks=0,
                    style={} if manage else {"display": "none"},
                ),
            ),
            read_only_note(),
            dbc.Card(
                dbc.CardBody(
                    dbc.Row(
                        [
                            dbc.Col(
                                dbc.RadioItems(
                                    id=pid("view"),
                                    options=[
                                        {"label": "By practitioner", "value": "practitioner"},
                                        {"label": "By clinic", "value": "clinic"},
                                    ],
                                    value=view,
                                    className="btn-group view-switch",
                                    inputClassName="btn-check",
                                    labelClassName="btn btn-outline-primary btn-sm",
                                    labelCheckedClassName="active",
                                ),
                                xs=12,
                                lg="auto",
                                className="mb-2 mb-lg-0",
                            ),
                            dbc.Col(
                                dcc.Dropdown(
                                    id=pid("pick-practitioner"),
                                    options=[{"label": o.label, "value": o.value} for o in pracs],
                                    value=chosen,
                                    clearable=False,
                                    placeholder="Choose a practitioner",
                                ),
                                id=pid("pick-practitioner-box"),
                                xs=12,
                                lg=5,
                                className="mb-2 mb-lg-0",
                                style={} if view == "practitioner" else {"display": "none"},
                            ),
                            dbc.Col(
                                dcc.Dropdown(
                                    id=pid("pick-clinic"),
                                    options=[{"label": o.label, "value": o.value} for o in clinics],
                                    value=chosen_clinic,
                                    clearable=False,
                                    placeholder="Choose a clinic",
                                ),
                                id=pid("pick-clinic-box"),
                                xs=12,
                                lg=5,
                                className="mb-2 mb-lg-0",
                                style={} if view == "clinic" else {"display": "none"},
                            ),
                            dbc.Col(
                                dbc.InputGroup(
                                    [
                                        dbc.Button(
                                            html.I(className="bi bi-chevron-left"),
                                            id=pid("prev"),
                                            color="secondary",
                                            outline=True,
                                            title="Previous week",
                                            n_clicks=0,
                                        ),
                                        dbc.InputGroupText("Week of"),
                                        dbc.Input(
                                            id=pid("week"), type="date", value=monday.isoformat()
                                        ),
                                        dbc.Button(
                                            html.I(className="bi bi-chevron-right"),
                                            id=pid("next"),
                                            color="secondary",
                                            outline=True,
                                            title="Next week",
                                            n_clicks=0,
                                        ),
                                    ],
                                    size="sm",
                                ),
                                xs=12,
                                lg=True,
                                style={"minWidth": "17rem"},
                            ),
                        ],
                        align="center",
                    )
                ),
                className="mb-3 shadow-sm",
            ),
            html.Div(id=pid("flash")),
            dcc.Loading(html.Div(id=pid("grid")), delay_show=300),
            html.H5("Blocks", className="mt-4", id=pid("blocks-title")),
            dcc.Loading(html.Div(id=pid("blocks")), delay_show=300),
            _modal(),
            dcc.Store(id=pid("editing")),
            dcc.Store(id=pid("pending")),
            dcc.Store(id=pid("version"), data=0),
        ]
    )


@callback(
    Output(pid("week"), "value"),
    Input(pid("prev"), "n_clicks"),
    Input(pid("next"), "n_clicks"),
    State(pid("week"), "value"),
    prevent_initial_call=True,
    permission=Permission.VIEW_SETTINGS,
)
def move_week(_prev: int | None, _next: int | None, week: str | None) -> str:
    monday = week_start(_query_date(week) or org_today())
    step = -7 if ctx.triggered_id == pid("prev") else 7
    return (monday + timedelta(days=step)).isoformat()


def _validity(b: BlockRow, today: date) -> str:
    if b.valid_to is None:
        return f"from {b.valid_from:%d %b %Y}" if b.valid_from > today else "ongoing"
    if b.valid_from > today:
        return f"{b.valid_from:%d %b %Y} – {b.valid_to:%d %b %Y}"
    return f"until {b.valid_to:%d %b %Y}"


def _blocks_table(blocks: list[BlockRow], by: str, manage: bool, today: date) -> Any:
    if not blocks:
        return empty_state(
            "No weekly hours yet",
            "Add a block: a weekday, the hours, the slot length and how many patients "
            "each slot takes. The practitioner must be assigned to the clinic first.",
            icon="bi-calendar-week",
        )
    rows = []
    for b in blocks:
        notes: list[Any] = []
        if b.unassigned_from is not None:
            notes.append(
                html.Div(
                    f"not assigned to the clinic from {b.unassigned_from:%d %b %Y}: no slots then",
                    className="text-danger small",
                )
            )
        if b.remainder:
            notes.append(html.Div(b.remainder, className="text-muted small"))
        rows.append(
            html.Tr(
                [
                    html.Td(WEEKDAYS[b.weekday]),
                    html.Td(f"{hhmm(b.start)}–{hhmm(b.end)}", className="text-nowrap"),
                    html.Td(
                        b.clinic_name if by == "practitioner" else b.practitioner_name,
                        className="text-nowrap",
                    ),
                    html.Td(f"{b.slot_minutes} min", className="text-nowrap"),
                    html.Td(b.capacity, className="text-end"),
                    html.Td(b.appointment_type or "any", className="text-nowrap"),
                    html.Td(_validity(b, today), className="text-nowrap"),
                    html.Td(notes),
                    html.Td(
                        dbc.Button(
                            [html.I(className="bi bi-pencil me-1"), "Edit"],
                            id={"type": pid("edit"), "index": b.id},
                            size="sm",
                            color="secondary",
                            outline=True,
                            className="text-nowrap",
                        )
                        if manage
                        else None,
                        className="text-end",
                    ),
                ]
            )
        )
    return dbc.Table(
        [
            html.Thead(
                html.Tr(
                    [
                        html.Th("Day"),
                        html.Th("Hours"),
                        html.Th("Clinic" if by == "practitioner" else "Practitioner"),
                        html.Th("Slots"),
                        html.Th("Per slot", className="text-end text-nowrap"),
                        html.Th("Type"),
                        html.Th("Valid"),
                        html.Th("Notes"),
                        html.Th(""),
                    ]
                )
            ),
            html.Tbody(rows),
        ],
        hover=True,
        responsive=True,
        size="sm",
        className="bg-white align-middle",
        id=pid("block-list"),
    )


@callback(
    Output(pid("grid"), "children"),
    Output(pid("blocks"), "children"),
    Output(pid("pick-practitioner-box"), "style"),
    Output(pid("pick-clinic-box"), "style"),
    Input(pid("view"), "value"),
    Input(pid("pick-practitioner"), "value"),
    Input(pid("pick-clinic"), "value"),
    Input(pid("week"), "value"),
    Input(pid("version"), "data"),
    permission=Permission.VIEW_SETTINGS,
)
def show_week(
    view: str | None,
    practitioner_id: int | None,
    clinic_id: int | None,
    week: str | None,
    _version: int | None,
) -> tuple[Any, Any, dict[str, str], dict[str, str]]:
    org = current_actor().organization_id
    c = app_context()
    today = org_today()
    monday = week_start(_query_date(week) or today)
    hidden, shown = {"display": "none"}, {}
    manage = can_manage()
    if view == "clinic":
        if clinic_id is None:
            return _choose("clinic"), None, hidden, shown
        plan = week_plan(c, org, monday, clinic_id=clinic_id)
        grid = (
            clinic_week(plan, today, pid("week-grid"))
            if any(plan.blocks.values())
            else empty_state(
                "Nobody works here this week",
                "No weekly block applies at this clinic in the week shown. Pick another week, "
                "or add blocks for the practitioners assigned here.",
                icon="bi-calendar-week",
            )
        )
        blocks = list_blocks(c, org, clinic_id=clinic_id)
        blocks.sort(key=lambda b: (b.practitioner_name, b.weekday, b.start))
        return grid, _blocks_table(blocks, "clinic", manage, today), hidden, shown
    if practitioner_id is None:
        return _choose("practitioner"), None, shown, hidden
    plan = week_plan(c, org, monday, practitioner_id=practitioner_id)
    blocks = list_blocks(c, org, practitioner_id=practitioner_id)
    return (
        practitioner_week(plan, today, pid("week-grid")),
        _blocks_table(blocks, "practitioner", manage, today),
        shown,
        hidden,
    )


def _choose(what: str) -> Any:
    return empty_state(f"Choose a {what}", f"Pick a {what} above to see their week.", "bi-search")


# --------------------------------------------------------------------------- the form

OUT = Outputs(
    open=Output(pid("modal"), "is_open"),
    title=Output(pid("modal-title"), "children"),
    practitioner_options=Output(pid("practitioner"), "options"),
    practitioner=Output(pid("practitioner"), "value"),
    practitioner_disabled=Output(pid("practitioner"), "disabled"),
    clinic_options=Output(pid("clinic"), "options"),
    clinic=Output(pid("clinic"), "value"),
    weekday=Output(pid("weekday"), "value"),
    start=Output(pid("start"), "value"),
    end=Output(pid("end"), "value"),
    slot_minutes=Output(pid("slot_minutes"), "value"),
    capacity=Output(pid("capacity"), "value"),
    valid_from=Output(pid("valid_from"), "value"),
    valid_to=Output(pid("valid_to"), "value"),
    type_options=Output(pid("appointment_type"), "options"),
    appointment_type=Output(pid("appointment_type"), "value"),
    remainder_box=Output(pid("remainder-box"), "style"),
    accept_remainder=Output(pid("accept_remainder"), "value"),
    end_box=Output(pid("end-box"), "style"),
    last_day=Output(pid("last_day"), "value"),
    form_alert=Output(pid("form-alert"), "children"),
    confirm=Output(pid("confirm-box"), "children"),
    editing=Output(pid("editing"), "data"),
    pending=Output(pid("pending"), "data"),
    version=Output(pid("version"), "data"),
    flash=Output(pid("flash"), "children"),
).add(form_outputs(FORM))


def _choices() -> dict[str, Any]:
    c, org = app_context(), current_actor().organization_id
    return {
        "practitioner_options": _options(practitioner_options(c, org)),
        "clinic_options": _options(clinic_options(c, org)),
        "type_options": _options(appointment_type_options(c, org), blank="Any type"),
    }


@callback(
    *OUT.list(),
    Input(pid("add"), "n_clicks"),
    Input({"type": pid("edit"), "index": ALL}, "n_clicks"),
    Input(pid("save"), "n_clicks"),
    Input(pid("end-block"), "n_clicks"),
    Input(pid("cancel"), "n_clicks"),
    Input({"type": pid("confirm"), "index": ALL}, "n_clicks"),
    State(pid("practitioner"), "value"),
    State(pid("clinic"), "value"),
    State(pid("weekday"), "value"),
    State(pid("start"), "value"),
    State(pid("end"), "value"),
    State(pid("slot_minutes"), "value"),
    State(pid("capacity"), "value"),
    State(pid("valid_from"), "value"),
    State(pid("valid_to"), "value"),
    State(pid("appointment_type"), "value"),
    State(pid("accept_remainder"), "value"),
    State(pid("last_day"), "value"),
    State(pid("editing"), "data"),
    State(pid("pending"), "data"),
    State(pid("pick-practitioner"), "value"),
    State(pid("pick-clinic"), "value"),
    State(pid("view"), "value"),
    State(pid("version"), "data"),
    prevent_initial_call=True,
    running=[(Output(pid("save"), "disabled"), True, False)],
    permission=Permission.MANAGE_SETTINGS,
)
def block_form(
    _add: int | None,
    _edit: list[int | None] | None,
    _save: int | None,
    _end: int | None,
    _cancel: int | None,
    _confirm: list[int | None] | None,
    practitioner: str | None,
    clinic: str | None,
    weekday: str | None,
    start: str | None,
    end: str | None,
    slot_minutes: float | None,
    capacity: float | None,
    valid_from: str | None,
    valid_to: str | None,
    appointment_type: str | None,
    accept_remainder: bool | None,
    last_day: str | None,
    editing: int | None,
    pending: dict[str, Any] | None,
    shown_practitioner: int | None,
    shown_clinic: int | None,
    view: str | None,
    version: int | None,
) -> tuple[Any, ...]:
    """Open the block form (add or edit), save it, end the block, or repeat a refused
    change with the bookings it strands confirmed."""
    if not ctx.triggered or not ctx.triggered[0].get("value"):
        raise PreventUpdate  # a button appearing, not a click
    trigger = ctx.triggered_id
    c, actor = app_context(), current_actor()
    org = actor.organization_id
    if trigger == pid("cancel"):
        return OUT.reply(open=False, confirm=None, pending=None)
    if trigger == pid("add"):
        return OUT.reply(
            open=True,
            title="Add a weekly block",
            **_choices(),
            practitioner=str(shown_practitioner)
            if view != "clinic" and shown_practitioner
            else None,
            practitioner_disabled=False,
            clinic=str(shown_clinic) if view == "clinic" and shown_clinic else None,
            weekday="0",
            start="09:00",
            end="12:00",
            slot_minutes=30,
            capacity=1,
            valid_from=org_today().isoformat(),
            valid_to="",
            appointment_type=ANY,
            remainder_box={"display": "none"},
            accept_remainder=False,
            end_box={"display": "none"},
            editing=None,
            pending=None,
            form_alert=None,
            confirm=None,
            **form_feedback(FORM, None),
        )
    if isinstance(trigger, dict) and trigger.get("type") == pid("edit"):
        block = next(
            (b for b in list_blocks(c, org, include_ended=True) if b.id == trigger.get("index")),
            None,
        )
        if block is None:
            raise PreventUpdate
        return OUT.reply(
            open=True,
            title=f"{block.practitioner_name}: {WEEKDAYS[block.weekday]} at {block.clinic_name}",
            **_choices(),
            practitioner=str(block.practitioner_id),
            practitioner_disabled=True,
            clinic=str(block.clinic_id),
            weekday=str(block.weekday),
            start=hhmm(block.start),
            end=hhmm(block.end),
            slot_minutes=block.slot_minutes,
            capacity=block.capacity,
            valid_from=block.valid_from.isoformat(),
            valid_to=block.valid_to.isoformat() if block.valid_to else "",
            appointment_type=str(block.appointment_type_id or ANY),
            remainder_box={"display": "none"},
            accept_remainder=False,
            end_box={},
            last_day=(org_today() - timedelta(days=1)).isoformat(),
            editing=block.id,
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
    values = {
        "clinic_id": parse_int(clinic),
        "weekday": weekday,
        "start": start,
        "end": end,
        "slot_minutes": slot_minutes,
        "capacity": capacity,
        "valid_from": valid_from or None,
        "valid_to": valid_to or None,
        "appointment_type_id": parse_int(appointment_type),
        "accept_remainder": bool(accept_remainder),
    }
    try:
        if action == pid("end-block") and isinstance(editing, int):
            result = end_schedule_block(
                c,
                actor,
                org,
                editing,
                last_day=last_day or None,
                confirmed_appointment_ids=confirmed,
            )
        elif action == pid("save") and isinstance(editing, int):
            result = update_schedule_block(
                c, actor, org, editing, **values, confirmed_appointment_ids=confirmed
            )
        elif action == pid("save"):
            result = create_schedule_block(
                c, actor, org, practitioner_id=parse_int(practitioner), **values
            )
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
        if action == pid("end-block"):
            # Ending has its own date field: the refusal goes beside that section.
            return OUT.reply(
                form_alert=dbc.Alert(error.message, color="danger", className="py-2 mb-2"),
                confirm=None,
                pending=None,
                **form_feedback(FORM, None),
            )
        remainder = error.code == "SLOT_REMAINDER"
        return OUT.reply(
            form_alert=error_alert(error, FORM),
            confirm=None,
            pending=None,
            **({"remainder_box": {}} if remainder else {}),
            **form_feedback(FORM, error),
        )
    return OUT.reply(
        open=False,
        confirm=None,
        pending=None,
        flash=result_alert(result),
        version=(version or 0) + 1,
    )
