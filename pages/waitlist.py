"""Waitlist (coordinators): who waits for a seat, the open offers of freed seats, and a
form to put a patient on the list. Freed seats are offered by the domain
(``domain.waitlist``) in the very request that freed them; this page books or declines
those offers and refreshes itself every 30 seconds (which also closes expired offers)."""

from __future__ import annotations

from datetime import time, timedelta
from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate

from components.auth import callback
from components.context import app_context, current_actor, current_user
from components.forms import empty_state, form_alert, page_header, parse_date, parse_int
from components.ids import id_factory
from components.patient_search import patient_choices
from data.vocabulary import DAY_PARTS, MAX_NOTES_LENGTH, MAX_SEARCH_LENGTH
from domain import waitlist
from domain.appointments import book_waitlist_offer
from domain.catalog import (
    list_appointment_types,
    list_clinics,
    list_practitioners,
    list_specialties,
)
from domain.errors import BookingError
from domain.organizations import get_organization
from domain.permissions import Permission
from domain.text import TextError
from domain.timefmt import fmt_span, fmt_when

dash.register_page(
    __name__,
    path="/waitlist",
    name="Waitlist",
    title="Waitlist · Clinic scheduling",
    description="Patients waiting for a seat, and the freed seats offered to them.",
    icon="bi-hourglass-split",
    order=25,
    permission=Permission.BOOK,
)

pid = id_factory("waitlist")
PART_HOURS = {
    p: f"{p.capitalize()} ({lo:%H}-{hi:%H})" for p, (lo, hi) in waitlist.DAY_PART_HOURS.items()
}


def _org_id() -> int | None:
    user = current_user()
    return user.organization_id if user else None


