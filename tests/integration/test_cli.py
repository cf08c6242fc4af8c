"""The console command does what `make run` relies on: migrate, seed once, serve."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPOINTMENTS = [sys.executable, str(ROOT / "cli.py")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(
        APPOINTMENTS + args, env=env, cwd=ROOT, capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_migrate_seed_once_and_serve(new_db_url: str) -> None:
    env = {**os.environ, "DATABASE_URL": new_db_url}
    _run(["migrate"], env)
    first = _run(["seed", "--if-empty"], env)
    assert "seeded" in first and "appointments" in first
    assert "frontdesk@harbor.example" in first and "harbor-frontdesk-demo" in first
    second = _run(["seed", "--if-empty"], env)
    assert "not seeding" in second

    port = _free_port()
    server = subprocess.Popen(
        [*APPOINTMENTS, "serve", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        status = None
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as resp:
                    status = resp.status
                    break
            except OSError:
                time.sleep(0.3)
        assert status == 200
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_dash-layout", timeout=5) as resp:
            assert b"Clinic scheduling" in resp.read()
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_accounts_are_created_and_reset_from_the_command_line(new_db_url: str) -> None:
    env = {**os.environ, "DATABASE_URL": new_db_url}
    _run(["migrate"], env)

    def run(args: list[str], stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            APPOINTMENTS + args, env=env, cwd=ROOT, input=stdin, capture_output=True, text=True
        )

    created = run(
        ["create-organization", "--name", "Lakeside Clinic", "--timezone", "America/Chicago"]
    )
    assert created.returncode == 0 and "Lakeside Clinic" in created.stdout
    bad_zone = run(["create-organization", "--name", "X", "--timezone", "Mars/Olympus"])
    assert bad_zone.returncode == 2 and "Unknown time zone" in bad_zone.stderr

    user = [
        "create-user",
        "--email",
        "Boss@Lakeside.example",
        "--name",
        "Pat Boss",
        "--role",
        "admin",
    ]
    assert run([*user, "--password-stdin"], "short\n").returncode == 2
    ok = run([*user, "--password-stdin"], "a sound first password\n")
    assert ok.returncode == 0, ok.stderr
    assert "created admin account boss@lakeside.example in Lakeside Clinic" in ok.stdout
    again = run([*user, "--password-stdin"], "a sound first password\n")
    assert again.returncode == 2 and "already exists" in again.stderr
    no_tty = run(user)
    assert no_tty.returncode != 0 and "--password-stdin" in no_tty.stderr

    reset = run(
        ["set-password", "--email", "boss@lakeside.example", "--password-stdin"], "a new one here\n"
    )
    assert reset.returncode == 0 and "sessions have ended" in reset.stdout

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


def test_production_entry_point_refuses_the_development_secret_key() -> None:
    done = subprocess.run(
        [sys.executable, "-c", "import app; app.create_server()"],
        env={**os.environ, "SECRET_KEY": "", "DATABASE_URL": "sqlite://"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0 and "SECRET_KEY is the development default" in done.stderr
