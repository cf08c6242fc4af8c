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
