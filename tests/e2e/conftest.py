"""Browser fixtures: the app served from a thread, driven by Playwright in Debian's Chromium.

Each test module gets its own freshly seeded database per backend (browser journeys
write), served by a werkzeug server on a free port, with the app's clock fixed at the demo
anchor so "today" has appointments.

Every page but the sign-in page needs a session: start a test with ``login(page, role)``
(the demo organization's account for that role; roles as in ``data.vocabulary.ROLES``).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from app import create_app
from data.db import Database
from data.seed import DEMO_PROFILE
from domain.clock import fixed_clock
from domain.context import AppContext
from settings import Settings
from tests.conftest import BACKENDS, DEMO_ANCHOR, unavailable

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
# Chromium flags for a closed network: without the background-networking ones it keeps
# trying to reach Google's services.
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        unavailable(f"Chromium not found at {CHROMIUM} (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture(scope="module", params=BACKENDS)
def e2e_backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="module")
def e2e_db(
    e2e_backend: str, tmp_path_factory: pytest.TempPathFactory, demo_templates: Any
) -> Iterator[Database]:
    """The demo organization, a copy of its own per module (the journeys write)."""
    database = demo_templates.copy(e2e_backend, "e2e", tmp_path_factory.mktemp("e2e"))
    yield database
    database.dispose()


class LiveServer:
    def __init__(self, app_context: AppContext) -> None:
        self.context = app_context
        self.app = create_app(app_context.settings, context=app_context)
        self._server = make_server("127.0.0.1", 0, self.app.server, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> LiveServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._thread.join(timeout=10)


@pytest.fixture(scope="module")
def live_server(e2e_db: Database) -> Iterator[LiveServer]:
    settings = Settings(database_url=e2e_db.url, secret_key="e2e-secret")
    ctx = AppContext(settings=settings, db=e2e_db, clock=fixed_clock(DEMO_ANCHOR))
    with LiveServer(ctx) as server:
        yield server


@pytest.fixture
def page(browser, live_server: LiveServer, artifacts_dir: Path):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=live_server.url)
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    yield pg
    context.close()


# The demo organization's sign-ins, one per role (data.seed.DEMO_PROFILE; README).
DEMO_LOGINS: dict[str, tuple[str, str]] = {
    u.role: (u.email, u.password) for u in DEMO_PROFILE.organizations[0].users
}


def login(page, role: str = "front-desk", next_path: str = "/") -> None:  # type: ignore[no-untyped-def]
    """Sign in through the sign-in page as the demo account of ``role``, then wait until
    the app shows who is signed in (and ``next_path`` when given)."""
    email, password = DEMO_LOGINS[role]
    page.goto("/login" if next_path == "/" else f"/login?next={next_path}")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.locator("#shell-user-name").wait_for()
    page.wait_for_url(f"**{next_path}")


def logout(page) -> None:  # type: ignore[no-untyped-def]
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/login")


def shot(  # type: ignore[no-untyped-def]
    page, artifacts_dir: Path, name: str, backend: str, *, full_page: bool = True
) -> Path:
    """Screenshot under tests/artifacts/ (not committed): the whole page, or only what is
    on screen (``full_page=False``, for side panels and dialogs, which stay on screen)."""
    path = artifacts_dir / f"{name}-{backend}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path
