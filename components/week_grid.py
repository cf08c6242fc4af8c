"""A week of schedule blocks, drawn two ways:

- ``practitioner_week``: one practitioner's week as a calendar grid (days across, hours
  down), each block where it sits in the day, coloured by clinic; leave and closures are
  hatched over the hours they take;
- ``clinic_week``: one clinic's week as a table, a row per practitioner and a cell per
  day listing their hours there (a grid of blocks would be unreadable with a dozen
  practitioners side by side).

Times are each clinic's own wall clock, as the blocks are defined.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, time
from typing import Any

import dash_bootstrap_components as dbc
from dash import html

from domain.admin.rules import hhmm
from domain.admin.views import BlockRow, WeekPlan

HOUR_PX = 44
PALETTE = (
    ("#dbeafe", "#1e3a8a"),
    ("#dcfce7", "#14532d"),
    ("#fef3c7", "#78350f"),
    ("#fce7f3", "#831843"),
    ("#ede9fe", "#4c1d95"),
    ("#cffafe", "#164e63"),
    ("#ffedd5", "#7c2d12"),
    ("#e5e7eb", "#111827"),
)


def _minutes(t: time) -> int:
    return t.hour * 60 + t.minute


def _colours(keys: list[int]) -> dict[int, tuple[str, str]]:
    return {k: PALETTE[i % len(PALETTE)] for i, k in enumerate(sorted(set(keys)))}


def _hour_range(plan: WeekPlan) -> tuple[int, int]:
    starts, ends = [], []
    for blocks in plan.blocks.values():
        for b in blocks:
            starts.append(_minutes(b.start))
            ends.append(_minutes(b.end))
    first = min(starts, default=8 * 60) // 60
    last = -(-max(ends, default=18 * 60) // 60)
    first, last = min(first, 8), max(last, 18)
    return max(0, first), min(24, last)


def _lanes(blocks: list[BlockRow]) -> dict[int, tuple[int, int]]:
    """Block id -> (lane, lanes) so that overlapping blocks sit side by side."""
    ordered = sorted(blocks, key=lambda b: (b.start, b.end))
    lane_end: list[time] = []
    lane_of: dict[int, int] = {}
    for b in ordered:
        for i, end in enumerate(lane_end):
            if end <= b.start:
                lane_end[i] = b.end
                lane_of[b.id] = i
                break
        else:
            lane_of[b.id] = len(lane_end)
            lane_end.append(b.end)
    n = max(len(lane_end), 1)
    return {bid: (lane, n) for bid, lane in lane_of.items()}


def practitioner_week(plan: WeekPlan, today: date, grid_id: str) -> html.Div:
    first_hour, last_hour = _hour_range(plan)
    height = (last_hour - first_hour) * HOUR_PX
    colours = _colours([b.clinic_id for blocks in plan.blocks.values() for b in blocks])

    def top(minutes: int) -> int:
        return round((minutes - first_hour * 60) / 60 * HOUR_PX)

    axis = html.Div(
        [
            html.Div(f"{h:02d}:00", className="wg-hour-label", style={"top": f"{top(h * 60)}px"})
            for h in range(first_hour, last_hour)
        ],
        className="wg-axis",
        style={"height": f"{height}px"},
    )
    columns = []
    for day in plan.days:
        lanes = _lanes(plan.blocks[day])
        items: list[Any] = [
            html.Div(className="wg-hour-line", style={"top": f"{top(h * 60)}px"})
            for h in range(first_hour + 1, last_hour)
        ]
        for b in plan.blocks[day]:
            lane, n = lanes[b.id]
            bg, fg = colours[b.clinic_id]
            length = _minutes(b.end) - _minutes(b.start)
            detail = f"{b.slot_minutes}-min slots" + (
                f", {b.capacity} per slot" if b.capacity > 1 else ""
            )
            items.append(
                html.Div(
                    [
                        html.Div(f"{hhmm(b.start)}–{hhmm(b.end)}", className="wg-block-time"),
                        html.Div(b.clinic_name, className="wg-block-title"),
                        html.Div(
                            detail + (f" · {b.appointment_type}" if b.appointment_type else ""),
                            className="wg-block-detail",
                        )
                        if length >= 90
                        else None,
                    ],
                    className="wg-block",
                    title=f"{b.clinic_name}, {hhmm(b.start)}–{hhmm(b.end)}, {detail}",
                    style={
                        "top": f"{top(_minutes(b.start))}px",
                        "height": f"{max(top(_minutes(b.end)) - top(_minutes(b.start)), 18)}px",
                        "left": f"calc({lane * 100 / n}% + 2px)",
                        "width": f"calc({100 / n}% - 4px)",
                        "background": bg,
                        "color": fg,
                        "borderColor": fg,
                    },
                    **{"data-block": str(b.id), "data-day": day.isoformat()},
                )
            )
        for exc, frm, to in plan.exceptions[day]:
            start_min = max(_minutes(frm), first_hour * 60)
            end_min = min(_minutes(to) if to else 24 * 60, last_hour * 60)
            if end_min <= start_min:
                continue
            whole = frm == time(0) and to is None
            hours = "" if whole else f" {hhmm(frm)}–{hhmm(to) if to else '24:00'}"
            items.append(
                html.Div(
                    [html.I(className="bi bi-slash-circle me-1"), exc.label + hours],
                    className="wg-exception",
                    title=exc.label + (f": {exc.note}" if exc.note else ""),
                    style={
                        "top": f"{top(start_min)}px",
                        "height": f"{top(end_min) - top(start_min)}px",
                    },
                    **{"data-exception": str(exc.id), "data-day": day.isoformat()},
                )
            )
        columns.append(
            html.Div(
                items,
                className="wg-day" + (" wg-today" if day == today else ""),
                style={"height": f"{height}px"},
            )
        )
    header = [html.Div(className="wg-corner")] + [
        html.Div(
            [html.Div(f"{d:%a}", className="fw-semibold"), html.Small(f"{d:%d %b}")],
            className="wg-day-head" + (" wg-today" if d == today else ""),
        )
        for d in plan.days
    ]
    legend = [
        html.Span(
            [html.Span(className="wg-swatch", style={"background": bg, "borderColor": fg}), name],
            className="me-3 text-nowrap",
        )
        for name, (bg, fg) in sorted(
            {
                b.clinic_name: colours[b.clinic_id]
                for blocks in plan.blocks.values()
                for b in blocks
            }.items()
        )
    ]
    return html.Div(
        [
            html.Div(
                html.Div([*header, axis, *columns], className="week-grid"),
                className="week-grid-scroll",
            ),
            html.Div(legend, className="small text-muted mt-2") if legend else None,
        ],
        id=grid_id,
    )


def clinic_week(plan: WeekPlan, today: date, grid_id: str) -> Any:
    """Rows of practitioners, a cell per day with their hours at the clinic."""
    cells: dict[int, dict[date, list[BlockRow]]] = defaultdict(lambda: defaultdict(list))
    names: dict[int, str] = {}
    for day, blocks in plan.blocks.items():
        for b in blocks:
            cells[b.practitioner_id][day].append(b)
            names[b.practitioner_id] = b.practitioner_name
    closed = {
        day: [e for e, frm, to in plan.exceptions[day] if e.practitioner_id is None]
        for day in plan.days
    }
    leave = {
        day: {e.practitioner_id for e, _, _ in plan.exceptions[day] if e.practitioner_id}
        for day in plan.days
    }
    head = html.Thead(
        html.Tr(
            [html.Th("Practitioner")]
            + [
                html.Th(
                    [html.Div(f"{d:%a}"), html.Small(f"{d:%d %b}", className="fw-normal")],
                    className="text-center" + (" table-primary" if d == today else ""),
                )
                for d in plan.days
            ]
        )
    )
    closure_row = html.Tr(
        [html.Td("Closures & holidays", className="text-muted small")]
        + [
            html.Td(
                [dbc.Badge(e.label, color="danger", className="me-1 text-wrap") for e in closed[d]],
                className="text-center",
            )
            for d in plan.days
        ]
    )
    body = []
    for pid in sorted(names, key=lambda p: names[p]):
        row = [html.Td(names[pid], className="fw-semibold text-nowrap")]
        for d in plan.days:
            blocks = sorted(cells[pid][d], key=lambda b: b.start)
            content: list[Any] = [
                html.Div(
                    f"{hhmm(b.start)}–{hhmm(b.end)}"
                    + (f" ×{b.capacity}" if b.capacity > 1 else ""),
                    className="text-nowrap",
                    title=f"{b.slot_minutes}-minute slots"
                    + (f", {b.appointment_type} only" if b.appointment_type else ""),
                )
                for b in blocks
            ]
            if pid in leave[d] and blocks:
                content.append(dbc.Badge("leave", color="danger"))
            row.append(html.Td(content, className="text-center small"))
        body.append(html.Tr(row))
    table = dbc.Table(
        [head, html.Tbody(([closure_row] if any(closed.values()) else []) + body)],
        bordered=True,
        responsive=True,
        size="sm",
        className="clinic-week bg-white",
        id=grid_id,
    )
    return table
