"""``GET /calendar/<token>.ics``: a practitioner's private iCalendar feed.

The token in the link is the only credential (calendar apps cannot sign in). An unknown or
revoked token answers 404, the same as any unknown address.
"""

from __future__ import annotations

import flask

from components.auth import TokenAccess, route_access, token_principal
from components.context import app_context
from domain.calendar_feeds import FeedOwner, calendar_feed_for_token, render_calendar_feed


def _feed_owner() -> FeedOwner | None:
    token = (flask.request.view_args or {}).get("token")
    return calendar_feed_for_token(app_context(), token)


def _unknown_link() -> flask.Response:
    return flask.Response(
        "This calendar link is not valid (it may have been replaced or revoked).\n",
        status=404,
        mimetype="text/plain",
    )


FEED_TOKEN = TokenAccess("calendar-feed", authenticate=_feed_owner, refuse=_unknown_link)


@route_access(FEED_TOKEN)
def calendar_feed(token: str) -> flask.Response:
    body = render_calendar_feed(app_context(), token_principal(FEED_TOKEN))
    response = flask.Response(body, mimetype="text/calendar")
    response.headers["Content-Disposition"] = 'inline; filename="appointments.ics"'
    return response


def install(server: flask.Flask) -> None:
    server.add_url_rule("/calendar/<token>.ics", "calendar_feed", calendar_feed, methods=["GET"])
