"""An app over a small two-organization world, for tests that call it over HTTP.

``access_world`` (module scope, one per backend): organization A with one user per role
(``<role>@a.test``), a clinic, a practitioner working weekdays 09:00-17:00 and a patient;
organization B with the same (``<role>@b.test``);
every password is ``tests.factories.TEST_PASSWORD``. The app's clock can be moved
(``world.clock.advance``). Tests that fail sign-ins use their own client address
(``world.client(addr)``) so throttling in one test cannot leak into another.

``appointments_command(database_url)``: the ``appointments`` console command run in this
process against that database (see ``CommandLine``).
"""

from __future__ import annotations

import io
import itertools
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dash
import pytest

from app import create_app
from cli import main
from data.db import Database
from data.migrate import upgrade
from domain.context import AppContext
from settings import Settings, get_settings
from tests.conftest import BACKENDS, PostgresServer, new_database_url
from tests.dash_client import DashClient
from tests.factories import (
    TEST_PASSWORD,
    make_clinic,
    make_org,
    make_patient,
    make_practitioner,
    make_schedule,
    make_staff,
)

_addresses = itertools.count(1)


class MovableClock:
    def __init__(self, at: datetime) -> None:
        self.now = at

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@dataclass
class World:
    backend: str
    db: Database
    app: dash.Dash
    clock: MovableClock
    org_ids: dict[str, int]
    # Keyed "a"/"b" (users: "<role>@a"): ids to forge cross-organization requests with.
    user_ids: dict[str, int] = field(default_factory=dict)
    practitioner_ids: dict[str, int] = field(default_factory=dict)
    clinic_ids: dict[str, int] = field(default_factory=dict)
    patient_ids: dict[str, int] = field(default_factory=dict)

    @staticmethod
    def email(role: str, org: str = "a") -> str:
        return f"{role}@{org}.test"

    def client(self, remote_addr: str | None = None) -> DashClient:
        """A browser of its own (own cookies, own client address)."""
        n = next(_addresses)
        addr = remote_addr or f"10.8.{n // 250}.{n % 250 + 1}"
        return DashClient.for_flask(self.app.server, remote_addr=addr)

    def signed_in(self, role: str, org: str = "a") -> DashClient:
        return self.client().signed_in(self.email(role, org), TEST_PASSWORD)


def build_world(backend: str, url: str) -> World:
    upgrade(url)
    db = Database(url)
    org_ids, user_ids, prac_ids, clinic_ids, patient_ids = {}, {}, {}, {}, {}
    with db.transaction() as s:
        for key in ("a", "b"):
            org = make_org(s, name=f"Organization {key.upper()}")
            clinic = make_clinic(s, org, name=f"Clinic {key.upper()}")
            prac = make_practitioner(s, org, [clinic], name=f"Dr. {key.upper()}")
            make_schedule(s, prac, clinic)
            patient = make_patient(s, org)
            staff = make_staff(s, org, prac, f"{key}.test")
            org_ids[key], prac_ids[key] = org.id, prac.id
            clinic_ids[key], patient_ids[key] = clinic.id, patient.id
            user_ids.update({f"{role}@{key}": u.id for role, u in staff.items()})
    clock = MovableClock(datetime(2026, 3, 18, 15, 0, tzinfo=UTC))
    settings = Settings(database_url=url, secret_key="integration-secret")
    app = create_app(settings, context=AppContext(settings=settings, db=db, clock=clock))
    return World(backend, db, app, clock, org_ids, user_ids, prac_ids, clinic_ids, patient_ids)


@pytest.fixture(scope="module", params=BACKENDS)
def access_world(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    pg_server: PostgresServer,
) -> Iterator[World]:
    backend = request.param
    url = new_database_url(backend, "access", Path(tmp_path_factory.mktemp("access")), pg_server)
    world = build_world(backend, url)
    yield world
    world.db.dispose()


@dataclass
class CommandRun:
    code: int  # the exit status a shell would see
    out: str
    err: str


class CommandLine:
    """``appointments ARGS`` as the installed script runs it (``cli.main``, settings from
    the environment), but in this process: a new process imports the app for seconds
    before each command, which is not what these tests test (test_cli keeps one real
    process). ``SystemExit`` becomes the status and message a process would give."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
        self._monkeypatch, self._capsys = monkeypatch, capsys

    def __call__(self, *argv: str, stdin: str = "") -> CommandRun:
        self._capsys.readouterr()
        self._monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        try:
            code = main(list(argv))
        except SystemExit as exc:
            if exc.code is None or isinstance(exc.code, int):
                code = exc.code or 0
            else:
                print(exc.code, file=sys.stderr)
                code = 1
        captured = self._capsys.readouterr()
        return CommandRun(code, captured.out, captured.err)


@pytest.fixture
def appointments_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Callable[[str], CommandLine]]:
    def against(database_url: str) -> CommandLine:
        monkeypatch.setenv("DATABASE_URL", database_url)
        get_settings.cache_clear()
        return CommandLine(monkeypatch, capsys)

    yield against
    get_settings.cache_clear()  # the next reader sees the restored environment
