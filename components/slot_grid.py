"""Availability as grids: a clinic's open slots (times x days) and the organization's
clinics (clinics x days). Pure layout: the page passes the domain's results and how to
link or pick; no callbacks here.

One sequential green scale means "room" on every page (more room, darker); cells with no
room stay blank, so a full or closed day reads as empty at a glance.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import dash_bootstrap_components as dbc
from dash import dcc, html

from components.wire import wire
from domain.availability import ClinicAvailability, ClinicSlot

# Light to dark; text stays readable on each (dark text on the first three).
ROOM_COLORS: tuple[str, ...] = ("#e3f4e4", "#b9e2bc", "#7cc583", "#2e8b3a")
ROOM_TEXT: tuple[str, ...] = ("#14361a", "#14361a", "#0f2d14", "#ffffff")
# Seats in one slot: 1, 2, 3-4, 5 or more.
SEAT_LEVELS: tuple[int, ...] = (1, 2, 3, 5)


def seat_level(seats: int) -> int:
    """0-3 on the room scale for the open seats of one slot."""
    return max(i for i, floor in enumerate(SEAT_LEVELS) if seats >= floor) if seats > 0 else 0


def relative_level(value: int, largest: int) -> int:
    """0-3 on the room scale relative to the largest value shown (for counts that vary by
    organization size, such as open slots per clinic and day)."""
    if value <= 0 or largest <= 0:
        return 0
    return min(3, (4 * value - 1) // largest)


def zone_label(timezone: str) -> str:
    """'America/New_York' -> 'New York time'."""
    return timezone.rsplit("/", 1)[-1].replace("_", " ") + " time"


def room_style(level: int) -> dict[str, str]:
    return {"backgroundColor": ROOM_COLORS[level], "color": ROOM_TEXT[level]}


def day_header(day: date, today: date | None = None) -> list[Any]:
    label = [html.Span(f"{day:%a}", className="d-block small"), f"{day:%d %b}"]
    if today is not None and day == today:
        label.append(html.Span("today", className="d-block small fw-normal"))
    return label


def legend(labels: Sequence[str], title: str) -> html.Div:
    return html.Div(
        [
            html.Span(title, className="me-2"),
            *[
                html.Span(text, className="room-legend-swatch me-1", style=room_style(level))
                for level, text in enumerate(labels)
            ],
        ],
        className="small text-muted mt-2 d-flex flex-wrap align-items-center gap-1",
    )


def _local(at: datetime, tz: ZoneInfo) -> datetime:
    return at.astimezone(tz)


EMPTY_DAY_HEADER = "text-center slot-grid-empty-day"


def clinic_slot_grid(
    slots_by_day: Mapping[date, Sequence[ClinicSlot]],
    timezone: str,
    href: Callable[[ClinicSlot], str | None],
    *,
    today: date | None = None,
    grid_id: str | None = None,
) -> html.Div:
    """Times (rows) by days (columns) of one clinic; each open time shows its open seats
    and how many practitioners offer it, and links to ``href(slot)`` (None: not a link).
    Times are the clinic's wall clock."""
    tz = ZoneInfo(timezone)
    days = list(slots_by_day)
    cells: dict[tuple[date, str], list[ClinicSlot]] = {}
    for day, slots in slots_by_day.items():
        for slot in slots:
            cells.setdefault((day, f"{_local(slot.start, tz):%H:%M}"), []).append(slot)
    times = sorted({t for _, t in cells})
    head = html.Thead(
        html.Tr(
            [html.Th("Time", className="slot-grid-time", scope="col")]
            + [
                html.Th(
                    day_header(d, today),
                    scope="col",
                    className="text-center" if slots_by_day[d] else EMPTY_DAY_HEADER,
                )
                for d in days
            ]
        )
    )
    rows = []
    for t in times:
        tds: list[Any] = [html.Th(t, scope="row", className="slot-grid-time")]
        for d in days:
            here = cells.get((d, t))
            if not here:
                tds.append(html.Td(className="slot-grid-cell"))
                continue
            tds.append(_slot_td(tuple(here), tuple(href(s) for s in here), timezone))
        rows.append(html.Tr(tds))
    return html.Div(
        [
            html.Div(
                html.Table(
                    [head, html.Tbody(rows)],
                    className="table table-sm table-bordered slot-grid mb-0",
                ),
                className="table-responsive",
            ),
            legend(["1 seat", "2 seats", "3-4 seats", "5+ seats"], "Open seats:"),
        ],
        id=grid_id or "",
    )


# The cells are most of a grid's work (building and serializing a few hundred component
# trees), and a cell is a pure function of its slots and links: rendered once, in Dash's
# wire form, and reused until the slots change (see components.wire). A kept cell takes
# 1-3 kB; two weeks of a clinic are a few hundred.
@lru_cache(maxsize=4096)
def _slot_td(
    slots: tuple[ClinicSlot, ...], targets: tuple[str | None, ...], timezone: str
) -> dict[str, Any]:
    tz = ZoneInfo(timezone)
    return wire(
        html.Td(
            [_slot_cell(s, target, tz) for s, target in zip(slots, targets, strict=True)],
            className="slot-grid-cell p-0",
        )
    )


