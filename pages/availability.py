"""Clinic availability (coordinators): where is there room, and when?

Organization-wide: which clinics have room on a chosen day, and open slots per clinic and
day across the range. One clinic: its open slots as a times x days grid; every open slot
links to the booking form, prefilled.
"""

from __future__ import annotations

from datetime import date, timedelta
from urllib.parse import quote_plus, urlencode

import dash
import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, ctx, dcc, html, no_update

from components.auth import callback
from components.context import app_context, current_actor, current_user
from components.forms import empty_state, page_header, parse_date, parse_int
from components.ids import id_factory
from components.slot_grid import (
    clinic_day_table,
    clinic_overview,
    clinic_slot_grid,
    zone_label,
)
from domain.availability import (
    AvailabilityError,
    ClinicAvailability,
    ClinicSlot,
    get_available_clinics,
    get_available_clinics_range,
    get_clinic_slots_range,
)
from domain.catalog import list_appointment_types, list_clinics, list_specialties
from domain.organizations import get_organization
from domain.permissions import Permission

dash.register_page(
    __name__,
    path="/availability",
    name="Availability",
    title="Clinic availability · Clinic scheduling",
    description="Find open slots across clinics and book them.",
    icon="bi-grid-3x3-gap",
    order=10,
    permission=Permission.VIEW_AVAILABILITY,
)

pid = id_factory("av")
DEFAULT_DAYS = 14
MAX_DAYS = 31
PICK = "av-pick"


def _pick_id(where: str):  # type: ignore[no-untyped-def]
    return lambda clinic_id: {"type": PICK, "clinic": clinic_id, "where": where}


def _org_id() -> int | None:
    """The signed-in user's organization; None in Dash's start-up render of the layout
    (done as nobody, to learn the page's ids), which gets the frame without data."""
    user = current_user()
    return user.organization_id if user else None


def _today() -> date:
    org_id = _org_id()
    org = get_organization(app_context(), org_id) if org_id is not None else None
    return org.local_today(app_context().clock()) if org else app_context().clock().date()


def _dropdown_col(label: str, ident: str, dropdown: dcc.Dropdown, **width: int) -> dbc.Col:
    return dbc.Col([dbc.Label(label, html_for=ident), dropdown], **width)


def _filters(
    first: date,
    last: date,
    clinic_id: int | None,
    specialty: str | None,
    type_id: int | None,
) -> dbc.Card:
    app = app_context()
    org_id = _org_id()
    clinics = list_clinics(app, org_id) if org_id else []
    specialties = list_specialties(app, org_id) if org_id else []
    types = list_appointment_types(app, org_id) if org_id else []
    return dbc.Card(
        dbc.CardBody(
            dbc.Row(
                [
                    _dropdown_col(
                        "Clinic",
                        pid("clinic"),
                        dcc.Dropdown(
                            id=pid("clinic"),
                            options=[{"label": c.name, "value": c.id} for c in clinics],
                            value=clinic_id if any(c.id == clinic_id for c in clinics) else None,
                            placeholder="All clinics (organization-wide)",
                        ),
                        md=6,
                        lg=3,
                    ),
                    dbc.Col(
                        [
                            dbc.Label("From", html_for=pid("start")),
                            dbc.Input(id=pid("start"), type="date", value=first.isoformat()),
                        ],
                        xs=6,
                        md=3,
                        lg=2,
                    ),
                    dbc.Col(
                        [
                            dbc.Label("To", html_for=pid("end")),
                            dbc.Input(id=pid("end"), type="date", value=last.isoformat()),
                        ],
                        xs=6,
                        md=3,
                        lg=2,
                    ),
                    _dropdown_col(
                        "Specialty",
                        pid("specialty"),
                        dcc.Dropdown(
                            id=pid("specialty"),
                            options=specialties,
                            value=specialty if specialty in specialties else None,
                            placeholder="Any specialty",
                        ),
                        md=6,
                        lg=3,
                    ),
                    _dropdown_col(
                        "Appointment type",
                        pid("type"),
                        dcc.Dropdown(
                            id=pid("type"),
                            options=[{"label": t.name, "value": t.id} for t in types],
                            value=type_id if any(t.id == type_id for t in types) else None,
                            placeholder="Any type",
                        ),
                        md=6,
                        lg=2,
                    ),
                ],
                className="g-3",
            )
        ),
        className="shadow-sm mb-3",
    )


