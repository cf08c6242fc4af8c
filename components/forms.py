"""Form helpers shared by pages: parsing what inputs send, and showing a service's error
next to the field it concerns. Pure functions, no callbacks."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import dash_bootstrap_components as dbc
from dash import html


def parse_date(value: object) -> date | None:
    """A date input's value ("YYYY-MM-DD"), None for anything else."""
    if not isinstance(value, str) or len(value) > 32:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def parse_instant(value: object) -> datetime | None:
    """An aware ISO datetime ("2026-03-19T13:20:00+00:00"), None for anything else
    (naive ones included: a guessed zone is how appointments drift by hours)."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        return None
    return at if at.tzinfo is not None and at.utcoffset() is not None else None


def parse_int(value: object) -> int | None:
    """An id from a query string or an option value; None unless a positive integer."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 16:
        return int(value) or None
    return None


def field_feedback(
    fields: Sequence[str], field: str | None, message: str | None
) -> tuple[list[bool], list[str]]:
    """For each form field, whether it is invalid and the message to show under it:
    ``message`` goes to ``field`` (one of ``fields``) and nowhere else."""
    invalid = [f == field and message is not None for f in fields]
    texts = [(message or "") if f == field else "" for f in fields]
    return invalid, texts


def form_alert(message: str, color: str = "danger", **kwargs: Any) -> dbc.Alert:
    """A message about the whole form (not one field)."""
    return dbc.Alert(message, color=color, className="py-2 mb-3", **kwargs)


def empty_state(title: str, hint: str, icon: str = "bi-calendar-x") -> html.Div:
    """What to show instead of an empty table: what is missing and what to do."""
    return html.Div(
        [
            html.I(className=f"bi {icon} fs-2 d-block mb-2 text-secondary"),
            html.P(title, className="fw-semibold mb-1"),
            html.P(hint, className="text-muted mb-0"),
        ],
        className="text-center py-4 empty-state",
    )


def page_header(title: str, subtitle: Any = None, *actions: Any) -> html.Div:
    """The page's title and what it is for; ``actions`` (buttons) sit on the right."""
    heading = html.Div(
        [
            html.H2(title, className="mb-0"),
            html.P(subtitle, className="text-muted mb-3") if subtitle else None,
        ]
    )
    if not actions:
        return heading
    return html.Div(
        [heading, html.Div(list(actions), className="d-flex gap-2 flex-wrap")],
        className="d-flex justify-content-between align-items-start flex-wrap gap-2",
    )
