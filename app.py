"""Build the Dash app from settings. Nothing else happens here.

``create_app(settings)`` is the factory for tests and the CLI; ``create_server()`` is the
WSGI entry point for gunicorn (``gunicorn -c gunicorn.conf.py 'app:create_server()'``).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import dash
import flask
from werkzeug.middleware.proxy_fix import ProxyFix

import api
from components import auth, errors
from components.shell import register_shell_callbacks, shell
from domain.clock import Clock
from domain.context import AppContext
from settings import Settings, get_settings

ROOT = Path(__file__).resolve().parent
# Callback requests are small JSON documents; anything larger is not from our pages.
MAX_REQUEST_BYTES = 1024 * 1024


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
        SESSION_COOKIE_NAME="clinic_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.cookie_secure,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.session_hours),
        MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES,
    )
    if settings.proxy_count:
        n = settings.proxy_count
        server.wsgi_app = ProxyFix(server.wsgi_app, x_for=n, x_proto=n)  # type: ignore[method-assign]
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
    register_shell_callbacks(app)
    api.install(server)
    auth.install(app)
    errors.install(server)
    return app


def create_server() -> flask.Flask:
    # Under gunicorn nothing else configures logging; app warnings (outages, refused
    # requests) go to stderr beside gunicorn's own log.
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = get_settings()
    if settings.uses_default_secret:
        raise SystemExit(
            "SECRET_KEY is the development default. Set SECRET_KEY to a long random value "
            "shared by every app process (`make serve-prod` creates one in var/secret_key)."
        )
    return create_app(settings).server
