"""No-show analytics (managers): how many appointments were kept, missed or cancelled,
when and by whom, and how full the schedules were.

Every figure comes from one ``get_appointment_stats`` call per filter change (definitions
in the README, "How the numbers are defined"); this page only lays the tables out.
"""

from __future__ import annotations

from datetime import date, timedelta

import dash
import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import Input, Output, State, dcc, html, no_update

from components.analytics import (
    cancellations_figure,
    csv_text,
    kpi_cards,
    lead_time_figure,
    no_show_heatmap,
    practitioner_column_defs,
    practitioner_rows,
    type_figure,
    weekday_figure,
    weekly_figure,
)
from components.auth import callback
from components.context import app_context, current_actor, current_user
from components.forms import empty_state, page_header, parse_date, parse_int
from components.ids import id_factory
from domain.organizations import get_organization
from domain.permissions import Permission
from domain.stats import AppointmentStats, get_appointment_stats, get_stats_reference

dash.register_page(
    __name__,
    path="/analytics",
    name="Analytics",
    title="No-show analytics · Clinic scheduling",
    description="No-shows, cancellations and utilization over a period.",
    icon="bi-bar-chart-line",
    order=60,
    permission=Permission.VIEW_ANALYTICS,
)

pid = id_factory("an")
DEFAULT_WEEKS = 12
# One grouped statement counts any period, but a page of ten years of weekly bars is
# unreadable; two years covers a year-on-year comparison.
MAX_DAYS = 731
GRAPH_CONFIG = {"displayModeBar": False, "responsive": True}
HIDDEN = {"display": "none"}


def _org_id() -> int | None:
    """The signed-in user's organization; None in Dash's start-up render of the layout."""
    user = current_user()
    return user.organization_id if user else None


def default_period(today: date) -> tuple[date, date]:
    """The last twelve weeks, Monday to Sunday, up to and including the current week
    (whose appointments still to come are not yet due, so not in the rates)."""
    monday = today - timedelta(days=today.weekday())
    return monday - timedelta(weeks=DEFAULT_WEEKS - 1), monday + timedelta(days=6)


def _today() -> date:
    org_id = _org_id()
    org = get_organization(app_context(), org_id) if org_id is not None else None
    now = app_context().clock()
    return org.local_today(now) if org else now.date()


def _col(label: str, ident: str, control: object, **width: int) -> dbc.Col:
    return dbc.Col([dbc.Label(label, html_for=ident), control], **width)


