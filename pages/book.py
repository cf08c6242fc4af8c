"""Booking form (front desk, coordinators): patient, practitioner, clinic, an open time,
type, duration and notes; the appointment service decides.

Prefilled from the query string, as the availability page links to it:
``/book?clinic=ID&practitioner=ID&start=ISO&type=ID&specialty=NAME&patient=ID``.

Choosing an open time holds that seat for the organization's hold minutes (default 5;
``domain.holds``): others see it taken meanwhile, this form still sees it open, and the
booking takes the held seat. Choosing another time lets the previous one go.

No double booking from this form: the button is disabled while a booking is sent, a
booked time leaves the list of open times at once, and a replayed request is refused by
the service (the time is taken; for a group seat with seats left, the one-patient-one-
place rule refuses it: the patient already has that appointment).
"""

from __future__ import annotations

import time
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import dash
import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, ctx, dcc, html, no_update

from components.auth import callback
from components.context import app_context, current_actor, current_user
from components.forms import (
    empty_state,
    field_feedback,
    form_alert,
    page_header,
    parse_date,
    parse_instant,
    parse_int,
)
from components.ids import id_factory
from components.patient_search import SEARCH_EXAMPLE, patient_choices, patient_option
from components.slot_grid import zone_label
from data.vocabulary import MAX_NOTES_LENGTH, MAX_SEARCH_LENGTH
from domain.appointments import (
    AppointmentView,
    SeriesBooking,
    SeriesPreview,
    book_series,
    create_appointment,
    preview_series,
)
from domain.availability import AvailabilityError, get_practitioner_slots
from domain.catalog import (
    list_appointment_types,
    list_practitioners,
    list_specialties,
    practitioner_clinics,
)
from domain.errors import BookingError
from domain.holds import hold_slot
from domain.organizations import get_organization
from domain.patients import get_patient
from domain.permissions import Permission
from domain.series import MAX_INTERVAL_WEEKS, MAX_OCCURRENCES, Recurrence
from domain.timefmt import fmt_span

dash.register_page(
    __name__,
    path="/book",
    name="Book",
    title="Book an appointment · Clinic scheduling",
    description="Book a patient into an open time with a practitioner.",
    icon="bi-calendar-plus",
    order=20,
    permission=Permission.BOOK,
)

pid = id_factory("book")
# One checkbox per previewed occurrence, keyed by its start (ISO).
OCCURRENCE = "book-occurrence"
# The form fields a BookingError can point at, each with its message slot.
FIELDS = ("patient", "practitioner", "clinic", "appointment_type", "duration", "start", "notes")


def _org_id() -> int | None:
    user = current_user()
    return user.organization_id if user else None


def _practitioner_options(org_id: int | None, specialty: str | None) -> list[dict[str, Any]]:
    if org_id is None:
        return []
    return [
        {"label": f"{p.name} · {p.specialty}", "value": p.id}
        for p in list_practitioners(app_context(), org_id, specialty=specialty)
    ]


def _clinic_options(org_id: int | None, practitioner_id: int | None) -> list[dict[str, Any]]:
    if org_id is None or practitioner_id is None:
        return []
    return [
        {"label": c.name, "value": c.id}
        for c in practitioner_clinics(app_context(), org_id, practitioner_id)
    ]


def _error_slot(field: str) -> html.Div:
    return html.Div(id=pid(f"{field}-error"), className="field-error", role="alert")


def _labelled(label: str, field: str, control: Any, hint: str | None = None) -> list[Any]:
    """Label, control, hint and (for the fields the service can refuse) the slot its
    message goes to."""
    return [
        dbc.Label(label, html_for=pid(field), className="fw-semibold"),
        control,
        dbc.FormText(hint) if hint else None,
        _error_slot(field) if field in FIELDS else None,
    ]


