"""One colour and label per appointment status, used by every page and chart."""

from __future__ import annotations

import dash_bootstrap_components as dbc

from data.vocabulary import APPOINTMENT_STATUSES

# Chosen to stay distinguishable for the common colour-vision deficiencies; cancelled is
# deliberately the quietest, no-show the loudest.
STATUS_COLORS: dict[str, str] = {
    "pending": "#8c8c8c",
    "booked": "#1f77b4",
    "confirmed": "#17becf",
    "arrived": "#ff9f1c",
    "in-progress": "#9467bd",
    "completed": "#2ca02c",
    "cancelled": "#c7c7c7",
    "no-show": "#d62728",
}
STATUS_LABELS: dict[str, str] = {
    "pending": "Pending",
    "booked": "Booked",
    "confirmed": "Confirmed",
    "arrived": "Arrived",
    "in-progress": "In progress",
    "completed": "Completed",
    "cancelled": "Cancelled",
    "no-show": "No-show",
}
_DARK_TEXT = {"confirmed", "arrived", "cancelled"}

assert set(STATUS_COLORS) == set(APPOINTMENT_STATUSES) == set(STATUS_LABELS)


def status_badge(status: str, **kwargs: object) -> dbc.Badge:
    return dbc.Badge(
        STATUS_LABELS.get(status, status),
        color=STATUS_COLORS.get(status, "#6c757d"),
        text_color="dark" if status in _DARK_TEXT else "white",
        className="status-badge",
        **kwargs,
    )