def layout(**_kwargs: str) -> html.Div:
    app = app_context()
    org_id = _org_id()
    org = get_organization(app, org_id) if org_id is not None else None
    today = org.local_today(app.clock()) if org else app.clock().date()
    types = list_appointment_types(app, org_id) if org_id else []
    practitioners = list_practitioners(app, org_id) if org_id else []
    specialties = list_specialties(app, org_id) if org_id else []
    clinics = list_clinics(app, org_id) if org_id else []
    form = dbc.Card(
        dbc.CardBody(
            [
                html.H5("Add to the waitlist", className="card-title"),
                dbc.Label("Patient", html_for=pid("patient-search"), className="fw-semibold"),
                dbc.Input(
                    id=pid("patient-search"),
                    type="search",
                    debounce=300,
                    maxLength=MAX_SEARCH_LENGTH,
                    autoComplete="off",
                    placeholder="Name or date of birth",
                ),
                html.Div("For example “smith jo”.", id=pid("patient-hint"), className="form-text"),
                dbc.RadioItems(
                    id=pid("patient"),
                    options=[],
                    className="patient-results mt-1 mb-2",
                    input_class_name="me-2",
                ),
                dbc.Row(
                    [
                        dbc.Col(
                            [
                                dbc.Label("Practitioner", html_for=pid("practitioner")),
                                dcc.Dropdown(
                                    id=pid("practitioner"),
                                    options=[
                                        {"label": f"{p.name} · {p.specialty}", "value": p.id}
                                        for p in practitioners
                                    ],
                                    placeholder="A practitioner…",
                                ),
                            ],
                            md=6,
                        ),
                        dbc.Col(
                            [
                                dbc.Label("or any of a specialty", html_for=pid("specialty")),
                                dcc.Dropdown(
                                    id=pid("specialty"),
                                    options=specialties,
                                    placeholder="…or a specialty",
                                ),
                            ],
                            md=6,
                        ),
                    ],
                    className="mb-2",
                ),
                dbc.Row(
                    [
                        dbc.Col(
                            [
                                dbc.Label("Appointment type", html_for=pid("type")),
                                dcc.Dropdown(
                                    id=pid("type"),
                                    options=[{"label": t.name, "value": t.id} for t in types],
                                    value=types[0].id if types else None,
                                    clearable=False,
                                ),
                            ],
                            md=6,
                        ),
                        dbc.Col(
                            [
                                dbc.Label("Clinic (optional)", html_for=pid("clinic")),
                                dcc.Dropdown(
                                    id=pid("clinic"),
                                    options=[{"label": c.name, "value": c.id} for c in clinics],
                                    placeholder="Any clinic",
                                ),
                            ],
                            md=6,
                        ),
                    ],
                    className="mb-2",
                ),
                dbc.Row(
                    [
                        dbc.Col(
                            [
                                dbc.Label("From", html_for=pid("from")),
                                dbc.Input(id=pid("from"), type="date", value=today.isoformat()),
                            ],
                            md=6,
                        ),
                        dbc.Col(
                            [
                                dbc.Label("Until", html_for=pid("until")),
                                dbc.Input(
                                    id=pid("until"),
                                    type="date",
                                    value=(today + timedelta(days=14)).isoformat(),
                                ),
                            ],
                            md=6,
                        ),
                    ],
                    className="mb-2",
                ),
                dbc.Label("Preferred times (clinic time; none: any)", className="mb-0"),
                dbc.Checklist(
                    id=pid("parts"),
                    options=[{"label": PART_HOURS[p], "value": p} for p in DAY_PARTS],
                    value=[],
                    inline=True,
                ),
                dbc.Row(
                    [
                        dbc.Col(dbc.Input(id=pid("time-from"), type="time"), width=6),
                        dbc.Col(dbc.Input(id=pid("time-to"), type="time"), width=6),
                    ],
                    className="mb-1",
                ),
                dbc.FormText("…or a range of start times, e.g. 15:00 to 18:00."),
                dbc.Textarea(
                    id=pid("notes"),
                    rows=2,
                    maxLength=MAX_NOTES_LENGTH,
                    placeholder="Notes (optional)",
                    className="mt-2 mb-2",
                ),
                html.Div(id=pid("form-result")),
                dbc.Button(
                    [html.I(className="bi bi-person-plus me-2"), "Add to waitlist"],
                    id=pid("add"),
                    color="primary",
                    n_clicks=0,
                ),
            ]
        ),
        className="shadow-sm",
    )
    return html.Div(
        [
            page_header(
                "Waitlist",
                "Freed seats are offered to waiting patients in the order they joined, and "
                "kept for them until the offer expires. Call the patient, then book or "
                "decline.",
            ),
            dcc.Store(id=pid("version"), data=0),
            dcc.Store(id=pid("joined"), data=0),
            dcc.Interval(id=pid("tick"), interval=30_000),
            html.Div(id=pid("flash")),
            dbc.Row(
                [
                    dbc.Col(html.Div(id=pid("lists")), xl=7, className="mb-3"),
                    dbc.Col(form, xl=5),
                ]
            ),
        ]
    )


# --------------------------------------------------------------------------- lists


def _offers_table(entries: list[waitlist.EntryView]) -> Any:
    offered = [e for e in entries if e.offer is not None]
    if not offered:
        return empty_state(
            "No open offers.",
            "When an appointment is cancelled or moved, the freed seat is offered here.",
            icon="bi-inbox",
        )
    rows = []
    for e in offered:
        o = e.offer
        assert o is not None
        rows.append(
            html.Tr(
                [
                    html.Td(
                        [html.Div(e.patient_name, className="fw-semibold"), e.appointment_type_name]
                    ),
                    html.Td(
                        [
                            html.Div(fmt_span(o.start_at, o.end_at, o.clinic_timezone)),
                            f"{o.practitioner_name}, {o.clinic_name}",
                        ]
                    ),
                    html.Td(fmt_when(o.expires_at, o.clinic_timezone)),
                    html.Td(
                        html.Div(
                            [
                                dbc.Button(
                                    "Book offer",
                                    id={"type": pid("book"), "index": o.id},
                                    color="success",
                                    size="sm",
                                    n_clicks=0,
                                ),
                                dbc.Button(
                                    "Decline",
                                    id={"type": pid("decline"), "index": o.id},
                                    color="outline-secondary",
                                    size="sm",
                                    n_clicks=0,
                                ),
                            ],
                            className="d-flex gap-2",
                        )
                    ),
                ]
            )
        )
    return dbc.Table(
        [
            html.Thead(
                html.Tr(
                    [
                        html.Th("Patient"),
                        html.Th("Offered seat"),
                        html.Th("Kept until"),
                        html.Th(""),
                    ]
                )
            ),
            html.Tbody(rows),
        ],
        hover=True,
        responsive=True,
        className="align-middle",
        id=pid("offers"),
    )


