"""The page frame: navigation bar built from the pages the signed-in user may open, the
user's name and role with a sign-out button, and the page container."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import html

from components.auth import visible_pages
from components.context import current_user
from domain.auth import UserInfo
from domain.permissions import ROLE_LABELS


def nav_links(user: UserInfo | None) -> list[dbc.NavItem]:
    return [
        dbc.NavItem(
            dbc.NavLink(
                [html.I(className=f"bi {p['icon']} me-1") if p.get("icon") else None, p["name"]],
                href=p["relative_path"],
                active="exact",
            )
        )
        for p in visible_pages(user)
    ]


def user_menu(user: UserInfo) -> html.Div:
    return html.Div(
        [
            html.A(
                [
                    html.I(className="bi bi-person-circle me-1"),
                    html.Span(user.name, id="shell-user-name"),
                    dbc.Badge(
                        ROLE_LABELS.get(user.role, user.role),
                        color="light",
                        text_color="primary",
                        className="ms-2",
                        id="shell-user-role",
                    ),
                ],
                href="/account",
                className="navbar-text text-white text-decoration-none me-3",
                title=f"{user.email} · {user.organization_name}",
            ),
            # A form POST: SameSite=Lax cookies are not sent with cross-site POSTs, so
            # another site cannot sign the user out.
            html.Form(
                dbc.Button(
                    [html.I(className="bi bi-box-arrow-right me-1"), "Sign out"],
                    type="submit",
                    color="light",
                    outline=True,
                    size="sm",
                    id="shell-sign-out",
                ),
                action="/logout",
                method="POST",
                className="d-inline",
            ),
        ],
        className="d-flex align-items-center ms-lg-3 mt-2 mt-lg-0",
    )


def shell() -> html.Div:
    """Called on every page load so the navigation reflects who is signed in."""
    user = current_user()
    collapse_children: list[object] = [dbc.Nav(nav_links(user), navbar=True, className="ms-auto")]
    if user is not None:
        collapse_children.append(user_menu(user))
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
                            collapse_children,
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


def register_shell_callbacks(app: dash.Dash) -> None:
    """Registered on the app (not at import) so that every app built in one process,
    as tests do, gets them."""
    app.clientside_callback(
        "function(n, isOpen) { return n ? !isOpen : isOpen; }",
        dash.Output("navbar-collapse", "is_open"),
        dash.Input("navbar-toggler", "n_clicks"),
        dash.State("navbar-collapse", "is_open"),
    )
