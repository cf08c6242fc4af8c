"""Real processes for deployment tests: gunicorn app servers and a throwaway PostgreSQL.

``GunicornCluster``: N app processes (gunicorn, ``gunicorn.conf.py``, one worker each, own
port) against one database, Redis and SECRET_KEY: the same isolation as N workers behind
one port (no shared memory), but a test chooses which process serves each request::

    with GunicornCluster(env, size=2, log_dir=tmp_path) as cluster:
        first = cluster.client(0).signed_in(email, password)
        ...book through cluster.client(0), read availability through cluster.client(1)...

``ThrowawayPostgres``: a cluster of the test's own under a temporary directory (initdb +
pg_ctl, run as the ``postgres`` system user when the tests run as root), on a free port,
which a test may stop and start; the shared server is never touched.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from tests.conftest import unavailable
from tests.dash_client import DashClient

ROOT = Path(__file__).resolve().parents[1]


# How long a gunicorn process may take to import the app and answer /healthz: about 10 s
# of CPU, but over a minute on a loaded shared machine (seen: 50 s for the import alone).
BOOT_SECONDS = 240


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


class GunicornServer:
    def __init__(self, env: dict[str, str], log_path: Path, workers: int = 1) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.env = {**os.environ, **env, "HOST": "127.0.0.1", "PORT": str(self.port)}
        self.env.setdefault("WORKERS", str(workers))
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        gunicorn = Path(sys.executable).with_name("gunicorn")
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [str(gunicorn), "-c", "gunicorn.conf.py", "app:create_server()"],
            cwd=ROOT,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def healthy(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited:\n{self.log()}")
        try:
            with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as resp:
                return resp.status == 200
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if hasattr(self, "_log"):
            self._log.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def client(self) -> DashClient:
        return DashClient.for_url(self.url)


class GunicornCluster:
    def __init__(self, env: dict[str, str], size: int, log_dir: Path) -> None:
        self.servers = [GunicornServer(env, log_dir / f"gunicorn-{i}.log") for i in range(size)]

    def __enter__(self) -> GunicornCluster:
        try:
            for server in self.servers:  # start all, then wait: they boot in parallel
                server.start()
            for server in self.servers:
                wait_until(server.healthy, BOOT_SECONDS, f"gunicorn on {server.url}")
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *_exc: object) -> None:
        for server in self.servers:
            server.stop()

    def __getitem__(self, i: int) -> GunicornServer:
        return self.servers[i]

    def client(self, i: int) -> DashClient:
        return self.servers[i].client()


def _postgres_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    return str(candidates[-1]) if candidates else None


class ThrowawayPostgres:
    """A PostgreSQL cluster owned by one test: ``start()``, ``stop()``, ``url``."""

    def __init__(self) -> None:
        self.initdb, self.pg_ctl = _postgres_bin("initdb"), _postgres_bin("pg_ctl")
        if not (self.initdb and self.pg_ctl):
            unavailable("PostgreSQL server binaries (initdb, pg_ctl) not found")
        self.as_user: list[str] = []
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            try:
                import pwd

                pwd.getpwnam("postgres")
            except KeyError:
                unavailable("running as root and there is no 'postgres' user to run initdb")
            self.as_user = ["runuser", "-u", "postgres", "--"]
        # Not under pytest's tmp dir: that is private to the test user (root).
        self.dir = Path(tempfile.mkdtemp(prefix="clinic-pg-", dir="/tmp"))
        self.data = self.dir / "data"
        self.port = free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        if self.as_user:
            shutil.chown(self.dir, "postgres", "postgres")
        options = ["-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync", "--no-instructions"]
        self._run([self.initdb, "-D", str(self.data), *options])

    def _run(self, args: list[str]) -> None:
        done = subprocess.run(
            self.as_user + args, capture_output=True, text=True, timeout=120, cwd=self.dir
        )
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off"
        )
        log = str(self.dir / "server.log")
        self._run([self.pg_ctl, "-D", str(self.data), "-l", log, "-o", options, "-w", "start"])

    def stop(self, mode: str = "fast") -> None:
        self._run([self.pg_ctl, "-D", str(self.data), "-m", mode, "-w", "stop"])

    def create_database(self, name: str) -> str:
        engine = create_engine(self.url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            engine.dispose()
        return self.url.rsplit("/", 1)[0] + f"/{name}"

    def destroy(self) -> None:
        with contextlib.suppress(RuntimeError):  # already stopped
            self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)
