"""A calendar grid: hours down the side, one column per day (or per practitioner), each
appointment a chip in its status colour, free slots as pale green chips. Pure layout:
the page turns the domain's calendar into ``GridItem``s and says which id each
appointment chip gets (for its click) and where a free slot links to.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from dash import dcc, html

from components.slot_grid import ROOM_COLORS, ROOM_TEXT
from components.status import STATUS_COLORS, STATUS_LABELS

DEFAULT_HOURS = range(8, 18)
COLUMN_MIN_REM = 8


@dataclass(frozen=True)
class GridItem:
    column: Hashable
    start: datetime  # the clinic's wall clock (aware, in the clinic's zone)
    end: datetime
    title: str  # patient name, or "free"
    detail: str = ""  # type, clinic, practitioner: what the column does not already say
    status: str | None = None  # None: a free slot
    appointment_id: int | None = None
    href: str | None = None  # free slots: where booking it goes


def tint(color: str, alpha: str = "26") -> str:
    """A status colour as a light background (``#rrggbb`` + alpha)."""
    return color + alpha


def _hours(items: Sequence[GridItem]) -> range:
    """Rows for every hour an item starts in, and at least the working day."""
    starts = [i.start.hour for i in items] or [DEFAULT_HOURS.start]
    return range(min(*starts, DEFAULT_HOURS.start), max(*starts, DEFAULT_HOURS.stop - 1) + 1)


def _appointment_chip(item: GridItem, chip_id: dict[str, Any], compact: bool) -> html.Button:
    status = item.status or "booked"
    color = STATUS_COLORS.get(status, "#6c757d")
    label = STATUS_LABELS.get(status, status)
    span = f"{item.start:%H:%M}–{item.end:%H:%M}"
    title = f"{span} {item.title} · {label}" + (f" · {item.detail}" if item.detail else "")
    style = {"borderLeftColor": color, "backgroundColor": tint(color)}
    if compact:
        # A week of a busy clinic is hundreds of chips: few components each, the status
        # as a word as well as a colour.
        note = f"{item.detail} · {label}" if item.detail else label
        lines: list[Any] = [
            html.Span(f"{item.start:%H:%M}", className="cal-chip-time"),
            item.title,
            html.Span(note, className="cal-chip-detail"),
        ]
    else:
        lines = [
            html.Div(
                [
                    html.Span(span, className="cal-chip-time"),
                    html.Span(
                        [html.Span("●", style={"color": color}, className="me-1"), label],
                        className="cal-chip-status",
                    ),
                ],
                className="cal-chip-head",
            ),
            html.Span(item.title, className="cal-chip-title"),
        ]
        if item.detail:
            lines.append(html.Span(item.detail, className="cal-chip-detail"))
    return html.Button(
        lines,
        id=chip_id,
        n_clicks=0,
        type="button",
        className=f"cal-chip cal-appt cal-status-{status}",
        style=style,
        title=title,
    )


def _free_chip(item: GridItem) -> Any:
    text = f"{item.start:%H:%M} {item.title}"
    style = {"backgroundColor": ROOM_COLORS[0], "color": ROOM_TEXT[0]}
    title = f"{item.start:%H:%M}–{item.end:%H:%M} {item.title}" + (
        f" · {item.detail}" if item.detail else ""
    )
    if item.href is None:
        return html.Span(text, className="cal-chip cal-free", style=style, title=title)
    return dcc.Link(
        text, href=item.href, className="cal-chip cal-free", style=style, title=title + ": book"
    )


def calendar_grid(
    columns: Sequence[tuple[Hashable, Any]],
    items: Sequence[GridItem],
    chip_id: Callable[[int], dict[str, Any]],
    *,
    compact: bool = False,
    highlight: Hashable | None = None,
    grid_id: str | None = None,
) -> html.Div:
    """``columns``: (key, header) in order; ``items`` placed by their column key and the
    hour they start; ``highlight``: the column to mark (today)."""
    hours = _hours(items)
    used = {i.column for i in items}
    cells: dict[tuple[Hashable, int], list[GridItem]] = {}
    for item in sorted(items, key=lambda i: (i.start, i.status is None, i.title)):
        cells.setdefault((item.column, item.start.hour), []).append(item)
    head = html.Thead(
        html.Tr(
            [html.Th("", className="cal-hour", scope="col")]
            + [
                html.Th(
                    header,
                    scope="col",
                    className="cal-col-head"
                    + (" cal-today" if key == highlight else "")
                    + ("" if key in used else " cal-col-empty"),
                )
                for key, header in columns
            ]
        )
    )
    rows = []
    for hour in hours:
        tds: list[Any] = [html.Th(f"{hour:02d}:00", scope="row", className="cal-hour")]
        for key, _ in columns:
            here = cells.get((key, hour), [])
            chips = [
                _free_chip(i)
                if i.status is None
                else _appointment_chip(i, chip_id(i.appointment_id or 0), compact)
                for i in here
            ]
            tds.append(
                html.Td(chips, className="cal-cell" + (" cal-today" if key == highlight else ""))
            )
        rows.append(html.Tr(tds))
    return html.Div(
        html.Table(
            [head, html.Tbody(rows)],
            className="table table-bordered cal-grid mb-0" + (" cal-compact" if compact else ""),
            # Columns stay readable on narrow screens: the grid scrolls sideways instead.
            style={"minWidth": f"{4.25 + COLUMN_MIN_REM * len(columns)}rem"},
        ),
        className="table-responsive",
        id=grid_id or "",
    )


def status_legend() -> html.Div:
    return html.Div(
        [
            html.Span(
                STATUS_LABELS[s],
                className="cal-legend-item",
                style={"borderLeftColor": c, "backgroundColor": tint(c)},
            )
            for s, c in STATUS_COLORS.items()
        ]
        + [
            html.Span(
                "Free",
                className="cal-legend-item",
                style={"backgroundColor": ROOM_COLORS[0], "borderLeftColor": ROOM_COLORS[2]},
            )
        ],
        className="d-flex flex-wrap gap-1 small",
    )


def day_column_header(day: date) -> list[Any]:
    return [html.Span(f"{day:%a}", className="d-block small text-muted"), f"{day:%d %b}"]
