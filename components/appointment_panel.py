"""An appointment's detail panel: what, when, who and where; the actions allowed now
(from ``domain.calendar.AppointmentDetails``, itself from the workflow's transition
table); a cancel form, a reschedule form; and the appointment's history.

Pure layout. Buttons and fields get the pattern-matching ids the page passes
(``action_id(name)``, ``field_id(name)``), so the page's callbacks find them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from datetime import time as time_of_day
from typing import Any
from zoneinfo import ZoneInfo

import dash_bootstrap_components as dbc
from dash import dcc, html

from components.ids import dom_id
from components.slot_grid import zone_label
from components.status import STATUS_LABELS, status_badge
from data.vocabulary import CANCELLATION_CATEGORIES, MAX_NOTES_LENGTH, MAX_REASON_LENGTH
from domain.activity import ActivityView
from domain.actor import Actor
from domain.appointments import (
    SeriesChange,
    cancel_series,
    update_appointment,
    update_appointment_status,
    update_series,
)
from domain.calendar import AppointmentDetails, get_appointment_details
from domain.context import AppContext
from domain.errors import BookingError
from domain.permissions import PermissionDenied
from domain.series import SCOPE_LABELS
from domain.text import TextError
from domain.timefmt import fmt_span, fmt_when

# What each target status is called on its button.
ACTION_LABELS: dict[str, str] = {
    "booked": "Undo cancellation",
    "confirmed": "Confirm",
    "arrived": "Check in",
    "in-progress": "Start visit",
    "completed": "Complete",
    "no-show": "Mark no-show",
}
ACTION_ICONS: dict[str, str] = {
    "booked": "bi-arrow-counterclockwise",
    "confirmed": "bi-check2",
    "arrived": "bi-box-arrow-in-right",
    "in-progress": "bi-play-fill",
    "completed": "bi-check2-all",
    "no-show": "bi-person-x",
}
CATEGORY_LABELS: dict[str, str] = {
    "patient-initiated": "Patient cancelled",
    "practice-initiated": "Practice cancelled",
    "emergency": "Emergency",
    "other": "Other",
}
assert set(CATEGORY_LABELS) == set(CANCELLATION_CATEGORIES)

IdMaker = Callable[[str], dict[str, Any]]


def panel_drawer(panel_id: str, feedback_id: str, body_id: str) -> dbc.Offcanvas:
    """The side drawer an appointment's panel opens in (calendar, Today): feedback on top,
    the details and actions below, with a spinner while they load."""
    return dbc.Offcanvas(
        [
            html.Div(id=feedback_id),
            dcc.Loading(html.Div(id=body_id), delay_show=200),
        ],
        id=panel_id,
        title="Appointment",
        placement="end",
        is_open=False,
        scrollable=True,
        style={"width": "min(30rem, 100vw)"},
    )


def action_label(old: str, new: str) -> str:
    if (old, new) == ("no-show", "arrived"):
        return "Arrived late"
    return ACTION_LABELS.get(new, new)


def _details(details: AppointmentDetails) -> html.Dl:
    a = details.appointment
    tz = a.clinic_timezone
    rows: list[tuple[str, Any]] = [
        (
            "When",
            f"{fmt_span(a.start_at, a.end_at, tz)} ({zone_label(tz)})",
        ),
        ("With", a.practitioner_name),
        ("Where", a.clinic_name),
        ("Type", f"{a.appointment_type_name}, {a.duration_minutes} minutes"),
        ("Booked", fmt_when(a.booked_at, a.clinic_timezone)),
    ]
    if a.cancellation_category:
        reason = CATEGORY_LABELS.get(a.cancellation_category, a.cancellation_category)
        if a.cancellation_reason:
            reason = f"{reason}: {a.cancellation_reason}"
        rows.append(("Cancelled", reason))
    if a.notes:
        rows.append(("Notes", html.Span(a.notes, className="text-prewrap")))
    if details.series is not None:
        rows.append(("Series", _series_line(details)))
    return html.Dl(
        [
            item
            for label, value in rows
            for item in (
                html.Dt(label, className="col-3 fw-normal text-muted"),
                html.Dd(value, className="col-9 mb-1"),
            )
        ],
        className="row mb-3",
    )


def _series_line(details: AppointmentDetails) -> str:
    series = details.series
    assert series is not None
    every = "every week" if series.interval_weeks == 1 else f"every {series.interval_weeks} weeks"
    total = len(series.occurrences)
    active = sum(1 for _id, _start, status in series.occurrences if status != "cancelled")
    line = f"Appointment {series.position(details.appointment.id)} of {total}, {every}"
    if active != total:
        line += f" ({total - active} cancelled)"
    return line


def _scope_choice(field: str, field_id: IdMaker) -> list[Any]:
    """Which appointments of the series an action reaches."""
    return [
        dbc.Label("Which appointments?", html_for=dom_id(field_id(field)), className="mb-1"),
        dbc.RadioItems(
            id=field_id(field),
            options=[{"label": label, "value": value} for value, label in SCOPE_LABELS.items()],
            value="this",
            className="mb-2",
        ),
    ]


def _status_actions(details: AppointmentDetails, action_id: IdMaker, field_id: IdMaker) -> Any:
    a = details.appointment
    steps = [s for s in details.next_statuses if s != "cancelled"]
    if not steps:
        return None
    buttons = [
        dbc.Button(
            [
                html.I(className=f"bi {ACTION_ICONS.get(s, 'bi-arrow-right')} me-1"),
                action_label(a.status, s),
            ],
            id=action_id(s),
            n_clicks=0,
            color="warning" if s == "no-show" else "primary",
            outline=s in ("no-show", "booked"),
            size="sm",
            className="me-2 mb-2",
        )
        for s in steps
    ]
    needs_reason = "booked" in steps
    return html.Div(
        [
            html.H6("Next step", className="mb-2"),
            html.Div(buttons),
            dbc.Textarea(
                id=field_id("comment"),
                placeholder="Reason (needed to undo a cancellation)"
                if needs_reason
                else "Comment for the history (optional)",
                rows=1,
                maxLength=MAX_REASON_LENGTH,
                className="mt-1",
            ),
        ],
        className="mb-3",
    )


def _cancel_form(
    action_id: IdMaker, field_id: IdMaker, in_series: bool = False
) -> dbc.AccordionItem:
    return dbc.AccordionItem(
        [
            *(_scope_choice("scope", field_id) if in_series else []),
            dbc.Label("Why is it cancelled?", html_for=dom_id(field_id("category"))),
            dcc.Dropdown(
                id=field_id("category"),
                options=[
                    {"label": CATEGORY_LABELS[c], "value": c} for c in CANCELLATION_CATEGORIES
                ],
                placeholder="Choose a category",
                className="mb-2",
            ),
            dbc.Textarea(
                id=field_id("reason"),
                placeholder="Details (optional), e.g. what the patient said",
                rows=2,
                maxLength=MAX_REASON_LENGTH,
                className="mb-2",
            ),
            dbc.Button(
                [html.I(className="bi bi-x-circle me-1"), "Cancel the appointment"],
                id=action_id("cancelled"),
                n_clicks=0,
                color="danger",
                size="sm",
            ),
            html.P(
                "The time becomes free for other patients at once; the practitioner and "
                "the patient are told."
                + (
                    " Appointments of the series already past or no longer active are left "
                    "as they are."
                    if in_series
                    else ""
                ),
                className="small text-muted mt-2 mb-0",
            ),
        ],
        title="Cancel…",
        item_id="cancel",
    )


def _reschedule_form(
    details: AppointmentDetails, action_id: IdMaker, field_id: IdMaker, today: date
) -> dbc.AccordionItem:
    a = details.appointment
    return dbc.AccordionItem(
        [
            dbc.Label("New date", html_for=dom_id(field_id("move-date"))),
            dbc.Input(
                id=field_id("move-date"),
                type="date",
                value=max(a.local_date, today).isoformat(),
                min=today.isoformat(),
                className="mb-2",
            ),
            html.Div("Open times", className="form-label"),
            dcc.Loading(
                dbc.RadioItems(
                    id=field_id("move-start"),
                    options=[],
                    inline=True,
                    className="slot-choices",
                    input_class_name="btn-check",
                    label_class_name="btn btn-outline-success btn-sm",
                    label_checked_class_name="active",
                ),
                delay_show=200,
            ),
            dbc.Button(
                [html.I(className="bi bi-arrow-left-right me-1"), "Move the appointment"],
                id=action_id("move"),
                n_clicks=0,
                color="primary",
                size="sm",
                className="mt-2",
            ),
            html.P(
                f"Same practitioner, clinic, type and {a.duration_minutes} minutes; the "
                "old time becomes free.",
                className="small text-muted mt-2 mb-0",
            ),
        ],
        title="Reschedule…",
        item_id="reschedule",
    )


def _series_edit_form(
    details: AppointmentDetails, action_id: IdMaker, field_id: IdMaker
) -> dbc.AccordionItem:
    """Time of day, duration and notes across a scope of the series; each appointment
    keeps its own date."""
    a = details.appointment
    return dbc.AccordionItem(
        [
            *_scope_choice("edit-scope", field_id),
            dbc.Row(
                [
                    dbc.Col(
                        [
                            dbc.Label("Time of day", html_for=dom_id(field_id("edit-time"))),
                            dbc.Input(
                                id=field_id("edit-time"),
                                type="time",
                                value=f"{a.local_start:%H:%M}",
                                step=300,
                            ),
                        ],
                        width=6,
                    ),
                    dbc.Col(
                        [
                            dbc.Label("Minutes", html_for=dom_id(field_id("edit-duration"))),
                            dbc.Input(
                                id=field_id("edit-duration"),
                                type="number",
                                min=1,
                                max=720,
                                step=1,
                                value=a.duration_minutes,
                            ),
                        ],
                        width=6,
                    ),
                ],
                className="mb-2",
            ),
            dbc.Textarea(
                id=field_id("edit-notes"),
                value=a.notes or "",
                placeholder="Notes",
                rows=2,
                maxLength=MAX_NOTES_LENGTH,
                className="mb-2",
            ),
            dbc.Button(
                [html.I(className="bi bi-pencil-square me-1"), "Change the appointments"],
                id=action_id("series-edit"),
                n_clicks=0,
                color="primary",
                size="sm",
            ),
            html.P(
                f"Times are {zone_label(a.clinic_timezone)} wall-clock times on each "
                "appointment's own date. Every changed appointment must fit, or none "
                "changes; those already past or no longer active are left as they are.",
                className="small text-muted mt-2 mb-0",
            ),
        ],
        title="Edit the series…",
        item_id="series-edit",
    )


def history_list(events: Sequence[ActivityView], timezone: str) -> Any:
    if not events:
        return html.P("No history recorded.", className="text-muted small")
    return html.Ul(
        [
            html.Li(
                [
                    html.Span(fmt_when(e.created_at, timezone), className="text-muted me-2"),
                    dbc.Badge("important", color="danger", className="me-1")
                    if e.priority == "high"
                    else None,
                    html.Span(e.summary, className="text-prewrap"),
                ],
                className="mb-2",
            )
            for e in reversed(events)
        ],
        className="list-unstyled small mb-0 cal-history",
    )


def _nothing_to_do(status: str) -> str:
    if status in ("completed", "cancelled", "no-show"):
        return f"This appointment is {STATUS_LABELS[status].lower()}: nothing more to do."
    return "Your role has no action on this appointment at the moment."


def appointment_panel(
    details: AppointmentDetails, action_id: IdMaker, field_id: IdMaker, today: date
) -> html.Div:
    """The panel's body for one appointment."""
    a = details.appointment
    forms = []
    in_series = details.series is not None
    if "cancelled" in details.next_statuses:
        forms.append(_cancel_form(action_id, field_id, in_series))
    if details.can_reschedule:
        forms.append(_reschedule_form(details, action_id, field_id, today))
        if in_series:
            forms.append(_series_edit_form(details, action_id, field_id))
    history: Any
    if details.history is None:
        history = None
    else:
        history = html.Div(
            [html.H6("History", className="mt-3"), history_list(details.history, a.clinic_timezone)]
        )
    no_actions = not details.next_statuses and not details.can_reschedule
    return html.Div(
        [
            html.Div(
                [html.H5(a.patient_name, className="mb-0 me-2"), status_badge(a.status)],
                className="d-flex align-items-center mb-2",
            ),
            _details(details),
            _status_actions(details, action_id, field_id),
            dbc.Accordion(forms, start_collapsed=True, className="mb-2") if forms else None,
            html.P(_nothing_to_do(a.status), className="text-muted small") if no_actions else None,
            history,
        ],
        id="cal-panel-content",
        **{"data-version": str(a.version), "data-status": a.status},
    )


