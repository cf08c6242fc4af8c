"""The page frame: navigation bar built from the pages the signed-in user may open, the
user's unread notifications (a bell with a count, kept fresh), the user's name and role
with a sign-out button, and the page container."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
import flask
from dash import dcc, html

from components.auth import SIGNED_IN, callback, visible_pages
from components.context import VALIDATION_RENDER, app_context, current_actor, current_user
from domain.activity import count_unread_notifications
from domain.auth import UserInfo
from domain.errors import BookingError
from domain.permissions import ROLE_LABELS

UNREAD_ID = "shell-unread"
# How often an open page asks for the unread count (one indexed COUNT per user).
UNREAD_REFRESH_MS = 60_000


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


def unread_label(count: int) -> tuple[str, str]:
    """The badge's text and class: hidden at zero, "99+" beyond."""
    if count <= 0:
        return "", "d-none"
    return ("99+" if count > 99 else str(count)), "shell-unread-count"


def notifications_bell() -> html.A:
    """A bell linking to the activity page; its count is filled by ``refresh_unread``
    (at every page change and every minute), not at render, so the frame stays cheap."""
    return html.A(
        [
            html.I(className="bi bi-bell fs-5"),
            dbc.Badge("", id=UNREAD_ID, color="danger", pill=True, className="d-none"),
            dcc.Interval(id="shell-unread-tick", interval=UNREAD_REFRESH_MS),
        ],
        href="/activity",
        className="navbar-text text-white text-decoration-none me-3 position-relative",
        title="Your unread notifications",
        id="shell-bell",
    )


def user_menu(user: UserInfo) -> html.Div:
    return html.Div(
        [
            notifications_bell(),
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
    elif flask.has_request_context() and flask.g.get(VALIDATION_RENDER):
        # The start-up render (as nobody) must hold every component a callback names.
        collapse_children.append(notifications_bell())
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

    # Dash's pages take every app's callbacks from one global list at set-up, so this is
    # registered here, while the app is being built, like the pages' own.
    @callback(
        dash.Output(UNREAD_ID, "children"),
        dash.Output(UNREAD_ID, "className"),
        dash.Input("_pages_location", "pathname"),
        dash.Input("shell-unread-tick", "n_intervals"),
        permission=SIGNED_IN,
    )
    def refresh_unread(_path: str | None, _tick: int | None) -> tuple[str, str]:
        actor = current_actor()
        try:
            count = count_unread_notifications(
                app_context(), actor.organization_id or 0, actor.user_id or 0
            )
        except BookingError:  # the account is gone: the next request signs it out
            count = 0
        return unread_label(count)
