"""The page frame: navigation bar built from the page registry, and the page container."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import html


def nav_links() -> list[dbc.NavItem]:
    pages = sorted(
        (p for p in dash.page_registry.values() if p.get("nav", True)),
        key=lambda p: p.get("order", 100),
    )
    return [
        dbc.NavItem(
            dbc.NavLink(
                [html.I(className=f"bi {p['icon']} me-1") if p.get("icon") else None, p["name"]],
                href=p["relative_path"],
                active="exact",
            )
        )
        for p in pages
    ]


def shell() -> html.Div:
    """Called on every page load so the navigation reflects the registered pages."""
    return html.Div(
        [
            dbc.Navbar(
                dbc.Container(
                    [
                        dbc.NavbarBrand(
                            [html.I(className="bi bi-calendar2-heart me-2"), "Clinic scheduling"],
                            href="/",
                        ),
                        dbc.NavbarToggler(id="navbar-toggler"),
                        dbc.Collapse(
                            dbc.Nav(nav_links(), navbar=True, className="ms-auto"),
                            id="navbar-collapse",
                            navbar=True,
                        ),
                    ],
                    fluid=True,
                ),
                color="primary",
                dark=True,
                className="mb-3",
            ),
            dbc.Container(dash.page_container, fluid=True, className="pb-4"),
        ]
    )


dash.clientside_callback(
    "function(n, isOpen) { return n ? !isOpen : isOpen; }",
    dash.Output("navbar-collapse", "is_open"),
    dash.Input("navbar-toggler", "n_clicks"),
    dash.State("navbar-collapse", "is_open"),
)
