"""Administration: leave, holidays and clinic closures, with the bookings each collides
with listed for rescheduling (an exception never cancels a booking)."""

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
    affected_table,
    can_manage,
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
from domain.admin import (
    AdminError,
    create_exception,
    delete_exception,
    exception_collisions,
    exception_zone,
)
from domain.admin.exceptions import span_text
from domain.admin.views import ExceptionRow, clinic_options, list_exceptions, practitioner_options
from domain.permissions import Permission

dash.register_page(
    __name__,
    path="/admin/exceptions",
    name="Leave & closures",
    title="Leave & closures · Administration · Clinic scheduling",
    nav=False,
    permission=Permission.VIEW_SETTINGS,
)

pid = id_factory("exceptions")

REASONS = [
    {"label": "Leave", "value": "leave"},
    {"label": "Clinic closure", "value": "clinic-closure"},
    {"label": "Holiday", "value": "holiday"},
    {"label": "Other", "value": "other"},
]


ANY = "any"  # the "All clinics" / "Nobody chosen" choice (not an id)


def _select_options(items: list[Any], blank: str) -> list[dict[str, Any]]:
    return [{"label": blank, "value": ANY}] + [
        {"label": o.label, "value": str(o.value)} for o in items if o.active
    ]


def _fields(pracs: list[Any], clinics: list[Any], today: str) -> FormFields:
    """The form's fields, made per visit (they carry this organization's options)."""
    return FormFields(
        pid,
        [
            Field(
                "reason",
                "What is it?",
                dbc.RadioItems(id=pid("reason"), options=REASONS, value="leave", inline=True),
            ),
            Field(
                "practitioner",
                "Practitioner",
                dbc.Select(
                    id=pid("practitioner"),
                    options=_select_options(pracs, "Choose a practitioner…"),
                    value=ANY,
                ),
            ),
            Field(
                "clinic",
                "Clinic",
                dbc.Select(
                    id=pid("clinic"), options=_select_options(clinics, "All clinics"), value=ANY
                ),
                "For leave, a clinic limits it to that clinic.",
            ),
            Field("start", "From", dbc.Input(id=pid("start_date"), type="date", value=today)),
            Field(
                "end", "Until (last day)", dbc.Input(id=pid("end_date"), type="date", value=today)
            ),
            Field("note", "Note", dbc.Textarea(id=pid("note"), rows=2, maxLength=1000)),
        ],
    )


# The ids only (for the callbacks' outputs).
FORM = _fields([], [], "")


def _form(form: FormFields) -> dbc.Card:
    times = dbc.Row(
        [
            dbc.Col(
                [
                    dbc.Label("From time", html_for=pid("start_time")),
                    dbc.Input(id=pid("start_time"), type="time", step=300),
                    dbc.FormFeedback(id=pid("start_time-feedback"), type="invalid"),
                ],
                xs=6,
                className="mb-3",
            ),
            dbc.Col(
                [
                    dbc.Label("Until time", html_for=pid("end_time")),
                    dbc.Input(id=pid("end_time"), type="time", step=300),
                    dbc.FormFeedback(id=pid("end_time-feedback"), type="invalid"),
                ],
                xs=6,
                className="mb-3",
            ),
        ],
        id=pid("times"),
    )
    return dbc.Card(
        [
            dbc.CardHeader("Add leave or a closure"),
            dbc.CardBody(
                [
                    dbc.Row([form.group("reason", xs=12)]),
                    html.Div(dbc.Row([form.group("practitioner", xs=12)]), id=pid("who-box")),
                    dbc.Row([form.group("clinic", xs=12)]),
                    dbc.Row([form.group("start", xs=6), form.group("end", xs=6)]),
                    dbc.Checkbox(
                        id=pid("part_day"),
                        label="Only part of the day (set times)",
                        value=False,
                        className="mb-2",
                    ),
                    html.Div(times, id=pid("times-box"), style={"display": "none"}),
                    dbc.Row([form.group("note", xs=12)]),
                    html.Small(id=pid("zone-hint"), className="text-muted d-block mb-3"),
                    html.Div(id=pid("form-alert")),
                    dbc.Button(
                        [html.I(className="bi bi-calendar-x me-1"), "Save"],
                        id=pid("save"),
                        n_clicks=0,
                    ),
                ]
            ),
        ],
        className="shadow-sm mb-3",
        id=pid("form-card"),
        style={} if can_manage() else {"display": "none"},
    )


