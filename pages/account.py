"""My account: who I am signed in as, and changing my password."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, html, no_update

from components.auth import SIGNED_IN, callback
from components.context import app_context, current_actor, current_user, set_current_user
from data.vocabulary import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from domain.auth import AuthError, change_password
from domain.permissions import ROLE_LABELS

dash.register_page(
    __name__,
    path="/account",
    name="My account",
    title="My account · Clinic scheduling",
    nav=False,
    permission=SIGNED_IN,
)


def _password_input(ident: str, label: str, autocomplete: str) -> list[object]:
    return [
        dbc.Label(label, html_for=ident),
        dbc.Input(
            id=ident,
            type="password",
            autocomplete=autocomplete,
            maxLength=MAX_PASSWORD_LENGTH,
            className="mb-3",
        ),
    ]


def layout(**_kwargs: str) -> html.Div:
    # Without a user (Dash's start-up render, which learns the page's ids) the page still
    # returns its frame, with no data.
    user = current_user()
    details = (
        [
            ("Name", user.name),
            ("E-mail", user.email),
            ("Role", ROLE_LABELS.get(user.role, user.role)),
            ("Organization", user.organization_name),
        ]
        if user
        else []
    )
    return dbc.Row(
        [
            dbc.Col(
                dbc.Card(
                    [
                        dbc.CardHeader("My account"),
                        dbc.CardBody(
                            html.Dl(
                                [
                                    item
                                    for label, value in details
                                    for item in (
                                        html.Dt(label, className="col-sm-4 fw-normal text-muted"),
                                        html.Dd(value, className="col-sm-8"),
                                    )
                                ],
                                className="row mb-0",
                            )
                        ),
                    ],
                    className="shadow-sm mb-3",
                ),
                lg=5,
            ),
            dbc.Col(
                dbc.Card(
                    [
                        dbc.CardHeader("Change password"),
                        dbc.CardBody(
                            dbc.Form(
                                [
                                    *_password_input(
                                        "account-current", "Current password", "current-password"
                                    ),
                                    *_password_input("account-new", "New password", "new-password"),
                                    *_password_input(
                                        "account-confirm", "New password again", "new-password"
                                    ),
                                    dbc.FormText(
                                        f"At least {MIN_PASSWORD_LENGTH} characters. "
                                        "Changing it signs you out everywhere else.",
                                        className="d-block mb-3",
                                    ),
                                    html.Div(id="account-feedback"),
                                    dbc.Button(
                                        "Change password", id="account-submit", type="submit"
                                    ),
                                ],
                                id="account-form",
                            )
                        ),
                    ],
                    className="shadow-sm",
                ),
                lg=5,
            ),
        ]
    )


@callback(
    Output("account-feedback", "children"),
    Output("account-current", "value"),
    Output("account-new", "value"),
    Output("account-confirm", "value"),
    Input("account-form", "n_submit"),
    State("account-current", "value"),
    State("account-new", "value"),
    State("account-confirm", "value"),
    prevent_initial_call=True,
    running=[(Output("account-submit", "disabled"), True, False)],
    permission=SIGNED_IN,
)
def change_my_password(
    _n_submit: int | None, current: str | None, new: str | None, confirm: str | None
) -> tuple[object, object, object, object]:
    if (new or "") != (confirm or ""):
        return (
            dbc.Alert("The two new passwords differ.", color="danger", className="py-2"),
            no_update,
            "",
            "",
        )
    try:
        user = change_password(app_context(), current_actor(), current or "", new or "")
    except AuthError as exc:
        return dbc.Alert(exc.message, color="danger", className="py-2"), "", "", ""
    set_current_user(user)  # this session continues at the new session version
    return (
        dbc.Alert(
            "Password changed. Any other sessions of yours have been signed out.",
            color="success",
            className="py-2",
        ),
        "",
        "",
        "",
    )
