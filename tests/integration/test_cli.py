"""The console command does what `make run` relies on: migrate, seed once, serve.

Commands run in-process (``appointments_command``); serving runs the installed
``appointments`` script in a process of its own, the one smoke test of the entry point.
"""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from data.db import Database
from tests.conftest import DEMO_ANCHOR, table_fingerprints, unavailable
from tests.integration.conftest import CommandLine
from tests.servers import BOOT_SECONDS, free_port, wait_until

ROOT = Path(__file__).resolve().parents[2]


def _answers(server: subprocess.Popen[str], url: str) -> bool:
    if server.poll() is not None:
        raise RuntimeError(f"appointments serve exited:\n{server.communicate()[0]}")
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status == 200
    except OSError:
        return False


def test_migrate_seed_once_reproduces_the_demo_and_serve(
    new_db_url: str,
    demo_db: Database,
    appointments_command: Callable[[str], CommandLine],
) -> None:
    run = appointments_command(new_db_url)
    assert run("migrate").code == 0
    first = run("seed", "--if-empty", "--anchor", DEMO_ANCHOR.isoformat())
    assert first.code == 0, first.err
    assert "seeded" in first.out and "appointments" in first.out
    assert "frontdesk@harbor.example" in first.out and "harbor-frontdesk-demo" in first.out
    seeded = Database(new_db_url)
    try:
        # The same anchor gives the same rows, byte for byte, as the tests' demo template
        # (seeded by data.seed.seed in another database): the demo is deterministic.
        assert table_fingerprints(seeded) == table_fingerprints(demo_db)
    finally:
        seeded.dispose()
    second = run("seed", "--if-empty")
    assert second.code == 0 and "not seeding" in second.out

    script = Path(sys.executable).with_name("appointments")
    if not script.exists():
        unavailable(f"the installed entry point {script} is missing (uv sync installs it)")
    port = free_port()
    server = subprocess.Popen(
        [str(script), "serve", "--port", str(port)],
        env={**os.environ, "DATABASE_URL": new_db_url},
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_until(lambda: _answers(server, f"http://127.0.0.1:{port}/"), BOOT_SECONDS, "serve")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_dash-layout", timeout=5) as resp:
            assert b"Clinic scheduling" in resp.read()
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_accounts_are_created_and_reset_from_the_command_line(
    new_db_url: str, appointments_command: Callable[[str], CommandLine]
) -> None:
    run = appointments_command(new_db_url)
    assert run("migrate").code == 0

    created = run(
        "create-organization", "--name", "Lakeside Clinic", "--timezone", "America/Chicago"
    )
    assert created.code == 0 and "Lakeside Clinic" in created.out
    bad_zone = run("create-organization", "--name", "X", "--timezone", "Mars/Olympus")
    assert bad_zone.code == 2 and "Unknown time zone" in bad_zone.err

    user = (
        "create-user",
        "--email",
        "Boss@Lakeside.example",
        "--name",
        "Pat Boss",
        "--role",
        "admin",
    )
    assert run(*user, "--password-stdin", stdin="short\n").code == 2
    ok = run(*user, "--password-stdin", stdin="a sound first password\n")
    assert ok.code == 0, ok.err
    assert "created admin account boss@lakeside.example in Lakeside Clinic" in ok.out
    again = run(*user, "--password-stdin", stdin="a sound first password\n")
    assert again.code == 2 and "already exists" in again.err
    no_tty = run(*user)
    assert no_tty.code != 0 and "--password-stdin" in no_tty.err

    reset = run(
        "set-password",
        "--email",
        "boss@lakeside.example",
        "--password-stdin",
        stdin="a new one here\n",
    )
    assert reset.code == 0 and "sessions have ended" in reset.out

    from domain.auth import authenticate
    from domain.context import AppContext
    from settings import Settings

    ctx = AppContext.from_settings(Settings(database_url=new_db_url))
    try:
        assert (
            authenticate(ctx, "boss@lakeside.example", "a new one here", "127.0.0.1").role
            == "admin"
        )
    finally:
        ctx.db.dispose()


def test_production_entry_point_refuses_the_development_secret_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import logging

    import app
    from settings import get_settings

    monkeypatch.setenv("SECRET_KEY", "")
    monkeypatch.setenv("DATABASE_URL", "sqlite://")
    # create_server configures logging as gunicorn needs; keep the root logger as it was.
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", list(root.handlers))
    monkeypatch.setattr(root, "level", root.level)
    get_settings.cache_clear()
    try:
        with pytest.raises(SystemExit, match="SECRET_KEY is the development default"):
            app.create_server()
    finally:
        get_settings.cache_clear()
