"""Administration: import weekly schedule blocks from a CSV file. Uploading checks every
row (a dry run); the blocks are imported, all at once, only when no row has a problem."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, ctx, dcc, html
from dash.exceptions import PreventUpdate

from components.admin import admin_nav, can_manage, read_only_note
from components.auth import callback
from components.context import app_context, current_actor
from components.forms import page_header
from components.ids import id_factory
from domain.admin import AdminError, ImportReport, import_schedules
from domain.admin.schedule_import import COLUMNS, REQUIRED, template_csv
from domain.permissions import Permission

dash.register_page(
    __name__,
    path="/admin/import",
    name="Import schedules",
    title="Import schedules · Administration · Clinic scheduling",
    nav=False,
    permission=Permission.VIEW_SETTINGS,
)

pid = id_factory("import")

# The browser sends the file inside one request (base64, a third larger); the app
# accepts requests up to 1 MB.
MAX_UPLOAD_BYTES = 700 * 1024

COLUMN_HELP = {
    "practitioner": "the practitioner's id or exact name",
    "clinic": "the clinic's id or exact name",
    "weekday": "Monday … Sunday, Mon … Sun, or 0 (Monday) … 6 (Sunday)",
    "start": "clinic-local time, HH:MM (24-hour)",
    "end": "clinic-local time, HH:MM; after the start",
    "slot_minutes": "slot length in minutes (5-720)",
    "capacity": "patients per slot; default 1",
    "valid_from": "first date, YYYY-MM-DD; default today",
    "valid_to": "last date, YYYY-MM-DD; default open-ended",
    "appointment_type": "only this type may be booked: its code, name or id",
}


def _columns_card() -> dbc.Card:
    return dbc.Card(
        [
            dbc.CardHeader("The file"),
            dbc.CardBody(
                [
                    html.P(
                        "One weekly block per row, with a header row naming the columns (any "
                        "order, any case). Each row is checked like a block entered by hand: "
                        "the practitioner must be assigned to the clinic, and blocks may not "
                        "overlap each other or existing ones.",
                        className="small",
                    ),
                    dbc.Table(
                        html.Tbody(
                            [
                                html.Tr(
                                    [
                                        html.Td(html.Code(c)),
                                        html.Td(
                                            "required" if c in REQUIRED else "optional",
                                            className="text-muted small",
                                        ),
                                        html.Td(COLUMN_HELP[c], className="small"),
                                    ]
                                )
                                for c in COLUMNS
                            ]
                        ),
                        size="sm",
                        className="mb-2",
                    ),
                    html.P(
                        [
                            "Administrators can also run ",
                            html.Code("appointments import-schedules FILE --dry-run"),
                            " on the server.",
                        ],
                        className="small text-muted",
                    ),
                    dbc.Button(
                        [html.I(className="bi bi-download me-1"), "Download an example"],
                        id=pid("template"),
                        color="secondary",
                        outline=True,
                        size="sm",
                        n_clicks=0,
                    ),
                    dcc.Download(id=pid("download")),
                ]
            ),
        ],
        className="shadow-sm mb-3",
    )


def layout(**_kwargs: str) -> html.Div:
    manage = can_manage()
    upload = dbc.Card(
        dbc.CardBody(
            [
                dcc.Upload(
                    html.Div(
                        [
                            html.I(className="bi bi-cloud-arrow-up display-6 text-primary"),
                            html.Div("Drop a CSV file here, or click to choose one"),
                            html.Small(
                                "It is checked at once; nothing is imported until you confirm.",
                                className="text-muted",
                            ),
                        ],
                        className="text-center py-4",
                    ),
                    id=pid("upload"),
                    accept=".csv,text/csv",
                    max_size=MAX_UPLOAD_BYTES,
                    multiple=False,
                    className="upload-drop rounded",
                ),
                dcc.Loading(html.Div(id=pid("report"), className="mt-3"), delay_show=200),
                html.Div(
                    dbc.Button(
                        [html.I(className="bi bi-check2-all me-1"), "Import"],
                        id=pid("import"),
                        color="primary",
                        disabled=True,
                        n_clicks=0,
                    ),
                    className="mt-2",
                ),
            ]
        ),
        className="shadow-sm mb-3",
        style={} if manage else {"display": "none"},
    )
    return html.Div(
        [
            admin_nav("/admin/import"),
            page_header(
                "Import weekly schedules",
                "Load many blocks at once from a spreadsheet saved as CSV (UTF-8).",
            ),
            read_only_note(),
            dbc.Row(
                [dbc.Col(upload, lg=7), dbc.Col(_columns_card(), lg=5)],
            ),
            dcc.Store(id=pid("file")),
        ]
    )


@callback(
    Output(pid("download"), "data"),
    Input(pid("template"), "n_clicks"),
    prevent_initial_call=True,
    permission=Permission.VIEW_SETTINGS,
)
def download_template(n_clicks: int | None) -> dict[str, Any]:
    if not n_clicks:
        raise PreventUpdate
    content = template_csv(app_context(), current_actor().organization_id)
    return {"content": content, "filename": "weekly-schedules.csv", "type": "text/csv"}


def _report(report: ImportReport, file_name: str | None) -> html.Div:
    parts: list[Any] = []
    if report.problems:
        parts.append(
            dbc.Alert(
                [html.I(className="bi bi-x-octagon me-2"), report.summary()],
                color="danger",
                className="py-2",
            )
        )
        parts.append(
            dbc.Table(
                [
                    html.Thead(html.Tr([html.Th("Line"), html.Th("Column"), html.Th("Problem")])),
                    html.Tbody(
                        [
                            html.Tr(
                                [
                                    html.Td(p.line, className="text-end"),
                                    html.Td(html.Code(p.column) if p.column else "—"),
                                    html.Td(p.message),
                                ]
                            )
                            for p in report.problems
                        ]
                    ),
                ],
                size="sm",
                hover=True,
                responsive=True,
                id=pid("problems"),
            )
        )
    elif report.dry_run:
        parts.append(
            dbc.Alert(
                [
                    html.I(className="bi bi-check-circle me-2"),
                    f"{file_name or 'The file'}: {report.summary()}",
                ],
                color="info",
                className="py-2",
            )
        )
    else:
        parts.append(
            dbc.Alert(
                [html.I(className="bi bi-check-circle me-2"), report.summary()],
                color="success",
                className="py-2",
                id=pid("done"),
            )
        )
    for note in report.notes:
        parts.append(dbc.Alert(str(note), color="warning", className="py-1 small mb-1"))
    if report.blocks and not report.problems:
        parts.append(
            dbc.Table(
                [
                    html.Thead(
                        html.Tr(
                            [
                                html.Th("Line"),
                                html.Th("Practitioner"),
                                html.Th("Clinic"),
                                html.Th("Hours"),
                                html.Th("Slots"),
                                html.Th("Valid"),
                            ]
                        )
                    ),
                    html.Tbody(
                        [
                            html.Tr(
                                [
                                    html.Td(b.line, className="text-end"),
                                    html.Td(b.practitioner),
                                    html.Td(b.clinic),
                                    html.Td(b.hours),
                                    html.Td(
                                        f"{b.slot_minutes} min"
                                        + (f" × {b.capacity}" if b.capacity > 1 else "")
                                        + (f", {b.appointment_type}" if b.appointment_type else "")
                                    ),
                                    html.Td(b.validity),
                                ]
                            )
                            for b in report.blocks[:200]
                        ]
                    ),
                ],
                size="sm",
                responsive=True,
                className="mt-2",
                id=pid("preview"),
            )
        )
    return html.Div(parts)


@callback(
    Output(pid("report"), "children"),
    Output(pid("file"), "data"),
    Output(pid("import"), "disabled"),
    Output(pid("import"), "children"),
    Input(pid("upload"), "contents"),
    Input(pid("import"), "n_clicks"),
    State(pid("upload"), "filename"),
    State(pid("file"), "data"),
    prevent_initial_call=True,
    running=[(Output(pid("import"), "disabled"), True, True)],
    permission=Permission.MANAGE_SETTINGS,
)
def check_or_import(
    contents: str | None,
    _import: int | None,
    filename: str | None,
    stored: dict[str, str] | None,
) -> tuple[Any, Any, bool, Any]:
    """A new file is checked (dry run); the Import button imports the checked file."""
    actor = current_actor()
    importing = ctx.triggered_id == pid("import")
    if importing:
        if not _import or not stored:
            raise PreventUpdate
        contents, filename = stored.get("contents"), stored.get("filename")
    if not isinstance(contents, str) or "," not in contents:
        raise PreventUpdate
    try:
        data = base64.b64decode(contents.split(",", 1)[1], validate=True)
    except (binascii.Error, ValueError):
        return dbc.Alert("The file could not be read.", color="danger"), None, True, "Import"
    try:
        report = import_schedules(
            app_context(),
            actor,
            actor.organization_id,
            data,
            dry_run=not importing,
            file_name=filename,
        )
    except AdminError as error:
        return dbc.Alert(error.message, color="danger", className="py-2"), None, True, "Import"
    label = [html.I(className="bi bi-check2-all me-1"), f"Import {len(report.blocks)} blocks"]
    if importing or not report.ok:
        return _report(report, filename), None, True, "Import"
    return (
        _report(report, filename),
        {"contents": contents, "filename": filename or ""},
        False,
        label,
    )
