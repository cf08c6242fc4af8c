"""Home: where each kind of user starts; lists the pages their role opens."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import html

from components.auth import SIGNED_IN, visible_pages
from components.context import app_context, current_user
from domain.organizations import get_organization
from domain.permissions import ROLE_LABELS

dash.register_page(
    __name__,
    path="/",
    name="Home",
    title="Clinic scheduling",
    order=0,
    nav=False,
    permission=SIGNED_IN,
)


def layout(**_kwargs: str) -> html.Div:
    ctx = app_context()
    user = current_user()
    org = get_organization(ctx, user.organization_id) if user else None
    if user is None or org is None:
        return dbc.Alert("Your organization no longer exists.", color="warning")
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
        for p in visible_pages(user)
    ]
    return html.Div(
        [
            html.H2(org.name, className="mb-0"),
            html.P(
                [
                    f"{today:%A %d %B %Y} · times shown in each clinic's local time · ",
                    f"signed in as {user.name} ({ROLE_LABELS.get(user.role, user.role)})",
                ],
                className="text-muted",
            ),
            dbc.Row(cards) if cards else html.P("No pages are open to your role yet."),
        ]
    )
