"""Building blocks of the administration pages: their sub-navigation, form fields whose
error sits next to them, the list of bookings a change concerns, empty states.

Forms here name their fields after the domain's ``AdminError.field`` values, so a page
turns a refusal into feedback with ``FormFields.feedback(error)`` and nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import dash_bootstrap_components as dbc
from dash import Output, html, no_update

from components.context import current_user
from components.status import status_badge
from domain.admin import AdminError, AdminResult, AffectedAppointment
from domain.permissions import Permission

SECTIONS: tuple[tuple[str, str, str], ...] = (
    ("/settings", "Organization", "bi-building-gear"),
    ("/admin/clinics", "Clinics", "bi-hospital"),
    ("/admin/practitioners", "Practitioners", "bi-person-badge"),
    ("/admin/schedules", "Weekly schedules", "bi-calendar-week"),
    ("/admin/exceptions", "Leave & closures", "bi-calendar-x"),
    ("/admin/import", "Import", "bi-upload"),
)


def org_today() -> date:
    """Today on the organization's clock (the app's clock, so tests can fix it)."""
    from components.context import app_context
    from domain.organizations import get_organization

    ctx = app_context()
    user = current_user()
    org = get_organization(ctx, user.organization_id) if user else None
    now = ctx.clock()
    return org.local_today(now) if org else now.date()


def can_manage() -> bool:
    """May the signed-in user change the set-up (else the pages are read-only)?"""
    user = current_user()
    return user is not None and user.actor.can(Permission.MANAGE_SETTINGS)


def admin_nav(active: str) -> dbc.Nav:
    return dbc.Nav(
        [
            dbc.NavItem(
                dbc.NavLink(
                    [html.I(className=f"bi {icon} me-1"), label],
                    href=path,
                    active=path == active,
                )
            )
            for path, label, icon in SECTIONS
        ],
        pills=True,
        className="admin-nav mb-3 flex-nowrap overflow-auto",
        id="admin-nav",
    )


def read_only_note() -> dbc.Alert | None:
    if can_manage():
        return None
    return dbc.Alert(
        [
            html.I(className="bi bi-eye me-2"),
            "You can look at the set-up here; changing it needs an administrator.",
        ],
        color="light",
        className="py-2 border",
    )


# --------------------------------------------------------------------------- forms


@dataclass(frozen=True)
class Field:
    name: str  # AdminError.field
    label: str
    control: Any  # a dbc.Input / dbc.Select / dbc.Textarea with id pid(name)
    help: str | None = None


class FormFields:
    """The fields of one form: layout with a feedback line under each control, and the
    outputs/values that show a domain refusal next to the field it concerns."""

    def __init__(self, pid: Any, fields: Sequence[Field]) -> None:
        self.pid = pid
        self.fields = list(fields)
        # The fields whose control can show itself invalid (inputs and selects; radio
        # buttons and checklists cannot): those carry feedback next to them.
        self.names = [
            f.name for f in fields if "invalid" in getattr(f.control, "available_properties", ())
        ]
        # Field name -> its control's id (a field may be named after the domain's
        # field, e.g. "start", while its control is "start_date").
        self.ids = {f.name: f.control.id for f in fields}

    def group(self, name: str, **col: Any) -> dbc.Col:
        f = next(x for x in self.fields if x.name == name)
        parts: list[Any] = [dbc.Label(f.label, html_for=f.control.id), f.control]
        if name in self.names:
            parts.append(dbc.FormFeedback(id=f"{f.control.id}-feedback", type="invalid"))
        if f.help:
            parts.append(dbc.FormText(f.help))
        return dbc.Col(html.Div(parts, className="mb-3"), **col)

    def owns(self, error: AdminError) -> bool:
        return error.field in self.names


class Outputs:
    """A callback's outputs by name, so a thin controller callback answers with only
    what changes (everything else is ``no_update``)::

        OUT = Outputs(open=Output("m", "is_open"), flash=Output("f", "children"))
        @callback(*OUT.list(), ...)
        def act(...): return OUT.reply(open=False)
    """

    def __init__(self, **outputs: Output) -> None:
        self.outputs = outputs

    def add(self, outputs: dict[str, Output]) -> Outputs:
        self.outputs.update(outputs)
        return self

    def list(self) -> list[Output]:
        return list(self.outputs.values())

    def reply(self, **values: Any) -> tuple[Any, ...]:
        unknown = set(values) - set(self.outputs)
        if unknown:
            raise KeyError(f"no such outputs: {sorted(unknown)}")
        return tuple(values.get(name, no_update) for name in self.outputs)


def form_outputs(form: FormFields) -> dict[str, Output]:
    """``form``'s feedback outputs, named for ``Outputs``."""
    return {f"invalid_{n}": Output(form.ids[n], "invalid") for n in form.names} | {
        f"feedback_{n}": Output(f"{form.ids[n]}-feedback", "children") for n in form.names
    }