def layout(**_kwargs: str) -> html.Div:
    user = current_user()
    c = app_context()
    pracs = practitioner_options(c, user.organization_id) if user else []
    clinics = clinic_options(c, user.organization_id) if user else []
    card = _form(_fields(pracs, clinics, org_today().isoformat() if user else ""))
    manage = can_manage()
    rows = list_exceptions(c, user.organization_id) if user else []
    return html.Div(
        [
            admin_nav("/admin/exceptions"),
            page_header(
                "Leave & closures",
                "Time taken out of the weekly schedules: no slots are offered then. "
                "Bookings inside it stay booked and are listed for rescheduling.",
            ),
            read_only_note(),
            dbc.Row(
                [
                    dbc.Col(card, lg=5, xl=4) if manage else card,
                    dbc.Col(
                        [
                            html.Div(id=pid("flash")),
                            html.H5("Current and upcoming"),
                            dcc.Loading(
                                html.Div(_list(rows, manage), id=pid("list")),
                                delay_show=300,
                            ),
                            html.Div(id=pid("collisions"), className="mt-3"),
                        ],
                        lg=7 if manage else 12,
                        xl=8 if manage else 12,
                    ),
                ]
            ),
            dcc.Store(id=pid("version"), data=0),
        ]
    )


def _list(rows: list[ExceptionRow], manage: bool) -> Any:
    if not rows:
        return empty_state(
            "No leave or closures ahead",
            "Everyone works their weekly hours. Record leave, a holiday or a closure with "
            "the form, and its slots disappear at once.",
            icon="bi-calendar-check",
        )
    return dbc.Table(
        [
            html.Thead(
                html.Tr(
                    [
                        html.Th("What"),
                        html.Th("When (local time)"),
                        html.Th("Bookings inside"),
                        html.Th(""),
                    ]
                )
            ),
            html.Tbody(
                [
                    html.Tr(
                        [
                            html.Td(
                                [
                                    html.Div(r.label, className="fw-semibold"),
                                    html.Small(r.note, className="text-muted") if r.note else None,
                                ]
                            ),
                            html.Td(
                                [
                                    html.Div(span_text(r.start, r.end, r.timezone)),
                                    html.Small(
                                        r.timezone.replace("_", " "), className="text-muted"
                                    ),
                                ]
                            ),
                            html.Td(
                                dbc.Button(
                                    f"{r.colliding} to reschedule",
                                    id={"type": pid("show"), "index": r.id},
                                    size="sm",
                                    color="warning",
                                )
                                if r.colliding
                                else html.Span("none", className="text-muted")
                            ),
                            html.Td(
                                dbc.Button(
                                    "Withdraw",
                                    id={"type": pid("withdraw"), "index": r.id},
                                    size="sm",
                                    color="secondary",
                                    outline=True,
                                )
                                if manage
                                else None,
                                className="text-end",
                            ),
                        ]
                    )
                    for r in rows
                ]
            ),
        ],
        hover=True,
        responsive=True,
        size="sm",
        className="bg-white align-middle",
        id=pid("table"),
    )


@callback(
    Output(pid("zone-hint"), "children"),
    Output(pid("who-box"), "style"),
    Output(pid("times-box"), "style"),
    Input(pid("reason"), "value"),
    Input(pid("practitioner"), "value"),
    Input(pid("clinic"), "value"),
    Input(pid("part_day"), "value"),
    permission=Permission.VIEW_SETTINGS,
)
def explain(
    reason: str | None, practitioner: str | None, clinic: str | None, part_day: bool | None
) -> tuple[str, dict[str, str], dict[str, str]]:
    """Which clock the dates are read on, and only the fields that apply."""
    org = current_actor().organization_id
    everyone = reason in ("clinic-closure", "holiday")
    pid_ = None if everyone else parse_int(practitioner)
    try:
        zone = exception_zone(app_context(), org, pid_, parse_int(clinic))
    except AdminError:
        zone = None
    hint = (
        f"Dates and times are on {zone.replace('_', ' ')} time."
        if zone
        else "Choose a clinic of this organization."
    )
    return (
        hint,
        {"display": "none"} if everyone else {},
        {} if part_day else {"display": "none"},
    )


OUT = Outputs(
    flash=Output(pid("flash"), "children"),
    form_alert=Output(pid("form-alert"), "children"),
    version=Output(pid("version"), "data"),
    start_time_invalid=Output(pid("start_time"), "invalid"),
    start_time_feedback=Output(pid("start_time-feedback"), "children"),
    end_time_invalid=Output(pid("end_time"), "invalid"),
    end_time_feedback=Output(pid("end_time-feedback"), "children"),
).add(form_outputs(FORM))


