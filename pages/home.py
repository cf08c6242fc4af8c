"""Home: where each kind of user starts."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import html

from components.context import app_context, current_organization_id
from domain.organizations import get_organization

dash.register_page(__name__, path="/", name="Home", title="Clinic scheduling", order=0, nav=False)


def layout(**_kwargs: str) -> html.Div:
    ctx = app_context()
    org_id = current_organization_id()
    org = get_organization(ctx, org_id) if org_id else None
    if org is None:
        return dbc.Alert(
            [
                html.H4("No organization yet", className="alert-heading"),
                html.P(
                    "The database is empty. Run `appointments seed` to load the demo "
                    "organization, or import your history."
                ),
            ],
            color="warning",
        )
    today = org.local_today(ctx.clock())
    cards = [
        dbc.Col(
            dbc.Card(
                dbc.CardBody(
                    [
                        html.H5(
                            [html.I(className=f"bi {p.get('icon', 'bi-circle')} me-2"), p["name"]],
                            className="card-title",
                        ),
                        html.P(p.get("description", ""), className="card-text text-muted"),
                        dbc.Button(
                            "Open",
                            href=p["relative_path"],
                            color="primary",
                            outline=True,
                            size="sm",
                        ),
                    ]
                ),
                className="h-100 shadow-sm",
            ),
            md=6,
            lg=4,
            className="mb-3",
        )
        for p in sorted(dash.page_registry.values(), key=lambda p: p.get("order", 100))
        if p.get("nav", True)
    ]
    return html.Div(
        [
            html.H2(org.name, className="mb-0"),
            html.P(
                f"{today:%A %d %B %Y} · times shown in each clinic's local time",
                className="text-muted",
            ),
            dbc.Row(cards) if cards else html.P("No pages are installed yet."),
        ]
    )
