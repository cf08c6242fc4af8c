"""HTTP endpoints for programs rather than people: calendar feed links and the FHIR API.

They are plain Flask routes beside the Dash app, authenticated by tokens (declared with
``components.auth.route_access(TokenAccess)``), thin like the pages' callbacks: parse the
request, call one ``domain`` function, serialize.
"""

from __future__ import annotations

import flask


def install(server: flask.Flask) -> None:
    from api import calendar, fhir

    calendar.install(server)
    fhir.install(server)