def _organization_cards(first: date) -> html.Div:
    """The organization-wide half: filled by ``show_day`` and ``show_availability``."""
    day_header = dbc.CardHeader(
        dbc.Row(
            [
                dbc.Col(
                    dbc.Label(
                        "Clinics with room on", html_for=pid("day"), className="fw-semibold mb-0"
                    ),
                    width="auto",
                ),
                dbc.Col(
                    dbc.Input(id=pid("day"), type="date", value=first.isoformat(), size="sm"),
                    width="auto",
                ),
            ],
            align="center",
            className="g-2",
        )
    )
    return html.Div(
        [
            dbc.Card(
                [day_header, dcc.Loading(html.Div(id=pid("day-list")), delay_show=200)],
                className="shadow-sm mb-3",
            ),
            dbc.Card(
                [
                    dbc.CardHeader(
                        [
                            html.Span("Open slots per clinic and day", className="fw-semibold"),
                            html.Span(id=pid("overview-span"), className="text-muted"),
                        ]
                    ),
                    dbc.CardBody(dcc.Loading(html.Div(id=pid("overview")), delay_show=200)),
                ],
                className="shadow-sm",
            ),
        ],
        id=pid("org-view"),
    )


def layout(
    clinic: str | None = None,
    start: str | None = None,
    end: str | None = None,
    specialty: str | None = None,
    type: str | None = None,
    **_kwargs: str,
) -> html.Div:
    """Query string (all optional): clinic, start, end (YYYY-MM-DD), specialty, type."""
    first = parse_date(start) or _today()
    last = parse_date(end) or first + timedelta(days=DEFAULT_DAYS - 1)
    return html.Div(
        [
            page_header(
                "Clinic availability",
                "Open slots in each clinic's local time. Choose a clinic to see its slots; "
                "click a slot to book it.",
            ),
            _filters(first, last, parse_int(clinic), specialty, parse_int(type)),
            dcc.Loading(html.Div(id=pid("clinic-view")), delay_show=200),
            _organization_cards(first),
        ]
    )


def _range(start: str | None, end: str | None) -> tuple[date, date] | str:
    first, last = parse_date(start), parse_date(end)
    if first is None or last is None:
        return "Choose a start and an end date."
    if last < first:
        return "The end date is before the start date."
    if (last - first).days + 1 > MAX_DAYS:
        return f"Choose at most {MAX_DAYS} days at a time."
    return first, last


def _book_href(slot: ClinicSlot, specialty: str | None, type_id: int | None) -> str:
    # What urlencode gives, without its per-value quoting of the ids (plain digits): a
    # grid asks for hundreds of these at a time.
    start = quote_plus(slot.start.isoformat())
    href = f"/book?clinic={slot.clinic_id}&practitioner={slot.practitioner_ids[0]}&start={start}"
    filters: dict[str, object] = {}
    if specialty:
        filters["specialty"] = specialty
    if type_id:
        filters["type"] = type_id
    return f"{href}&{urlencode(filters)}" if filters else href


HIDDEN = {"display": "none"}