def apply_action(
    app: AppContext,
    actor: Actor,
    appointment_id: int,
    action: str,
    version: int | None,
    fields: dict[str, Any],
    move_start: datetime | None = None,
) -> tuple[str, str]:
    """Carry out a panel's action (a target status, "move" or "series-edit") at the
    version the panel showed; a cancellation with the "scope" field at "following" or
    "all" cancels that much of the appointment's series. Returns (kind, message) with kind
    "done", "refused" or "stale" (someone else changed the appointment meanwhile: the
    service refused and the panel should reload).
    """
    org_id = actor.organization_id or 0
    try:
        if action == "series-edit":
            return _edit_series(app, actor, appointment_id, fields, version)
        scope = fields.get("scope")
        if action == "cancelled" and scope in ("following", "all"):
            category = fields.get("category")
            reason = fields.get("reason")
            change = cancel_series(
                app,
                org_id,
                appointment_id,
                scope,
                actor,
                category if isinstance(category, str) else "",
                reason=reason if isinstance(reason, str) else None,
                expected_version=version,
            )
            return "done", _series_outcome("Cancelled", change)
        if action == "move":
            if move_start is None:
                return "refused", "Choose one of the open times first."
            view = update_appointment(
                app, org_id, appointment_id, actor, start=move_start, expected_version=version
            )
            tz = ZoneInfo(view.clinic_timezone)
            return "done", f"Moved to {view.start_at.astimezone(tz):%a %d %b %H:%M}."
        cancelling = action == "cancelled"
        category = fields.get("category") if cancelling else None
        reason = fields.get("reason" if cancelling else "comment")
        view = update_appointment_status(
            app,
            org_id,
            appointment_id,
            action,
            actor,
            reason=reason if isinstance(reason, str) else None,
            expected_version=version,
            cancellation_category=category if isinstance(category, str) else None,
        )
    except BookingError as exc:
        return ("stale" if exc.code == "STALE" else "refused"), exc.message
    except (PermissionDenied, TextError) as exc:
        return "refused", getattr(exc, "message", str(exc))
    if view.status == "cancelled":
        label = CATEGORY_LABELS.get(view.cancellation_category or "", "cancelled")
        return "done", f"Cancelled ({label.lower()}). The time is free again."
    return "done", f"Now {STATUS_LABELS.get(view.status, view.status).lower()}."


