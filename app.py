"""Build the Dash app from settings. Nothing else happens here.

``create_app(settings)`` is the factory for tests and the CLI; ``create_server()`` is the
WSGI entry point for gunicorn (``gunicorn 'app:create_server()'``).
"""

from __future__ import annotations

from pathlib import Path

import dash
import flask

from components.shell import shell
from domain.clock import Clock
from domain.context import AppContext
from settings import Settings, get_settings

ROOT = Path(__file__).resolve().parent


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    context: AppContext | None = None,
) -> dash.Dash:
    settings = settings or get_settings()
    server = flask.Flask(__name__)
    server.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.cookie_secure,
    )
    ctx = context or AppContext.from_settings(settings, clock)
    server.extensions["clinic"] = ctx

    app = dash.Dash(
        __name__,
        server=server,
        use_pages=True,
        pages_folder=str(ROOT / "pages"),
        assets_folder=str(ROOT / "assets"),
        # Vendored CSS is listed explicitly so it loads before our own stylesheet.
        assets_ignore=r"vendor/.*",
        external_stylesheets=[
            "/assets/vendor/bootstrap.min.css",
            "/assets/vendor/bootstrap-icons.min.css",
        ],
        title="Clinic scheduling",
        update_title=None,
        suppress_callback_exceptions=False,
    )
    app.layout = shell
    return app


def create_server() -> flask.Flask:
    return create_app().server