def _waiting_table(entries: list[waitlist.EntryView]) -> Any:
    waiting = [e for e in entries if e.offer is None]
    if not waiting:
        return empty_state("Nobody is waiting.", "Add a patient with the form.", icon="bi-people")
    rows = [
        html.Tr(
            [
                html.Td(str(n)),
                html.Td(
                    [html.Div(e.patient_name, className="fw-semibold"), e.appointment_type_name]
                ),
                html.Td(e.wants),
                html.Td(f"{e.earliest_date:%d %b} – {e.latest_date:%d %b %Y}"),
                html.Td(e.preference),
                html.Td(
                    dbc.Button(
                        "Remove",
                        id={"type": pid("remove"), "index": e.id},
                        color="link",
                        size="sm",
                        className="text-danger p-0",
                        n_clicks=0,
                    )
                ),
            ]
        )
        for n, e in enumerate(waiting, start=1)
    ]
    return dbc.Table(
        [
            html.Thead(
                html.Tr(
                    [
                        html.Th("#"),
                        html.Th("Patient"),
                        html.Th("Waits for"),
                        html.Th("Dates"),
                        html.Th("Times"),
                        html.Th(""),
                    ]
                )
            ),
            html.Tbody(rows),
        ],
        hover=True,
        responsive=True,
        size="sm",
        className="align-middle",
        id=pid("waiting"),
    )


@callback(
    Output(pid("lists"), "children"),
    Input(pid("version"), "data"),
    Input(pid("joined"), "data"),
    Input(pid("tick"), "n_intervals"),
    permission=Permission.BOOK,
)
def show(_version: int | None, _joined: int | None, _tick: int | None) -> Any:
    """Close the offers whose time is up (their seats go to the next entries), then list
    the open offers and who waits, in the order they joined."""
    actor = current_actor()
    org_id = actor.organization_id or 0
    waitlist.refresh(app_context(), org_id, actor)
    entries = waitlist.list_waitlist(app_context(), org_id, actor)
    n_offers = sum(1 for e in entries if e.offer is not None)
    return [
        html.H5(f"Open offers ({n_offers})"),
        _offers_table(entries),
        html.H5(f"Waiting ({len(entries) - n_offers})", className="mt-4"),
        _waiting_table(entries),
    ]


# --------------------------------------------------------------------------- actions