def _series_outcome(done: str, change: SeriesChange) -> str:
    n = len(change.changed)
    text = f"{done} {n} appointment{'s' if n != 1 else ''} of the series."
    if change.left_alone:
        left = "; ".join(
            f"{v.start_at.astimezone(ZoneInfo(v.clinic_timezone)):%a %d %b} {why}"
            for v, why in change.left_alone
        )
        text += f" Left as they were: {left}."
    return text


def _edit_series(
    app: AppContext,
    actor: Actor,
    appointment_id: int,
    fields: dict[str, Any],
    version: int | None,
) -> tuple[str, str]:
    """The "Edit the series" form: time of day, duration, notes over a scope; only what
    differs from the appointment as it is now is changed."""
    scope = fields.get("edit-scope")
    raw_time = fields.get("edit-time")
    try:
        local_time = time_of_day.fromisoformat(raw_time) if isinstance(raw_time, str) else None
    except ValueError:
        local_time = None
    if local_time is None:
        return "refused", "Give the time of day (hours and minutes)."
    duration = fields.get("edit-duration")
    if isinstance(duration, float) and duration.is_integer():
        duration = int(duration)
    if isinstance(duration, bool) or not isinstance(duration, int):
        return "refused", "The duration must be a whole number of minutes."
    notes = fields.get("edit-notes")
    org_id = actor.organization_id or 0
    current = get_appointment_details(app, org_id, appointment_id, actor=actor).appointment
    change = update_series(
        app,
        org_id,
        appointment_id,
        scope if isinstance(scope, str) else "",
        actor,
        local_time=local_time if local_time != current.local_start.time() else None,
        duration_minutes=duration if duration != current.duration_minutes else None,
        notes=notes if isinstance(notes, str) and notes != (current.notes or "") else None,
        expected_version=version,
    )
    return "done", _series_outcome("Changed", change)


