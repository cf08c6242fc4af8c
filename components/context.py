"""Access to the running app's context from layouts and callbacks."""

from __future__ import annotations

import flask

from domain.context import AppContext


def app_context() -> AppContext:
    return flask.current_app.extensions["clinic"]


def current_organization_id() -> int | None:
    """The organization the current request acts for.

    Until sign-in exists this is the deployment's first organization; the access-control
    work replaces it with the organization of the signed-in user.
    """
    from domain.organizations import list_organizations

    orgs = list_organizations(app_context())
    return orgs[0].id if orgs else None