def layout(
    clinic: str | None = None,
    practitioner: str | None = None,
    start: str | None = None,
    type: str | None = None,
    specialty: str | None = None,
    patient: str | None = None,
    **_kwargs: str,
) -> html.Div:
    """Prefilled from the query string (every part optional, wrong values ignored)."""
    app = app_context()
    org_id = _org_id()
    org = get_organization(app, org_id) if org_id is not None else None
    today = org.local_today(app.clock()) if org else app.clock().date()
    specialties = list_specialties(app, org_id) if org_id else []
    types = list_appointment_types(app, org_id) if org_id else []
    chosen_specialty = specialty if specialty in specialties else None
    practitioners = _practitioner_options(org_id, chosen_specialty)
    practitioner_id = parse_int(practitioner)
    if not any(o["value"] == practitioner_id for o in practitioners):
        practitioner_id = None
    clinics = _clinic_options(org_id, practitioner_id)
    clinic_id = parse_int(clinic)
    if not any(o["value"] == clinic_id for o in clinics):
        clinic_id = clinics[0]["value"] if len(clinics) == 1 else None
    type_id = parse_int(type)
    kind = next((t for t in types if t.id == type_id), None)
    wanted = parse_instant(start)
    day = today
    if wanted is not None and clinic_id is not None:
        here = practitioner_clinics(app, org_id or 0, practitioner_id or 0)
        tz = next(c.timezone for c in here if c.id == clinic_id)
        day = wanted.astimezone(ZoneInfo(tz)).date()
    patient_options, patient_id = [], None
    chosen = parse_int(patient)
    user = current_user()
    if chosen is not None and org_id is not None and user is not None:
        found = get_patient(app, org_id, chosen, actor=user.actor)
        if found is not None:
            patient_options, patient_id = [patient_option(found)], found.id
    horizon = today + timedelta(days=org.booking_horizon_days if org else 90)

    patient_block = dbc.Col(
        [
            dbc.Label("Patient", html_for=pid("patient-search"), className="fw-semibold"),
            dbc.Input(
                id=pid("patient-search"),
                type="search",
                debounce=300,
                maxLength=MAX_SEARCH_LENGTH,
                autoComplete="off",
                placeholder="Name or date of birth",
            ),
            html.Div(
                SEARCH_EXAMPLE,
                id=pid("patient-hint"),
                className="form-text",
            ),
            dcc.Loading(
                dbc.RadioItems(
                    id=pid("patient"),
                    options=patient_options,
                    value=patient_id,
                    className="patient-results mt-1",
                    input_class_name="me-2",
                ),
                delay_show=200,
            ),
            _error_slot("patient"),
        ],
        lg=12,
        className="mb-3",
    )
    who = dbc.Row(
        [
            dbc.Col(
                _labelled(
                    "Specialty",
                    "specialty",
                    dcc.Dropdown(
                        id=pid("specialty"),
                        options=specialties,
                        value=chosen_specialty,
                        placeholder="Any specialty",
                    ),
                ),
                md=4,
                className="mb-3",
            ),
            dbc.Col(
                _labelled(
                    "Practitioner",
                    "practitioner",
                    dcc.Dropdown(
                        id=pid("practitioner"),
                        options=practitioners,
                        value=practitioner_id,
                        placeholder="Choose a practitioner",
                    ),
                ),
                md=4,
                className="mb-3",
            ),
            dbc.Col(
                _labelled(
                    "Clinic",
                    "clinic",
                    dcc.Dropdown(
                        id=pid("clinic"),
                        options=clinics,
                        value=clinic_id,
                        placeholder="Choose the practitioner first",
                    ),
                    "Only the clinics this practitioner works at.",
                ),
                md=4,
                className="mb-3",
            ),
        ]
    )
    what = dbc.Row(
        [
            dbc.Col(
                _labelled(
                    "Appointment type",
                    "appointment_type",
                    dcc.Dropdown(
                        id=pid("appointment_type"),
                        options=[{"label": t.name, "value": t.id} for t in types],
                        value=kind.id if kind else None,
                        placeholder="Choose a type",
                    ),
                ),
                md=4,
                className="mb-3",
            ),
            dbc.Col(
                _labelled(
                    "Duration (minutes)",
                    "duration",
                    dbc.Input(
                        id=pid("duration"),
                        type="number",
                        min=1,
                        max=720,
                        step=1,
                        value=kind.default_minutes if kind else None,
                    ),
                    "Set by the type; change it if this visit needs more or less.",
                ),
                md=4,
                className="mb-3",
            ),
            dbc.Col(
                _labelled(
                    "Date",
                    "date",
                    dbc.Input(
                        id=pid("date"),
                        type="date",
                        value=day.isoformat(),
                        min=today.isoformat(),
                        max=horizon.isoformat(),
                    ),
                ),
                md=4,
                className="mb-3",
            ),
        ]
    )
    when = html.Div(
        [
            dbc.Label("Open times", className="fw-semibold"),
            dcc.Loading(
                html.Div(
                    [
                        html.Div(id=pid("slots-note"), className="form-text mb-1"),
                        dbc.RadioItems(
                            id=pid("start"),
                            options=[],
                            value=wanted.isoformat() if wanted else None,
                            inline=True,
                            className="slot-choices",
                            input_class_name="btn-check",
                            label_class_name="btn btn-outline-success btn-sm",
                            label_checked_class_name="active",
                        ),
                    ]
                ),
                delay_show=200,
            ),
            html.Div(id=pid("hold-note"), className="form-text", role="status"),
            _error_slot("start"),
        ],
        className="mb-3",
    )
    notes = html.Div(
        _labelled(
            "Notes",
            "notes",
            dbc.Textarea(id=pid("notes"), rows=2, maxLength=MAX_NOTES_LENGTH),
            "Optional; seen by the practitioner and the front desk.",
        ),
        className="mb-3",
    )
    form = dbc.Card(
        dbc.CardBody(
            [
                dbc.Row(patient_block),
                who,
                what,
                when,
                notes,
                _repeat_block(today, horizon),
                html.Div(id=pid("result")),
                dbc.Button(
                    [html.I(className="bi bi-calendar-check me-2"), "Book appointment"],
                    id=pid("submit"),
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
                "Book an appointment",
                "Find the patient, choose who, where and when, then book. Times are the "
                "clinic's local time.",
            ),
            dcc.Store(id=pid("booked"), data=None),
            dcc.Store(id=pid("series-booked"), data=None),
            dbc.Row(dbc.Col(form, xl=10, xxl=9)),
        ]
    )


def _repeat_block(today: date, horizon: date) -> html.Div:
    """The "Repeat" option: every N weeks, a number of times or until a date; "Preview"
    lists each occurrence with what booking it would say, "Book selected" books the
    ticked ones together (all or none)."""
    until_default = min(today + timedelta(weeks=6), horizon)
    return html.Div(
        [
            dbc.Switch(
                id=pid("repeat"),
                label="Repeat (a recurring series)",
                value=False,
                className="fw-semibold mb-2",
            ),
            dbc.Collapse(
                dbc.Card(
                    dbc.CardBody(
                        [
                            dbc.Row(
                                [
                                    dbc.Col(
                                        [
                                            dbc.Label("Every", html_for=pid("repeat-weeks")),
                                            dbc.InputGroup(
                                                [
                                                    dbc.Input(
                                                        id=pid("repeat-weeks"),
                                                        type="number",
                                                        min=1,
                                                        max=MAX_INTERVAL_WEEKS,
                                                        step=1,
                                                        value=1,
                                                    ),
                                                    dbc.InputGroupText("week(s)"),
                                                ]
                                            ),
                                        ],
                                        md=3,
                                    ),
                                    dbc.Col(
                                        [
                                            dbc.Label("Ends", html_for=pid("repeat-end")),
                                            dbc.RadioItems(
                                                id=pid("repeat-end"),
                                                options=[
                                                    {"label": "after", "value": "count"},
                                                    {"label": "on date", "value": "until"},
                                                ],
                                                value="count",
                                                inline=True,
                                            ),
                                        ],
                                        md=3,
                                    ),
                                    dbc.Col(
                                        [
                                            dbc.Label("Appointments", html_for=pid("repeat-count")),
                                            dbc.Input(
                                                id=pid("repeat-count"),
                                                type="number",
                                                min=2,
                                                max=MAX_OCCURRENCES,
                                                step=1,
                                                value=6,
                                            ),
                                        ],
                                        md=3,
                                    ),
                                    dbc.Col(
                                        [
                                            dbc.Label("Last date", html_for=pid("repeat-until")),
                                            dbc.Input(
                                                id=pid("repeat-until"),
                                                type="date",
                                                value=until_default.isoformat(),
                                                min=today.isoformat(),
                                                max=horizon.isoformat(),
                                            ),
                                        ],
                                        md=3,
                                    ),
                                ],
                                className="mb-2",
                            ),
                            dbc.FormText(
                                "Each appointment keeps the first one's clock time, also "
                                "across daylight-saving changes. At most "
                                f"{MAX_OCCURRENCES} appointments, within the booking horizon "
                                f"({horizon:%d %b %Y})."
                            ),
                            _error_slot("repeat"),
                            html.Div(
                                dbc.Button(
                                    [html.I(className="bi bi-list-check me-2"), "Preview"],
                                    id=pid("preview"),
                                    color="secondary",
                                    n_clicks=0,
                                ),
                                className="mt-2",
                            ),
                            dcc.Loading(html.Div(id=pid("preview-table"), className="mt-3")),
                            html.Div(
                                dbc.Button(
                                    [
                                        html.I(className="bi bi-calendar-check me-2"),
                                        "Book selected",
                                    ],
                                    id=pid("book-series"),
                                    color="primary",
                                    n_clicks=0,
                                ),
                                id=pid("series-actions"),
                                className="mt-2",
                                style={"display": "none"},
                            ),
                            html.Div(id=pid("series-result"), className="mt-3"),
                        ]
                    ),
                    className="bg-light border-0",
                ),
                id=pid("repeat-box"),
                is_open=False,
            ),
        ],
        className="mb-3",
    )


def _whole_minutes(value: int | float | None) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if value != value or value in (float("inf"), float("-inf")) or value != int(value):
        return None
    return int(value)


# --------------------------------------------------------------------------- pickers


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


@callback(
    Output(pid("practitioner"), "options"),
    Output(pid("practitioner"), "value"),
    Input(pid("specialty"), "value"),
    State(pid("practitioner"), "value"),
    prevent_initial_call=True,
    permission=Permission.BOOK,
)
def practitioners_for_specialty(
    specialty: str | None, current: int | None
) -> tuple[object, object]:
    options = _practitioner_options(current_actor().organization_id, specialty)
    keep = current if any(o["value"] == current for o in options) else None
    return options, keep


@callback(
    Output(pid("clinic"), "options"),
    Output(pid("clinic"), "value"),
    Input(pid("practitioner"), "value"),
    State(pid("clinic"), "value"),
    prevent_initial_call=True,
    permission=Permission.BOOK,
)
def clinics_for_practitioner(
    practitioner_id: int | None, current: int | None
) -> tuple[object, object]:
    options = _clinic_options(current_actor().organization_id, practitioner_id)
    if any(o["value"] == current for o in options):
        return options, current
    return options, options[0]["value"] if len(options) == 1 else None


@callback(
    Output(pid("duration"), "value"),
    Input(pid("appointment_type"), "value"),
    prevent_initial_call=True,
    permission=Permission.BOOK,
)
def duration_for_type(type_id: int | None) -> object:
    org_id = current_actor().organization_id or 0
    types = list_appointment_types(app_context(), org_id)
    kind = next((t for t in types if t.id == type_id), None)
    return kind.default_minutes if kind else no_update


@callback(
    Output(pid("start"), "options"),
    Output(pid("start"), "value"),
    Output(pid("slots-note"), "children"),
    Input(pid("practitioner"), "value"),
    Input(pid("clinic"), "value"),
    Input(pid("date"), "value"),
    Input(pid("appointment_type"), "value"),
    Input(pid("duration"), "value"),
    Input(pid("booked"), "data"),
    Input(pid("series-booked"), "data"),
    State(pid("start"), "value"),
    permission=Permission.BOOK,
)
def open_times(
    practitioner_id: int | None,
    clinic_id: int | None,
    day_value: str | None,
    type_id: int | None,
    duration: int | float | None,
    _booked: dict[str, Any] | None,
    _series_booked: dict[str, Any] | None,
    wanted: str | None,
) -> tuple[object, object, object]:
    """The practitioner's open starts that day at that clinic for that type and
    duration; the chosen one stays chosen while it is still open."""
    day = parse_date(day_value)
    if practitioner_id is None or clinic_id is None or day is None:
        return [], None, "Choose a practitioner, a clinic and a date to see open times."
    minutes = _whole_minutes(duration)
    org_id = current_actor().organization_id or 0
    clinics = practitioner_clinics(app_context(), org_id, practitioner_id)
    clinic = next((c for c in clinics if c.id == clinic_id), None)
    if clinic is None:
        return [], None, "Choose one of this practitioner's clinics."
    try:
        slots = get_practitioner_slots(
            app_context(),
            org_id,
            practitioner_id,
            day,
            clinic_id=clinic_id,
            appointment_type_id=type_id,
            duration_minutes=minutes,
            # The seat this form holds stays listed (as open) for it.
            holder_user_id=current_actor().user_id,
        )
    except AvailabilityError as exc:
        return [], None, exc.message
    tz = ZoneInfo(clinic.timezone)
    options = []
    for s in slots:
        label = f"{s.start.astimezone(tz):%H:%M}"
        if s.capacity > 1:
            label += f" ({s.seats_left} of {s.capacity} seats)"
        options.append({"label": label, "value": s.start.isoformat()})
    wanted_at = parse_instant(wanted)
    chosen = next(
        (o["value"] for o in options if wanted_at and parse_instant(o["value"]) == wanted_at),
        None,
    )
    if not options:
        note = empty_state(
            f"No open time on {day:%A %d %B} at {clinic.name}.",
            "Try another date, or another practitioner or clinic.",
        )
        return [], None, note
    when = f"{day:%A %d %B} at {clinic.name}, {zone_label(clinic.timezone)}"
    count = f"{len(options)} open time{'s' if len(options) != 1 else ''}"
    return options, chosen, f"{count} on {when}."


@callback(
    Output(pid("hold-note"), "children"),
    Input(pid("start"), "value"),
    State(pid("practitioner"), "value"),
    State(pid("clinic"), "value"),
    State(pid("appointment_type"), "value"),
    State(pid("duration"), "value"),
    prevent_initial_call=True,
    permission=Permission.BOOK,
)
def hold_chosen_time(
    start: str | None,
    practitioner_id: int | None,
    clinic_id: int | None,
    type_id: int | None,
    duration: int | float | None,
) -> object:
    """Keep the chosen seat for this user while they fill in the form."""
    at = parse_instant(start)
    minutes = _whole_minutes(duration)
    if at is None or practitioner_id is None or clinic_id is None or minutes is None:
        return ""
    actor = current_actor()
    try:
        hold = hold_slot(
            app_context(),
            actor.organization_id or 0,
            actor,
            practitioner_id=practitioner_id,
            clinic_id=clinic_id,
            start=at,
            duration_minutes=minutes,
            appointment_type_id=type_id,
        )
    except BookingError as exc:
        return html.Span(
            [html.I(className="bi bi-exclamation-triangle me-1"), exc.message],
            className="text-warning-emphasis",
        )
    clinics = practitioner_clinics(app_context(), actor.organization_id or 0, practitioner_id)
    tz = next((c.timezone for c in clinics if c.id == clinic_id), "UTC")
    until = hold.expires_at.astimezone(ZoneInfo(tz))
    return html.Span(
        [
            html.I(className="bi bi-lock me-1"),
            f"Held for you until {until:%H:%M}: nobody else can book this time meanwhile.",
        ],
        id=pid("held"),
    )


# --------------------------------------------------------------------------- submit


def _success(view: AppointmentView) -> dbc.Alert:
    rows = [
        ("Patient", view.patient_name),
        ("When", fmt_span(view.start_at, view.end_at, view.clinic_timezone)),
        ("With", view.practitioner_name),
        ("Where", view.clinic_name),
        ("Type", f"{view.appointment_type_name}, {view.duration_minutes} minutes"),
    ]
    return dbc.Alert(
        [
            html.H5(
                [html.I(className="bi bi-check-circle me-2"), "Appointment booked"],
                className="alert-heading",
            ),
            html.Dl(
                [
                    item
                    for label, value in rows
                    for item in (
                        html.Dt(label, className="col-sm-3 fw-normal"),
                        html.Dd(value, className="col-sm-9 mb-1"),
                    )
                ],
                className="row mb-2",
            ),
            dcc.Link(
                "Open the practitioner's calendar",
                href=f"/calendar?practitioner={view.practitioner_id}&date={view.local_date}",
                className="alert-link",
            ),
        ],
        color="success",
        id=pid("success"),
    )


@callback(
    Output(pid("result"), "children"),
    Output(pid("booked"), "data"),
    *[Output(pid(f"{f}-error"), "children") for f in FIELDS],
    Input(pid("submit"), "n_clicks"),
    State(pid("patient"), "value"),
    State(pid("practitioner"), "value"),
    State(pid("clinic"), "value"),
    State(pid("appointment_type"), "value"),
    State(pid("duration"), "value"),
    State(pid("start"), "value"),
    State(pid("notes"), "value"),
    prevent_initial_call=True,
    running=[(Output(pid("submit"), "disabled"), True, False)],
    permission=Permission.BOOK,
)
def book(
    n_clicks: int | None,
    patient_id: int | None,
    practitioner_id: int | None,
    clinic_id: int | None,
    type_id: int | None,
    duration: int | float | None,
    start: str | None,
    notes: str | None,
) -> tuple[object, ...]:
    if not n_clicks:
        return (no_update,) * (2 + len(FIELDS))
    missing = _first_missing(patient_id, practitioner_id, clinic_id, type_id, duration, start)
    if missing is not None:
        return _refused(*missing)
    minutes = _whole_minutes(duration)
    if minutes is None:
        return _refused("duration", "The duration must be a whole number of minutes.")
    actor = current_actor()
    try:
        view = create_appointment(
            app_context(),
            actor.organization_id or 0,
            patient_id=patient_id or 0,
            practitioner_id=practitioner_id or 0,
            clinic_id=clinic_id or 0,
            start=parse_instant(start),  # type: ignore[arg-type]
            appointment_type_id=type_id or 0,
            actor=actor,
            duration_minutes=minutes,
            notes=notes,
        )
    except BookingError as exc:
        field = exc.field if exc.field in FIELDS else None
        return _refused(field, exc.message, recheck=True)
    booked = {"id": view.id, "version": view.version}
    return (_success(view), booked, *([""] * len(FIELDS)))


def _first_missing(
    patient_id: int | None,
    practitioner_id: int | None,
    clinic_id: int | None,
    type_id: int | None,
    duration: int | float | None,
    start: str | None,
) -> tuple[str, str] | None:
    """The first required choice not made yet (the form's own check, before the
    service's)."""
    if patient_id is None:
        return "patient", "Search for the patient and choose them."
    if practitioner_id is None:
        return "practitioner", "Choose a practitioner."
    if clinic_id is None:
        return "clinic", "Choose a clinic."
    if type_id is None:
        return "appointment_type", "Choose the appointment type."
    if duration is None:
        return "duration", "Give the duration in minutes."
    if parse_instant(start) is None:
        return "start", "Choose one of the open times."
    return None


FIELD_LABELS = {
    "patient": "Patient",
    "practitioner": "Practitioner",
    "clinic": "Clinic",
    "appointment_type": "Appointment type",
    "duration": "Duration",
    "start": "Open times",
    "notes": "Notes",
}


def _refused(field: str | None, message: str, *, recheck: bool = False) -> tuple[object, ...]:
    """The message next to its field (or above the button), and, when the service
    refused, a fresh list of open times (what was open may have been taken)."""
    _invalid, texts = field_feedback(FIELDS, field, message)
    where = f"see “{FIELD_LABELS[field]}” above." if field in FIELD_LABELS else message
    summary = form_alert(f"Not booked: {where}", id=pid("refused"))
    recheck_marker = {"rechecked": time.time()} if recheck else no_update
    return (summary, recheck_marker, *texts)


# --------------------------------------------------------------------------- series


@callback(
    Output(pid("repeat-box"), "is_open"),
    Output(pid("submit"), "style"),
    Output(pid("repeat-count"), "disabled"),
    Output(pid("repeat-until"), "disabled"),
    Input(pid("repeat"), "value"),
    Input(pid("repeat-end"), "value"),
    permission=Permission.BOOK,
)
def repeat_options(repeat: bool | None, end: str | None) -> tuple[object, ...]:
    """A series is booked with "Book selected" after its preview: the single-booking
    button steps aside while "Repeat" is on."""
    on = bool(repeat)
    return on, HIDDEN if on else None, end != "count", end != "until"


def _series_args(
    patient_id: int | None,
    practitioner_id: int | None,
    clinic_id: int | None,
    type_id: int | None,
    duration: int | float | None,
    start: str | None,
    weeks: int | float | None,
    end: str | None,
    count: int | float | None,
    until: str | None,
) -> dict[str, Any] | tuple[str, str]:
    """What ``preview_series``/``book_series`` take, or (field, message) for the first
    choice still missing."""
    missing = _first_missing(patient_id, practitioner_id, clinic_id, type_id, duration, start)
    if missing is not None:
        field, message = missing
        if field == "start":
            message = "Choose the first appointment's time among the open times."
        return field, message
    minutes = _whole_minutes(duration)
    if minutes is None:
        return "duration", "The duration must be a whole number of minutes."
    interval = _whole_minutes(weeks)
    if interval is None:
        return "repeat", "Repeat every whole number of weeks."
    if end == "until":
        last = parse_date(until)
        if last is None:
            return "repeat", "Choose the last date of the series."
        rule = Recurrence(interval_weeks=interval, until=last)
    else:
        times = _whole_minutes(count)
        if times is None:
            return "repeat", "Give the number of appointments."
        rule = Recurrence(interval_weeks=interval, count=times)
    return {
        "patient_id": patient_id,
        "practitioner_id": practitioner_id,
        "clinic_id": clinic_id,
        "appointment_type_id": type_id,
        "duration_minutes": minutes,
        "first_start": parse_instant(start),
        "rule": rule,
    }


HIDDEN = {"display": "none"}
SERIES_STATES = (
    State(pid("patient"), "value"),
    State(pid("practitioner"), "value"),
    State(pid("clinic"), "value"),
    State(pid("appointment_type"), "value"),
    State(pid("duration"), "value"),
    State(pid("start"), "value"),
    State(pid("repeat-weeks"), "value"),
    State(pid("repeat-end"), "value"),
    State(pid("repeat-count"), "value"),
    State(pid("repeat-until"), "value"),
)


def _preview_table(preview: SeriesPreview) -> html.Div:
    rows = []
    for o in preview.occurrences:
        result = (
            html.Span([html.I(className="bi bi-check-circle me-1"), "ok"], className="text-success")
            if o.ok
            else html.Span(
                [html.I(className="bi bi-x-circle me-1"), o.message or o.code or ""],
                className="text-danger",
            )
        )
        rows.append(
            html.Tr(
                [
                    html.Td(
                        dbc.Checkbox(
                            id={"type": OCCURRENCE, "start": o.start.isoformat()},
                            value=o.ok,
                            disabled=not o.ok,
                        ),
                        className="text-center",
                    ),
                    html.Td(str(o.number), className="text-muted"),
                    html.Td(o.label, className="text-nowrap"),
                    html.Td(result),
                ],
                className=None if o.ok else "table-danger",
                **{"data-ok": "yes" if o.ok else "no"},
            )
        )
    ok = len(preview.bookable)
    total = len(preview.occurrences)
    notes = [
        f"{ok} of {total} can be booked ({preview.rule.describe()}, {preview.clinic_name}, "
        f"{zone_label(preview.timezone)})."
    ]
    if preview.cut_at_horizon is not None:
        notes.append(
            f"The series stops at the booking horizon, {preview.cut_at_horizon:%a %d %b %Y}."
        )
    if preview.cut_at_maximum:
        notes.append(f"A series has at most {MAX_OCCURRENCES} appointments.")
    return html.Div(
        [
            html.P(" ".join(notes), className="mb-2", id=pid("preview-summary")),
            dbc.Table(
                [
                    html.Thead(
                        html.Tr(
                            [
                                html.Th("Book", className="text-center"),
                                html.Th("#"),
                                html.Th("When"),
                                html.Th("Check"),
                            ]
                        )
                    ),
                    html.Tbody(rows),
                ],
                size="sm",
                bordered=False,
                hover=True,
                className="bg-white mb-1 series-preview",
                id=pid("preview-rows"),
            ),
            dbc.FormText("Untick a date to leave it out; dates that cannot be booked stay out."),
        ]
    )


def _series_success(result: SeriesBooking) -> dbc.Alert:
    first = result.booked[0]
    n = len(result.booked)
    booked = [html.Li(fmt_span(v.start_at, v.end_at, v.clinic_timezone)) for v in result.booked]
    left_out = [
        html.Li(fmt_span(d, d + (first.end_at - first.start_at), first.clinic_timezone))
        for d in result.skipped
    ]
    return dbc.Alert(
        [
            html.H5(
                [
                    html.I(className="bi bi-check-circle me-2"),
                    f"{n} appointment{'s' if n != 1 else ''} booked",
                ],
                className="alert-heading",
            ),
            html.P(
                f"{first.patient_name} with {first.practitioner_name} at {first.clinic_name}, "
                f"{first.appointment_type_name}, {first.duration_minutes} minutes:",
                className="mb-1",
            ),
            html.Ul(booked, className="mb-2", id=pid("series-booked")),
            html.Div([html.P("Not booked:", className="mb-1"), html.Ul(left_out, className="mb-2")])
            if left_out
            else None,
            dcc.Link(
                "Open the practitioner's calendar",
                href=f"/calendar?practitioner={first.practitioner_id}&date={first.local_date}",
                className="alert-link",
            ),
        ],
        color="success",
        id=pid("series-success"),
    )


@callback(
    Output(pid("preview-table"), "children"),
    Output(pid("series-actions"), "style"),
    Output(pid("repeat-error"), "children"),
    Output(pid("series-result"), "children"),
    Output(pid("series-booked"), "data"),
    Input(pid("preview"), "n_clicks"),
    Input(pid("book-series"), "n_clicks"),
    *SERIES_STATES,
    State(pid("notes"), "value"),
    State({"type": OCCURRENCE, "start": ALL}, "value"),
    prevent_initial_call=True,
    running=[
        (Output(pid("preview"), "disabled"), True, False),
        (Output(pid("book-series"), "disabled"), True, False),
    ],
    permission=Permission.BOOK,
)
def series(
    preview_clicks: int | None,
    book_clicks: int | None,
    patient_id: int | None,
    practitioner_id: int | None,
    clinic_id: int | None,
    type_id: int | None,
    duration: int | float | None,
    start: str | None,
    weeks: int | float | None,
    end: str | None,
    count: int | float | None,
    until: str | None,
    notes: str | None,
    ticks: list[bool | None] | None,
) -> tuple[object, ...]:
    """ "Preview" lists the occurrences with what booking each would say; "Book selected"
    books the ticked ones together: all of them or, when one can no longer be booked,
    none (the message names it; preview again)."""
    booking = ctx.triggered_id == pid("book-series")
    if not (book_clicks if booking else preview_clicks):
        return (no_update,) * 5
    args = _series_args(
        patient_id, practitioner_id, clinic_id, type_id, duration, start, weeks, end, count, until
    )
    if isinstance(args, tuple):
        field, message = args
        where = f"“{FIELD_LABELS[field]}”: " if field in FIELD_LABELS else ""
        return None, HIDDEN, f"{where}{message}", None, no_update
    actor = current_actor()
    org_id = actor.organization_id or 0
    if not booking:
        try:
            result = preview_series(app_context(), org_id, actor=actor, **args)
        except BookingError as exc:
            where = f"“{FIELD_LABELS[exc.field]}”: " if exc.field in FIELD_LABELS else ""
            return None, HIDDEN, f"{where}{exc.message}", None, no_update
        return _preview_table(result), HIDDEN if not result.bookable else None, "", None, no_update
    entries = ctx.states_list[-1] if ctx.states_list else []
    chosen = [
        at
        for entry, value in zip(entries, ticks or [], strict=False)
        if value
        and isinstance(entry, dict)
        and isinstance(entry.get("id"), dict)
        and (at := parse_instant(entry["id"].get("start"))) is not None
    ]
    try:
        booked = book_series(app_context(), org_id, actor=actor, chosen=chosen, notes=notes, **args)
    except BookingError as exc:
        again = "" if exc.code == "NOTHING_CHOSEN" else " Nothing was booked: preview again."
        alert = form_alert(f"Not booked. {exc.message}{again}", id=pid("series-refused"))
        return no_update, no_update, "", alert, {"rechecked": time.time()}
    marker = {"series": booked.series_id, "at": time.time()}
    return None, HIDDEN, "", _series_success(booked), marker
