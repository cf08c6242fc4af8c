"""Pieces of the analytics page: KPI cards, plotly figures and the practitioner table,
built from the tables of ``domain.stats.AppointmentStats`` (pure: no callbacks, no data
access). Figures use the status colours of ``components.status`` so a no-show is the
same red here as in the calendar."""

from __future__ import annotations

import csv
import io
from typing import Any

import dash_bootstrap_components as dbc
import pandas as pd
from dash import html

from components.status import STATUS_COLORS
from domain.stats import WEEKDAYS, AppointmentStats

NO_SHOW = STATUS_COLORS["no-show"]
COMPLETED = STATUS_COLORS["completed"]
CANCELLED = STATUS_COLORS["cancelled"]
OPEN = STATUS_COLORS["booked"]
DASH = "–"  # a rate over nothing: shown as a dash, never as 0%

_FONT = {"family": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", "size": 12}


def percent(value: float, denominator: float, digits: int = 2) -> str:
    """A rate as managers read it ("20.19%"), or a dash when nothing was counted."""
    return f"{value:.{digits}%}" if denominator else DASH


def number(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"


def kpi_card(ident: str, label: str, value: str, detail: str, *, color: str | None = None) -> Any:
    """One headline figure: its name, the value (id ``<ident>-value`` for tests) and what
    it is out of."""
    return dbc.Col(
        dbc.Card(
            dbc.CardBody(
                [
                    html.Div(label, className="text-muted small text-uppercase fw-semibold"),
                    html.Div(
                        value,
                        id=f"{ident}-value",
                        className="fs-3 fw-bold kpi-value",
                        style={"color": color} if color else None,
                    ),
                    html.Div(detail, id=f"{ident}-detail", className="small text-muted"),
                ],
                className="py-2 px-3",
            ),
            className="shadow-sm h-100",
        ),
        xs=6,
        md=4,
        xl=2,
    )


def kpi_cards(stats: AppointmentStats, prefix: str) -> list[Any]:
    """Total, no-show, completion and cancellation rates, utilization, average per day."""
    o = stats.overall
    hours = stats.booked_minutes / 60, stats.capacity_minutes / 60
    due_detail = f"{number(o.due)} due"
    if stats.unresolved_past:
        due_detail += f", {number(stats.unresolved_past)} not marked yet"
    return [
        kpi_card(f"{prefix}-total", "Appointments", number(stats.total), due_detail),
        kpi_card(
            f"{prefix}-no-show",
            "No-show rate",
            percent(o.no_show_rate, o.due),
            f"{number(o.no_shows)} no-shows of {number(o.due)} due",
            color=NO_SHOW,
        ),
        kpi_card(
            f"{prefix}-completion",
            "Completion rate",
            percent(o.completion_rate, o.due),
            f"{number(o.completed)} completed of {number(o.due)} due",
        ),
        kpi_card(
            f"{prefix}-cancellation",
            "Cancellation rate",
            percent(o.cancellation_rate, o.appointments),
            f"{number(o.cancelled)} of {number(o.appointments)} appointments",
        ),
        kpi_card(
            f"{prefix}-utilization",
            "Utilization",
            percent(stats.utilization, stats.capacity_minutes, 1),
            f"{number(hours[0])} h booked of {number(hours[1])} h scheduled"
            if stats.capacity_minutes
            else "no schedule in this period",
        ),
        kpi_card(
            f"{prefix}-per-day",
            "Average per day",
            number(stats.average_per_day, 1),
            f"over {stats.days} calendar days (weekends included)",
        ),
    ]


# Figures are plain dicts in plotly's JSON shape, not ``go.Figure``: building and
# validating graph objects took most of the callback's time (~0.1 s per chart), and
# dcc.Graph takes the dict as it is.
Figure = dict[str, Any]


def _title(text: str) -> dict[str, Any]:
    return {"text": text}


def _axis(title: str | None = None, **kwargs: Any) -> dict[str, Any]:
    axis: dict[str, Any] = {"automargin": True, "gridcolor": "#eee", **kwargs}
    if title:
        axis["title"] = _title(title)
    return axis


def _figure(data: list[dict[str, Any]], height: int, **layout: Any) -> Figure:
    return {
        "data": data,
        "layout": {
            "height": height,
            "margin": {"l": 10, "r": 10, "t": 10, "b": 10},
            "font": _FONT,
            "plot_bgcolor": "white",
            "paper_bgcolor": "white",
            "legend": {
                "orientation": "h",
                "yanchor": "bottom",
                "y": 1.02,
                "x": 0,
                "traceorder": "normal",
            },
            "hoverlabel": {"font": _FONT},
            **layout,
        },
    }


def _ints(values: Any) -> list[int]:
    return [int(v) for v in values]


def weekly_figure(weekly: pd.DataFrame) -> Figure:
    """Appointments per week by outcome (bars) and the no-show rate (line, right axis)."""
    weeks = [f"{w:%d %b}" for w in weekly["week_start"]]
    other = weekly["appointments"] - weekly["completed"] - weekly["no_shows"] - weekly["cancelled"]
    data: list[dict[str, Any]] = [
        {
            "type": "bar",
            "x": weeks,
            "y": _ints(values),
            "name": name,
            "marker": {"color": color},
            "hovertemplate": f"Week of %{{x}}<br>{name}: %{{y:,}}<extra></extra>",
        }
        for name, values, color in (
            ("Completed", weekly["completed"], COMPLETED),
            ("No-show", weekly["no_shows"], NO_SHOW),
            ("Cancelled", weekly["cancelled"], CANCELLED),
            ("Booked / in progress / not marked", other, OPEN),
        )
    ]
    data.append(
        {
            "type": "scatter",
            "x": weeks,
            # No line point for a week with nothing due (a rate over nothing).
            "y": [
                float(r) if d else None
                for r, d in zip(weekly["no_show_rate"], weekly["due"], strict=True)
            ],
            "name": "No-show rate (right axis)",
            "yaxis": "y2",
            "mode": "lines+markers",
            "line": {"color": "#7f1d1d", "width": 2},
            "connectgaps": False,
            "customdata": [
                [int(n), int(d)] for n, d in zip(weekly["no_shows"], weekly["due"], strict=True)
            ],
            "hovertemplate": "Week of %{x}<br>No-show rate %{y:.1%}"
            "<br>%{customdata[0]:,} of %{customdata[1]:,} due<extra></extra>",
        }
    )
    return _figure(
        data,
        320,
        barmode="stack",
        xaxis=_axis("Week starting (Monday)", type="category"),
        yaxis=_axis("Appointments", rangemode="tozero"),
        yaxis2=_axis(
            "No-show rate",
            overlaying="y",
            side="right",
            tickformat=".0%",
            rangemode="tozero",
            showgrid=False,
        ),
    )


def no_show_heatmap(stats: AppointmentStats) -> Figure | None:
    """No-show rate by clinic-local weekday and hour of the start; None when no due
    appointment has a known time of day (date-only imported history)."""
    due = stats.due_times.to_numpy()
    if due.sum() == 0:
        return None
    hours = [h for h in range(24) if due[:, h].any()]
    span = list(range(hours[0], hours[-1] + 1))
    rates = stats.no_show_rate_times().to_numpy()[:, span]
    no_shows = stats.no_show_times.to_numpy()[:, span]
    due = due[:, span]
    cells = range(len(span))
    heat = {
        "type": "heatmap",
        "z": [[float(rates[d][i]) if due[d][i] else None for i in cells] for d in range(7)],
        "x": [f"{h:02d}:00" for h in span],
        "y": list(WEEKDAYS),
        "text": [[f"{rates[d][i]:.0%}" if due[d][i] else "" for i in cells] for d in range(7)],
        "texttemplate": "%{text}",
        "customdata": [[[int(no_shows[d][i]), int(due[d][i])] for i in cells] for d in range(7)],
        "colorscale": [[0, "#fff5f5"], [1, NO_SHOW]],
        "zauto": False,
        "zmin": 0,
        "zmax": max(float(rates[due > 0].max()), 0.01),
        "xgap": 2,
        "ygap": 2,
        "colorbar": {"title": _title("No-show<br>rate"), "tickformat": ".0%"},
        "hovertemplate": "%{y} %{x}<br>No-show rate %{z:.1%}"
        "<br>%{customdata[0]:,} no-shows of %{customdata[1]:,} due<extra></extra>",
    }
    return _figure(
        [heat],
        330,
        xaxis=_axis("Hour of the start (clinic local time)", type="category"),
        yaxis=_axis(autorange="reversed", type="category"),
    )


def weekday_figure(by_weekday: pd.DataFrame) -> Figure:
    """No-show rate per weekday (for history without times of day)."""
    return _rate_bars(by_weekday, "weekday_name", "Weekday", horizontal=False)


def _rate_bars(table: pd.DataFrame, label: str, title: str, *, horizontal: bool) -> Figure:
    """No-show rate per row of an outcome table; each label says how many were due, so a
    100% of five is not read like a 20% of thousands."""
    shown = table[table["due"] > 0]
    labels = [
        f"{name}<br><span style='font-size:10px;color:#6c757d'>{due:,} due</span>"
        for name, due in zip(shown[label], shown["due"], strict=True)
    ]
    values = [float(r) for r in shown["no_show_rate"]]
    bar = {
        "type": "bar",
        "x": values if horizontal else labels,
        "y": labels if horizontal else values,
        "orientation": "h" if horizontal else "v",
        "marker": {"color": NO_SHOW},
        "text": [f"{r:.1%}" for r in values],
        "textposition": "outside",
        "cliponaxis": False,
        "customdata": [
            [int(n), int(d)] for n, d in zip(shown["no_shows"], shown["due"], strict=True)
        ],
        "hovertemplate": "No-show rate %{"
        + ("x" if horizontal else "y")
        + ":.1%}<br>%{customdata[0]:,} no-shows of %{customdata[1]:,} due<extra></extra>",
    }
    # Room beyond the longest bar for its label, which would otherwise be cut off.
    top = max(values, default=0.0)
    rate_axis = _axis("No-show rate", tickformat=".0%", range=[0, top * 1.2 or 1])
    category_axis = _axis(title, type="category", tickangle=0)
    if horizontal:
        return _figure(
            [bar],
            max(180, 60 + 40 * len(shown)),
            xaxis=rate_axis,
            yaxis={**category_axis, "autorange": "reversed"},
        )
    return _figure([bar], 280, xaxis=category_axis, yaxis=rate_axis)


def lead_time_figure(by_lead_time: pd.DataFrame) -> Figure:
    table = by_lead_time.assign(
        lead_time=by_lead_time["lead_time"].str.replace("booked after the day", "after the day")
    )
    return _rate_bars(table, "lead_time", "Booked how long before the day", horizontal=False)


def type_figure(by_type: pd.DataFrame) -> Figure:
    return _rate_bars(by_type, "name", "Appointment type", horizontal=True)


def cancellations_figure(cancellations: pd.DataFrame) -> Figure:
    """Cancelled appointments per recorded category."""
    counts = _ints(cancellations["cancelled"])
    labels = [c.replace("-", " ").capitalize() for c in cancellations["category"]]
    bar = {
        "type": "bar",
        "x": counts,
        "y": labels,
        "orientation": "h",
        "marker": {"color": "#8c8c8c"},
        "text": [f"{n:,} ({s:.0%})" for n, s in zip(counts, cancellations["share"], strict=True)],
        "textposition": "outside",
        "cliponaxis": False,
        "hovertemplate": "%{y}: %{x:,} cancelled<extra></extra>",
    }
    annotations = []
    if not sum(counts):
        annotations.append(
            {
                "text": "No cancellations in this period",
                "showarrow": False,
                "xref": "paper",
                "yref": "paper",
                "x": 0.5,
                "y": 0.5,
                "font": {"size": 14, "color": "#6c757d"},
            }
        )
    return _figure(
        [bar],
        240,
        xaxis=_axis("Cancelled appointments", range=[0, max(counts, default=0) * 1.3 or 1]),
        yaxis=_axis(autorange="reversed", type="category"),
        annotations=annotations,
    )


# ------------------------------------------------------------------ practitioner table

PRACTITIONER_COLUMNS: tuple[tuple[str, str], ...] = (
    ("name", "Practitioner"),
    ("appointments", "Appointments"),
    ("due", "Due"),
    ("completed", "Completed"),
    ("no_shows", "No-shows"),
    ("no_show_rate", "No-show rate"),
    ("completion_rate", "Completion rate"),
    ("cancelled", "Cancelled"),
    ("cancellation_rate", "Cancellation rate"),
    ("booked_hours", "Hours booked"),
    ("capacity_hours", "Hours scheduled"),
    ("utilization", "Utilization"),
)
_RATE_OF = {
    "no_show_rate": "due",
    "completion_rate": "due",
    "cancellation_rate": "appointments",
    "utilization": "capacity_hours",
}


def practitioner_rows(by_practitioner: pd.DataFrame) -> list[dict[str, Any]]:
    """The per-practitioner table as plain rows (hours rounded to one decimal)."""
    rows = []
    for r in by_practitioner.to_dict("records"):
        row = {key: r[key] for key, _ in PRACTITIONER_COLUMNS if key in r}
        row["booked_hours"] = round(r["booked_minutes"] / 60, 1)
        row["capacity_hours"] = round(r["capacity_minutes"] / 60, 1)
        rows.append({k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()})
    return rows


def practitioner_column_defs() -> list[dict[str, Any]]:
    """ag-grid columns: sortable, rates as percentages (a dash over nothing)."""
    defs: list[dict[str, Any]] = []
    for key, label in PRACTITIONER_COLUMNS:
        col: dict[str, Any] = {"field": key, "headerName": label, "sortable": True}
        if key == "name":
            col.update(pinned="left", minWidth=230, filter=True, tooltipField="name")
        else:
            # Wide enough for the header's longest word: ag-grid breaks words otherwise.
            longest = max(len(word) for word in label.split())
            col.update(type="numericColumn", minWidth=max(92, 9 * longest + 40), flex=1)
        if key in _RATE_OF:
            col["valueFormatter"] = {
                "function": f"params.data.{_RATE_OF[key]} ? d3.format('.1%')(params.value) : '–'"
            }
        if key == "no_show_rate":
            col["sort"] = "desc"
        defs.append(col)
    return defs


def csv_text(rows: list[dict[str, Any]]) -> str:
    """The practitioner table as CSV with the page's headers; rates as fractions (0-1).
    Text cells that a spreadsheet would run as a formula are prefixed with a quote."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([label for _, label in PRACTITIONER_COLUMNS])
    for row in rows:
        cells = []
        for key, _ in PRACTITIONER_COLUMNS:
            value = row.get(key)
            if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
                value = "'" + value
            elif isinstance(value, float) and key in _RATE_OF:
                value = round(value, 4)
            cells.append(value)
        writer.writerow(cells)
    return out.getvalue()
