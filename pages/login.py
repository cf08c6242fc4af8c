"""Sign in: e-mail and password; the only page open to everyone."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
import flask
from dash import Input, Output, State, dcc, html, no_update

from components.auth import PUBLIC, callback, safe_next
from components.context import app_context, set_current_user
from data.vocabulary import MAX_EMAIL_LENGTH, MAX_PASSWORD_LENGTH
from domain.auth import LoginRefused, LoginThrottled, authenticate

dash.register_page(
    __name__,
    path="/login",
    name="Sign in",
    title="Sign in · Clinic scheduling",
    nav=False,
    permission=PUBLIC,
)


def layout(next: str | None = None, **_kwargs: str) -> html.Div:
    form = dbc.Form(
        [
            dbc.Label("E-mail address", html_for="login-email"),
            dbc.Input(
                id="login-email",
                type="email",
                autocomplete="username",
                autoFocus=True,
                maxLength=MAX_EMAIL_LENGTH,
                className="mb-3",
            ),
            dbc.Label("Password", html_for="login-password"),
            dbc.Input(
                id="login-password",
                type="password",
                autocomplete="current-password",
                maxLength=MAX_PASSWORD_LENGTH,
                className="mb-3",
            ),
            html.Div(id="login-feedback"),
            dbc.Button(
                "Sign in", id="login-submit", type="submit", color="primary", className="w-100"
            ),
        ],
        id="login-form",
    )
    return html.Div(
        [
            dcc.Location(id="login-redirect", refresh=True),
            dcc.Store(id="login-next", data=safe_next(next)),
            dbc.Card(
                dbc.CardBody(
                    [
                        html.H1("Sign in", className="h4 mb-1"),
                        html.P(
                            "Use the e-mail address and password your clinic gave you.",
                            className="text-muted",
                        ),
                        form,
                        html.P(
                            "Forgot your password? Your clinic's administrator can reset it.",
                            className="text-muted small mt-3 mb-0",
                        ),
                    ],
                    className="p-4",
                ),
                className="shadow-sm login-card",
            ),
        ]
    )


def _client_address() -> str:
    # ProxyFix (settings.proxy_count) has already replaced this with the forwarded
    # address when the app runs behind trusted proxies.
    return flask.request.remote_addr or "unknown"


@callback(
    Output("login-feedback", "children"),
    Output("login-password", "value"),
    Output("login-redirect", "href"),
    Input("login-form", "n_submit"),
    State("login-email", "value"),
    State("login-password", "value"),
    State("login-next", "data"),
    prevent_initial_call=True,
    running=[(Output("login-submit", "disabled"), True, False)],
    permission=PUBLIC,
)
def sign_in(
    _n_submit: int | None, email: str | None, password: str | None, next_path: str | None
) -> tuple[object, object, object]:
    try:
        user = authenticate(app_context(), email or "", password or "", _client_address())
    except LoginThrottled as exc:
        return dbc.Alert(exc.message, color="warning", className="py-2"), "", no_update
    except LoginRefused as exc:
        return dbc.Alert(exc.message, color="danger", className="py-2"), "", no_update
    set_current_user(user)
    return None, "", safe_next(next_path)
