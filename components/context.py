"""What layouts and callbacks know about the request: the app context and who is signed in.

The organization always comes from the signed-in user's account (loaded from the session
cookie on each request), never from anything the browser sends:

- ``current_user()``: the signed-in ``UserInfo`` or None;
- ``current_actor()``: the ``domain.actor.Actor`` to pass to services (raises
  ``NotSignedIn``, which the app answers with 401 / a redirect to the sign-in page);
- ``current_organization_id()``: the actor's organization.
"""

from __future__ import annotations

import flask

from domain.actor import Actor
from domain.auth import UserInfo, load_session_user
from domain.context import AppContext

# Set while Dash renders every page once at start-up to build its validation layout: that
# render is shipped to every visitor, so it happens as nobody (see components.auth).
VALIDATION_RENDER = "clinic_validation_render"
_USER = "clinic_user"


class NotSignedIn(Exception):
    """The request needs a signed-in user and has none (or the session ended)."""


def app_context() -> AppContext:
    return flask.current_app.extensions["clinic"]


def current_user() -> UserInfo | None:
    if not flask.has_request_context() or flask.g.get(VALIDATION_RENDER):
        return None
    if _USER not in flask.g:
        user = None
        uid, version = flask.session.get("uid"), flask.session.get("sv")
        if type(uid) is int and type(version) is int:
            user = load_session_user(app_context(), uid, version)
            if user is None:  # deactivated, password changed, or deleted: end the session
                flask.session.clear()
        setattr(flask.g, _USER, user)
    return flask.g.get(_USER)


def set_current_user(user: UserInfo | None) -> None:
    """Make ``user`` the signed-in user of this session (None: sign out)."""
    flask.session.clear()
    if user is not None:
        flask.session["uid"] = user.id
        flask.session["sv"] = user.session_version
        flask.session.permanent = True
    setattr(flask.g, _USER, user)


def current_actor() -> Actor:
    user = current_user()
    if user is None:
        raise NotSignedIn()
    return user.actor


def current_organization_id() -> int:
    """The signed-in user's organization (raises ``NotSignedIn`` when nobody is)."""
    user = current_user()
    if user is None:
        raise NotSignedIn()
    return user.organization_id