@callback(
    Output(pid("flash"), "children"),
    Output(pid("version"), "data"),
    Input({"type": pid("book"), "index": ALL}, "n_clicks"),
    Input({"type": pid("decline"), "index": ALL}, "n_clicks"),
    Input({"type": pid("remove"), "index": ALL}, "n_clicks"),
    State(pid("version"), "data"),
    prevent_initial_call=True,
    permission=Permission.BOOK,
)
def act(
    _book: list[int | None] | None,
    _decline: list[int | None] | None,
    _remove: list[int | None] | None,
    version: int | None,
) -> tuple[Any, Any]:
    """Book or decline an offer, or take an entry off the list."""
    if not ctx.triggered or not ctx.triggered[0].get("value"):
        raise PreventUpdate
    trigger = ctx.triggered_id
    if not isinstance(trigger, dict):
        raise PreventUpdate
    target = parse_int(trigger.get("index")) or 0
    kind = trigger.get("type")
    actor = current_actor()
    org_id = actor.organization_id or 0
    app = app_context()
    try:
        if kind == pid("book"):
            view = book_waitlist_offer(app, org_id, target, actor)
            when = fmt_span(view.start_at, view.end_at, view.clinic_timezone)
            message = f"Booked {view.patient_name} with {view.practitioner_name}, {when}."
            color = "success"
        elif kind == pid("decline"):
            waitlist.decline_offer(app, org_id, target, actor)
            message, color = (
                "Offer declined: the seat went to the next patient waiting, if any.",
                "info",
            )
        elif kind == pid("remove"):
            waitlist.remove_entry(app, org_id, target, actor)
            message, color = "Taken off the waitlist.", "info"
        else:
            raise PreventUpdate
    except BookingError as exc:
        return form_alert(exc.message, id=pid("refused")), (version or 0) + 1
    return form_alert(message, color=color, id=pid("done"), dismissable=True), (version or 0) + 1


@callback(
    Output(pid("patient"), "options"),
    Output(pid("patient-hint"), "children"),
    Input(pid("patient-search"), "value"),
    State(pid("patient"), "value"),
    prevent_initial_call=True,
    permission=Permission.BOOK,
)
def find_patients(query: str | None, chosen: int | None) -> tuple[object, object]:
    return patient_choices(query, chosen)


def _time(value: str | None) -> time | None:
    if not value:
        return None
    try:
        return time.fromisoformat(value)
    except ValueError:
        return None


@callback(
    Output(pid("form-result"), "children"),
    Output(pid("joined"), "data"),
    Input(pid("add"), "n_clicks"),
    State(pid("patient"), "value"),
    State(pid("practitioner"), "value"),
    State(pid("specialty"), "value"),
    State(pid("type"), "value"),
    State(pid("clinic"), "value"),
    State(pid("from"), "value"),
    State(pid("until"), "value"),
    State(pid("parts"), "value"),
    State(pid("time-from"), "value"),
    State(pid("time-to"), "value"),
    State(pid("notes"), "value"),
    State(pid("joined"), "data"),
    prevent_initial_call=True,
    running=[(Output(pid("add"), "disabled"), True, False)],
    permission=Permission.BOOK,
)
def add(
    n_clicks: int | None,
    patient_id: int | None,
    practitioner_id: int | None,
    specialty: str | None,
    type_id: int | None,
    clinic_id: int | None,
    first: str | None,
    last: str | None,
    parts: list[str] | None,
    time_from: str | None,
    time_to: str | None,
    notes: str | None,
    version: int | None,
) -> tuple[Any, Any]:
    if not n_clicks:
        raise PreventUpdate
    if patient_id is None:
        return form_alert("Search for the patient and choose them."), no_update
    earliest, latest = parse_date(first), parse_date(last)
    if earliest is None or latest is None:
        return form_alert("Give the first and the last date."), no_update
    actor = current_actor()
    try:
        entry = waitlist.add_entry(
            app_context(),
            actor.organization_id or 0,
            actor,
            patient_id=patient_id,
            appointment_type_id=type_id or 0,
            earliest_date=earliest,
            latest_date=latest,
            practitioner_id=practitioner_id,
            specialty=specialty,
            clinic_id=clinic_id,
            day_parts=parts or (),
            time_from=_time(time_from),
            time_to=_time(time_to),
            notes=notes,
        )
    except (BookingError, TextError) as exc:
        return form_alert(exc.message, id=pid("refused-add")), no_update
    return (
        form_alert(
            f"{entry.patient_name} waits for {entry.wants}.", color="success", id=pid("added")
        ),
        (version or 0) + 1,
    )