def _filters(
    first: date, last: date, clinic: int | None, practitioner: int | None, type_id: int | None
) -> dbc.Card:
    org_id = _org_id()
    ref = get_stats_reference(app_context(), org_id, actor=current_actor()) if org_id else None
    clinics = sorted(ref.clinics.items(), key=lambda c: c[1][0]) if ref else []
    people = sorted(ref.practitioners.items(), key=lambda p: p[1][0]) if ref else []
    types = sorted(ref.types.items(), key=lambda t: t[1][1]) if ref else []

    def dropdown(name: str, options: list[dict[str, object]], value: int | None, hint: str):  # type: ignore[no-untyped-def]
        known = any(o["value"] == value for o in options)
        return dcc.Dropdown(
            id=pid(name), options=options, value=value if known else None, placeholder=hint
        )

    return dbc.Card(
        dbc.CardBody(
            dbc.Row(
                [
                    _col(
                        "From",
                        pid("start"),
                        dbc.Input(id=pid("start"), type="date", value=first.isoformat()),
                        xs=6,
                        md=3,
                        lg=2,
                    ),
                    _col(
                        "To",
                        pid("end"),
                        dbc.Input(id=pid("end"), type="date", value=last.isoformat()),
                        xs=6,
                        md=3,
                        lg=2,
                    ),
                    _col(
                        "Clinic",
                        pid("clinic"),
                        dropdown(
                            "clinic",
                            [{"label": n, "value": i} for i, (n, _tz) in clinics],
                            clinic,
                            "All clinics",
                        ),
                        md=6,
                        lg=3,
                    ),
                    _col(
                        "Practitioner",
                        pid("practitioner"),
                        dropdown(
                            "practitioner",
                            [{"label": n, "value": i} for i, (n, _p) in people],
                            practitioner,
                            "All practitioners",
                        ),
                        md=6,
                        lg=3,
                    ),
                    _col(
                        "Appointment type",
                        pid("type"),
                        dropdown(
                            "type",
                            [{"label": n, "value": i} for i, (_c, n) in types],
                            type_id,
                            "All types",
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


def _card(title: object, body: object, *, header_id: str | None = None, **width: int) -> dbc.Col:
    header = dbc.CardHeader(html.Span(title, id=header_id) if header_id else title)
    return dbc.Col(
        dbc.Card([header, dbc.CardBody(body, className="p-2")], className="shadow-sm h-100"),
        className="mb-3",
        **width,
    )


def _graph(name: str, min_width: str | None = None) -> object:
    """A chart; ``min_width`` for those that need room (weeks, hours): on a phone they
    scroll sideways inside their card instead of squeezing their labels together."""
    style = {"minHeight": "12rem", **({"minWidth": min_width} if min_width else {})}
    graph = dcc.Graph(id=pid(name), config=GRAPH_CONFIG, style=style)
    return html.Div(graph, style={"overflowX": "auto"}) if min_width else graph


def _results() -> html.Div:
    grid = dag.AgGrid(
        id=pid("practitioners"),
        columnDefs=practitioner_column_defs(),
        rowData=[],
        defaultColDef={
            "resizable": True,
            "sortable": True,
            "wrapHeaderText": True,
            "autoHeaderHeight": True,
        },
        dashGridOptions={"domLayout": "autoHeight", "pagination": True, "paginationPageSize": 20},
        style={"width": "100%"},
    )
    download = dbc.Button(
        [html.I(className="bi bi-download me-1"), "Download CSV"],
        id=pid("download-button"),
        size="sm",
        color="secondary",
        outline=True,
    )
    practitioners = dbc.Card(
        [
            dbc.CardHeader(
                dbc.Row(
                    [
                        dbc.Col(
                            [
                                html.Span("Per practitioner", className="fw-semibold"),
                                html.Span(
                                    " · click a column to sort; rates over nothing show –",
                                    className="text-muted small",
                                ),
                            ]
                        ),
                        dbc.Col(download, width="auto"),
                    ],
                    align="center",
                )
            ),
            dbc.CardBody(grid, className="p-2"),
            dcc.Download(id=pid("download")),
        ],
        className="shadow-sm mb-3",
    )
    return html.Div(
        [
            dbc.Row(id=pid("kpis"), className="g-3 mb-3"),
            dbc.Row(
                _card(
                    "Appointments per week and no-show rate",
                    _graph("weekly", "40rem"),
                    lg=12,
                )
            ),
            dbc.Row(
                [
                    _card(
                        "No-show rate by weekday and hour",
                        [html.Div(id=pid("hours-note")), _graph("hours", "36rem")],
                        header_id=pid("hours-title"),
                        lg=7,
                    ),
                    _card(
                        "No-show rate by booking lead time",
                        _graph("lead"),
                        lg=5,
                    ),
                ]
            ),
            dbc.Row(
                [
                    _card("No-show rate by appointment type", _graph("types"), lg=6),
                    _card("Cancellations by reason", _graph("cancellations"), lg=6),
                ]
            ),
            practitioners,
        ],
        id=pid("results"),
    )


def layout(
    start: str | None = None,
    end: str | None = None,
    clinic: str | None = None,
    practitioner: str | None = None,
    type: str | None = None,
    **_kwargs: str,
) -> html.Div:
    """Query string (all optional): start, end (YYYY-MM-DD), clinic, practitioner, type."""
    default_first, default_last = default_period(_today())
    first = parse_date(start) or default_first
    last = parse_date(end) or default_last
    return html.Div(
        [
            page_header(
                "No-show analytics",
                "Appointments kept, missed and cancelled, with how full the schedules were. "
                "Dates and hours are each clinic's local time.",
            ),
            _filters(first, last, parse_int(clinic), parse_int(practitioner), parse_int(type)),
            html.P(id=pid("period"), className="text-muted small mb-2"),
            dcc.Loading(
                [html.Div(id=pid("message")), _results()],
                delay_show=200,
                overlay_style={"visibility": "visible", "opacity": 0.5},
            ),
        ]
    )


def _period(start: str | None, end: str | None) -> tuple[date, date] | str:
    first, last = parse_date(start), parse_date(end)
    if first is None or last is None:
        return "Choose a start and an end date."
    if last < first:
        return "The end date is before the start date."
    if (last - first).days + 1 > MAX_DAYS:
        return f"Choose at most {MAX_DAYS} days (two years) at a time."
    return first, last


def _stats(
    start: str | None,
    end: str | None,
    clinic_id: int | None,
    practitioner_id: int | None,
    type_id: int | None,
) -> AppointmentStats | str:
    """The statistics of the filters, or what is wrong with them."""
    period = _period(start, end)
    if isinstance(period, str):
        return period
    actor = current_actor()
    try:
        return get_appointment_stats(
            app_context(),
            actor.organization_id or 0,
            *period,
            practitioner_id=practitioner_id,
            clinic_id=clinic_id,
            appointment_type_id=type_id,
            actor=actor,
        )
    except ValueError as exc:
        return str(exc)


@callback(
    Output(pid("message"), "children"),
    Output(pid("results"), "style"),
    Output(pid("period"), "children"),
    Output(pid("kpis"), "children"),
    Output(pid("weekly"), "figure"),
    Output(pid("hours-title"), "children"),
    Output(pid("hours-note"), "children"),
    Output(pid("hours"), "figure"),
    Output(pid("lead"), "figure"),
    Output(pid("types"), "figure"),
    Output(pid("cancellations"), "figure"),
    Output(pid("practitioners"), "rowData"),
    Input(pid("start"), "value"),
    Input(pid("end"), "value"),
    Input(pid("clinic"), "value"),
    Input(pid("practitioner"), "value"),
    Input(pid("type"), "value"),
    permission=Permission.VIEW_ANALYTICS,
)
def show_stats(
    start: str | None,
    end: str | None,
    clinic_id: int | None,
    practitioner_id: int | None,
    type_id: int | None,
) -> tuple[object, ...]:
    """Every figure of the page from one ``get_appointment_stats`` call."""
    stats = _stats(start, end, clinic_id, practitioner_id, type_id)
    skip = (no_update,) * 9
    if isinstance(stats, str):
        return (dbc.Alert(stats, color="warning", className="py-2"), HIDDEN, None, *skip)
    period = (
        f"{stats.start:%a %d %b %Y} – {stats.end:%a %d %b %Y} ({stats.days} days). "
        f"Data as of {stats.as_of:%d %b %Y %H:%M} UTC."
    )
    if stats.total == 0:
        empty = empty_state(
            "No appointments in this period for these filters.",
            "Choose a longer period, or clear the clinic, practitioner and type filters.",
            icon="bi-bar-chart",
        )
        return (empty, HIDDEN, period, *skip)
    heatmap = no_show_heatmap(stats)
    if heatmap is None:
        hours_title = "No-show rate by weekday"
        hours_note = dbc.Alert(
            f"Times of day are not recorded for these appointments "
            f"({stats.date_only_appointments:,} imported with a date only), so they are "
            "shown by weekday, not by hour.",
            color="info",
            className="py-1 px-2 small mb-2",
        )
        heatmap = weekday_figure(stats.by_weekday)
    else:
        hours_title = "No-show rate by weekday and hour (clinic local time)"
        hours_note = (
            html.P(
                f"{stats.date_only_appointments:,} appointments imported with a date only "
                "have no hour and are left out of this chart (they count everywhere else).",
                className="small text-muted mb-1",
            )
            if stats.date_only_appointments
            else None
        )
    return (
        None,
        {},
        period,
        kpi_cards(stats, pid("kpi")),
        weekly_figure(stats.weekly),
        hours_title,
        hours_note,
        heatmap,
        lead_time_figure(stats.by_lead_time),
        type_figure(stats.by_type),
        cancellations_figure(stats.cancellations),
        practitioner_rows(stats.by_practitioner),
    )


@callback(
    Output(pid("download"), "data"),
    Input(pid("download-button"), "n_clicks"),
    State(pid("start"), "value"),
    State(pid("end"), "value"),
    State(pid("clinic"), "value"),
    State(pid("practitioner"), "value"),
    State(pid("type"), "value"),
    prevent_initial_call=True,
    permission=Permission.VIEW_ANALYTICS,
)
def download_practitioners(
    clicks: int | None,
    start: str | None,
    end: str | None,
    clinic_id: int | None,
    practitioner_id: int | None,
    type_id: int | None,
) -> object:
    """The per-practitioner table as CSV, computed again from the filters (not taken
    from what the browser holds)."""
    if not clicks:
        return no_update
    stats = _stats(start, end, clinic_id, practitioner_id, type_id)
    if isinstance(stats, str):
        return no_update
    name = f"no-shows-by-practitioner-{stats.start}-{stats.end}.csv"
    return dcc.send_string(csv_text(practitioner_rows(stats.by_practitioner)), name)