@callback(
    Output(pid("clinic-view"), "children"),
    Output(pid("org-view"), "style"),
    Output(pid("overview"), "children"),
    Output(pid("overview-span"), "children"),
    Input(pid("clinic"), "value"),
    Input(pid("start"), "value"),
    Input(pid("end"), "value"),
    Input(pid("specialty"), "value"),
    Input(pid("type"), "value"),
    permission=Permission.VIEW_AVAILABILITY,
)
def show_availability(
    clinic_id: int | None,
    start: str | None,
    end: str | None,
    specialty: str | None,
    type_id: int | None,
) -> tuple[object, object, object, object]:
    """One clinic: its slot grid. None: the organization's overview (the day list is
    ``show_day``)."""
    span = _range(start, end)
    if isinstance(span, str):
        return dbc.Alert(span, color="warning", className="py-2"), HIDDEN, None, None
    first, last = span
    app = app_context()
    actor = current_actor()
    org_id = actor.organization_id or 0
    today = _today()
    dates = f" · {first:%a %d %b} – {last:%a %d %b %Y}"
    try:
        if clinic_id is None:
            by_day = get_available_clinics_range(
                app, org_id, first, last, specialty=specialty, appointment_type_id=type_id
            )
            return None, {}, _overview(org_id, by_day, first, last, today), dates
        clinic = next((c for c in list_clinics(app, org_id) if c.id == clinic_id), None)
        if clinic is None:
            alert = dbc.Alert("This clinic is not open for bookings.", color="warning")
            return alert, HIDDEN, None, None
        slots = get_clinic_slots_range(
            app, org_id, clinic_id, first, last, specialty=specialty, appointment_type_id=type_id
        )
    except AvailabilityError as exc:
        return dbc.Alert(exc.message, color="warning", className="py-2"), HIDDEN, None, None
    can_book = actor.can(Permission.BOOK)

    def href(slot: ClinicSlot) -> str | None:
        return _book_href(slot, specialty, type_id) if can_book else None

    if any(slots.values()):
        body = clinic_slot_grid(slots, clinic.timezone, href, today=today, grid_id=pid("grid"))
    else:
        body = empty_state(
            f"No open slots at {clinic.name} between {first:%d %b} and {last:%d %b}.",
            "Try later dates, another clinic, or clear the specialty and type filters.",
        )
    header = dbc.CardHeader(
        dbc.Row(
            [
                dbc.Col(
                    [
                        html.Span(clinic.name, className="fw-semibold", id=pid("clinic-name")),
                        html.Span(
                            f"{dates} · {zone_label(clinic.timezone)}",
                            className="text-muted",
                        ),
                    ]
                ),
                dbc.Col(
                    dbc.Button(
                        [html.I(className="bi bi-arrow-left me-1"), "All clinics"],
                        id={"type": PICK, "clinic": 0, "where": "back"},
                        size="sm",
                        color="secondary",
                        outline=True,
                    ),
                    width="auto",
                ),
            ],
            align="center",
        )
    )
    card = dbc.Card([header, dbc.CardBody(body)], className="shadow-sm")
    return card, HIDDEN, None, None


def _overview(
    org_id: int,
    by_day: dict[date, list[ClinicAvailability]],
    first: date,
    last: date,
    today: date,
) -> object:
    if not any(by_day.values()):
        return empty_state(
            f"No clinic has open slots between {first:%d %b} and {last:%d %b}.",
            "Try later dates, or clear the specialty and type filters.",
        )
    clinics = [(c.id, c.name) for c in list_clinics(app_context(), org_id)]
    return clinic_overview(by_day, clinics, _pick_id("overview"), today=today)


@callback(
    Output(pid("day-list"), "children"),
    Input(pid("day"), "value"),
    Input(pid("specialty"), "value"),
    Input(pid("type"), "value"),
    Input(pid("clinic"), "value"),
    permission=Permission.VIEW_AVAILABILITY,
)
def show_day(
    day_value: str | None, specialty: str | None, type_id: int | None, clinic_id: int | None
) -> object:
    """Which clinics have room on one day (``get_available_clinics``; narrowed to one
    appointment type by its range form), most room first."""
    if clinic_id is not None:
        return None
    day = parse_date(day_value)
    if day is None:
        return html.P("Choose a day.", className="text-muted m-3")
    app, org_id = app_context(), current_actor().organization_id or 0
    try:
        if type_id is None:
            rows = get_available_clinics(app, org_id, day, specialty=specialty)
        else:
            rows = get_available_clinics_range(
                app, org_id, day, day, specialty=specialty, appointment_type_id=type_id
            )[day]
    except AvailabilityError as exc:
        return dbc.Alert(exc.message, color="warning", className="m-3 py-2")
    if not rows:
        return empty_state(
            f"No clinic has an open slot on {day:%A %d %B}.",
            "Choose another day, or clear the specialty and type filters.",
        )
    return clinic_day_table(rows, _pick_id("day"))


@callback(
    Output(pid("clinic"), "value"),
    Input({"type": PICK, "clinic": ALL, "where": ALL}, "n_clicks"),
    State(pid("clinic"), "value"),
    prevent_initial_call=True,
    permission=Permission.VIEW_AVAILABILITY,
)
def pick_clinic(clicks: list[int | None] | None, current: int | None) -> object:
    """A clinic's name or "Show slots" button chooses it; "All clinics" (0) goes back."""
    triggered = ctx.triggered_id
    # New buttons appearing also fire this callback, with no clicks: only a click counts.
    clicked = bool(ctx.triggered) and bool(ctx.triggered[0].get("value"))
    if not clicks or not clicked or not isinstance(triggered, dict):
        return no_update
    chosen = parse_int(triggered.get("clinic"))
    return chosen if chosen != current else no_update