def _slot_cell(slot: ClinicSlot, target: str | None, tz: ZoneInfo) -> Any:
    start = _local(slot.start, tz)
    providers = f"{slot.providers} provider{'s' if slot.providers != 1 else ''}"
    seats = f"{slot.seats} open"
    title = (
        f"{start:%a %d %b %H:%M}: {slot.seats} open seat{'s' if slot.seats != 1 else ''} "
        f"with {providers}" + (". Click to book." if target else "")
    )
    body = [html.Span(seats, className="fw-semibold d-block"), html.Small(providers)]
    style = room_style(seat_level(slot.seats))
    if target is None:
        return html.Div(body, className="slot-grid-slot", style=style, title=title)
    return dcc.Link(
        body,
        href=target,
        className="slot-grid-slot slot-grid-link",
        style=style,
        title=title,
    )


def clinic_overview(
    by_day: Mapping[date, Sequence[ClinicAvailability]],
    clinics: Sequence[tuple[int, str]],
    pick_id: Callable[[int], dict[str, Any]],
    *,
    today: date | None = None,
) -> html.Div:
    """Clinics (rows) by days (columns): open slots per clinic and day, shaded relative
    to the busiest cell; each clinic name is a button with id ``pick_id(clinic_id)``."""
    days = list(by_day)
    counts = {(a.clinic_id, d): a for d, rows in by_day.items() for a in rows}
    largest = max((a.open_slots for a in counts.values()), default=0)
    head = html.Thead(
        html.Tr(
            [html.Th("Clinic", scope="col")]
            + [html.Th(day_header(d, today), scope="col", className="text-center") for d in days]
        )
    )
    body = []
    for cid, name in clinics:
        tds: list[Any] = [
            html.Th(
                dbc.Button(
                    name,
                    id=pick_id(cid),
                    color="link",
                    className="p-0 text-start text-decoration-none fw-semibold",
                    title=f"Show the open slots at {name}",
                ),
                scope="row",
                className="overview-clinic",
            )
        ]
        for d in days:
            a = counts.get((cid, d))
            if a is None:
                tds.append(html.Td("–", className="text-center text-muted overview-cell"))
                continue
            level = relative_level(a.open_slots, largest)
            tds.append(_overview_td(name, d, a.open_slots, a.seats, a.practitioners, level))
        body.append(html.Tr(tds))
    return html.Div(
        [
            html.Div(
                html.Table(
                    [head, html.Tbody(body)],
                    className="table table-sm table-bordered overview-grid mb-0",
                ),
                className="table-responsive",
            ),
            legend(
                ["fewer", "\u00a0", "\u00a0", "more"],
                "Open slots per day, with the practitioners offering them (dr):",
            ),
        ]
    )


@lru_cache(maxsize=4096)
def _overview_td(
    name: str, day: date, open_slots: int, seats: int, practitioners: int, level: int
) -> dict[str, Any]:
    """One clinic-day of the overview, in Dash's wire form (as ``_slot_td``)."""
    return wire(
        html.Td(
            [
                html.Span(str(open_slots), className="fw-semibold d-block"),
                html.Small(f"{practitioners} dr"),
            ],
            className="text-center overview-cell",
            style=room_style(level),
            title=(
                f"{name}, {day:%a %d %b}: {open_slots} open slots, "
                f"{seats} seats, {practitioners} practitioners"
            ),
        )
    )


_WIDE_ONLY = "text-end d-none d-md-table-cell"


def clinic_day_table(
    rows: Sequence[ClinicAvailability], pick_id: Callable[[int], dict[str, Any]]
) -> dbc.Table:
    """The clinics with room on one day, most room first (``get_available_clinics``)."""
    ranked = sorted(rows, key=lambda a: (-a.seats, a.name))
    largest = max((a.seats for a in ranked), default=0)
    return dbc.Table(
        [
            html.Thead(
                html.Tr(
                    [
                        html.Th("Clinic"),
                        html.Th("Open slots", className="text-end d-none d-md-table-cell"),
                        html.Th("Seats", className="text-end"),
                        html.Th("Practitioners", className="text-end d-none d-md-table-cell"),
                        html.Th(""),
                    ]
                )
            ),
            html.Tbody(
                [
                    html.Tr(
                        [
                            html.Td(a.name),
                            html.Td(str(a.open_slots), className=_WIDE_ONLY),
                            html.Td(
                                html.Span(
                                    str(a.seats),
                                    className="room-pill",
                                    style=room_style(relative_level(a.seats, largest)),
                                ),
                                className="text-end",
                            ),
                            html.Td(str(a.practitioners), className=_WIDE_ONLY),
                            html.Td(
                                dbc.Button(
                                    "Show slots",
                                    id=pick_id(a.clinic_id),
                                    size="sm",
                                    color="primary",
                                    outline=True,
                                ),
                                className="text-end",
                            ),
                        ]
                    )
                    for a in ranked
                ]
            ),
        ],
        hover=True,
        responsive=True,
        className="mb-0 align-middle",
    )