def _time_feedback(error: AdminError | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for end in ("start", "end"):
        mine = error is not None and error.field == end
        out[f"{end}_time_invalid"] = mine
        out[f"{end}_time_feedback"] = error.message if mine and error else ""
    return out


@callback(
    *OUT.list(),
    Input(pid("save"), "n_clicks"),
    Input({"type": pid("withdraw"), "index": ALL}, "n_clicks"),
    State(pid("reason"), "value"),
    State(pid("practitioner"), "value"),
    State(pid("clinic"), "value"),
    State(pid("start_date"), "value"),
    State(pid("end_date"), "value"),
    State(pid("part_day"), "value"),
    State(pid("start_time"), "value"),
    State(pid("end_time"), "value"),
    State(pid("note"), "value"),
    State(pid("version"), "data"),
    prevent_initial_call=True,
    running=[(Output(pid("save"), "disabled"), True, False)],
    permission=Permission.MANAGE_SETTINGS,
)
def act(
    _save: int | None,
    _withdraw: list[int | None] | None,
    reason: str | None,
    practitioner: str | None,
    clinic: str | None,
    start_date: str | None,
    end_date: str | None,
    part_day: bool | None,
    start_time: str | None,
    end_time: str | None,
    note: str | None,
    version: int | None,
) -> tuple[Any, ...]:
    """Save an exception (and list what it collides with) or withdraw one."""
    if not ctx.triggered or not ctx.triggered[0].get("value"):
        raise PreventUpdate
    trigger = ctx.triggered_id
    c, actor = app_context(), current_actor()
    org = actor.organization_id
    bumped = (version or 0) + 1
    try:
        if isinstance(trigger, dict) and trigger.get("type") == pid("withdraw"):
            result = delete_exception(c, actor, org, parse_int(trigger.get("index")) or 0)
        elif trigger == pid("save"):
            everyone = reason in ("clinic-closure", "holiday")
            result = create_exception(
                c,
                actor,
                org,
                reason=reason,
                practitioner_id=None if everyone else parse_int(practitioner),
                clinic_id=parse_int(clinic),
                start_date=start_date,
                end_date=end_date or None,
                start_time=start_time if part_day else None,
                end_time=end_time if part_day else None,
                note=note,
            )
        else:
            raise PreventUpdate
    except AdminError as error:
        # Times have their own inputs beside the dates the domain's fields name.
        on_time = error.code == "INVALID_TIME"
        feedback = form_feedback(FORM, None if on_time else error)
        return OUT.reply(
            form_alert=error_alert(error, FORM),
            **_time_feedback(error if on_time else None),
            **feedback,
        )
    return OUT.reply(
        flash=result_alert(result),
        form_alert=None,
        version=bumped,
        **_time_feedback(None),
        **form_feedback(FORM, None),
    )


@callback(
    Output(pid("list"), "children"),
    Input(pid("version"), "data"),
    prevent_initial_call=True,
    permission=Permission.VIEW_SETTINGS,
)
def refresh(_version: int | None) -> Any:
    return _list(list_exceptions(app_context(), current_actor().organization_id), can_manage())


@callback(
    Output(pid("collisions"), "children"),
    Input({"type": pid("show"), "index": ALL}, "n_clicks"),
    prevent_initial_call=True,
    permission=Permission.VIEW_SETTINGS,
)
def show_collisions(_show: list[int | None] | None) -> Any:
    """The bookings still inside an exception, to call the patients and rebook."""
    if not ctx.triggered or not ctx.triggered[0].get("value"):
        raise PreventUpdate
    trigger = ctx.triggered_id
    c, org = app_context(), current_actor().organization_id
    exception_id = trigger.get("index") if isinstance(trigger, dict) else None
    rows = {r.id: r for r in list_exceptions(c, org, with_collisions=False)}
    row = rows.get(exception_id) if isinstance(exception_id, int) else None
    if row is None:
        raise PreventUpdate
    hits = exception_collisions(c, org, row.id)
    return html.Div(
        [
            html.H6(f"Still booked during {row.label[:1].lower()}{row.label[1:]}"),
            affected_table(hits) if hits else html.P("None any more.", className="text-muted"),
        ],
        className="affected border rounded p-2 bg-white",
        id=pid("collision-list"),
    )