def form_feedback(form: FormFields, error: AdminError | None) -> dict[str, Any]:
    """Values for ``form_outputs``: the error next to its field, the others clear."""
    field = error.field if error is not None else None
    out: dict[str, Any] = {}
    for n in form.names:
        mine = n == field and error is not None
        out[f"invalid_{n}"] = mine
        out[f"feedback_{n}"] = error.message if mine and error is not None else ""
    return out


def error_alert(error: AdminError | None, form: FormFields | None = None) -> Any:
    """The form-level alert: refusals no single field owns (shown under the fields)."""
    if error is None or (form is not None and form.owns(error)):
        return None
    return dbc.Alert(error.message, color="danger", className="py-2 mb-2")


def result_alert(result: AdminResult) -> html.Div:
    parts: list[Any] = [
        dbc.Alert(
            [html.I(className="bi bi-check-circle me-2"), result.message],
            color="success",
            className="py-2 mb-2",
        )
    ]
    for note in result.notes:
        parts.append(
            dbc.Alert(
                [html.I(className="bi bi-info-circle me-2"), note],
                color="warning" if result.affected else "info",
                className="py-2 mb-2",
            )
        )
    if result.affected:
        parts.append(affected_table(result.affected, caption="Still booked: reschedule these"))
    return html.Div(parts, className="result")


def confirmation(error: AdminError, button_id: str | dict[str, Any], action: str) -> html.Div:
    """A refusal that lists the bookings a change would leave outside the schedule, and
    the button that repeats the change with those bookings confirmed."""
    affected = getattr(error, "affected", [])
    return dbc.Alert(
        [
            html.H6(
                [html.I(className="bi bi-exclamation-triangle me-2"), "Bookings are affected"],
                className="alert-heading",
            ),
            html.P(error.message, className="mb-2"),
            html.Div(affected_table(affected), className="affected-scroll"),
            html.Div(
                [
                    dbc.Button(action, id=button_id, color="warning", className="me-2", n_clicks=0),
                    html.Small(
                        "The appointments stay booked; you will get this list again to "
                        "reschedule them.",
                        className="text-muted",
                    ),
                ],
                className="mt-2",
            ),
        ],
        color="warning",
        className="mb-2",
        id="admin-confirmation",
    )


# Rows a page lists at once; the rest are counted (the change's event keeps every id).
MAX_SHOWN = 200


def affected_table(affected: Sequence[AffectedAppointment], caption: str | None = None) -> Any:
    rest = len(affected) - MAX_SHOWN
    affected = affected[:MAX_SHOWN]
    rows = [
        html.Tr(
            [
                html.Td(a.when, className="text-nowrap"),
                html.Td(a.patient_name),
                html.Td(a.patient_phone or "—", className="text-nowrap"),
                html.Td(a.practitioner_name),
                html.Td(a.clinic_name),
                html.Td(a.appointment_type),
                html.Td(status_badge(a.status)),
            ]
        )
        for a in affected
    ]
    table = dbc.Table(
        [
            html.Thead(
                html.Tr(
                    [
                        html.Th("When (clinic time)"),
                        html.Th("Patient"),
                        html.Th("Phone"),
                        html.Th("Practitioner"),
                        html.Th("Clinic"),
                        html.Th("Type"),
                        html.Th("Status"),
                    ]
                )
            ),
            html.Tbody(
                rows
                + (
                    [
                        html.Tr(
                            html.Td(
                                f"… and {rest:,} more (the activity record lists them all).",
                                colSpan=7,
                                className="text-muted",
                            )
                        )
                    ]
                    if rest > 0
                    else []
                )
            ),
        ],
        size="sm",
        bordered=False,
        hover=True,
        responsive=True,
        className="mb-0 bg-white affected-table",
    )
    if caption is None:
        return table
    return html.Div(
        [html.H6(caption, className="mt-2"), table], className="affected border rounded p-2"
    )


def status_pill(active: bool) -> dbc.Badge:
    return (
        dbc.Badge("active", color="success") if active else dbc.Badge("inactive", color="secondary")
    )