def action_feedback(kind: str | None, message: str, id_prefix: str, what: str) -> dbc.Alert:
    """The outcome of an action; a stale one says someone else changed the appointment
    and that ``what`` (the panel, the list) now shows it as it is."""
    if kind == "stale":
        return dbc.Alert(
            [
                html.H6("Changed by someone else", className="alert-heading fw-bold mb-1"),
                message,
                html.Div(f"{what} now shows the appointment as it is.", className="small"),
            ],
            color="warning",
            id=f"{id_prefix}-stale",
        )
    color = "success" if kind == "done" else "danger"
    return dbc.Alert(message, color=color, id=f"{id_prefix}-outcome-{kind}", className="py-2")


def panel_fields(values: list[Any]) -> dict[str, Any]:
    """The panel's named fields, from a callback's first pattern-matching State
    (``State({"type": ..., "name": ALL}, "value")``): Dash gives the values in the order
    of ``ctx.states_list``, which carries their ids."""
    from dash import ctx

    out: dict[str, Any] = {}
    entries = ctx.states_list[0] if ctx.states_list else []
    for entry, value in zip(entries, values, strict=False):
        ident = entry.get("id") if isinstance(entry, dict) else None
        if isinstance(ident, dict) and isinstance(ident.get("name"), str):
            out[ident["name"]] = value
    return out
