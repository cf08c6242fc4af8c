"""Shared fixtures: every database test runs on SQLite and on PostgreSQL.

- ``db``: an empty, migrated database of the parametrized backend; emptied after each test.
- ``demo_db``: the demo organization seeded once per backend at a fixed anchor; tests treat
  it as read-only (write tests use ``db`` and their own factories).
- ``backend``: "sqlite" or "postgresql", the parameter of the two above
  (``@postgresql_only`` narrows it to PostgreSQL for features SQLite does not have).

PostgreSQL comes from ``TEST_DATABASE_URL`` (default: the local server); each test run
creates databases of its own and drops them afterwards. Outside CI a missing server skips
the PostgreSQL half with the reason; with ``CI=true`` it fails the run.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import pickle
import shutil
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from data.db import Database
from data.migrate import upgrade
from data.models import Base

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
PG_SERVER_URL = os.environ.get(
    "TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
BACKENDS = ("sqlite", "postgresql")
# For tests of PostgreSQL-only features (exclusion constraints, expression indexes): they
# take the ``db``/``backend`` fixtures on PostgreSQL alone instead of skipping on SQLite.
postgresql_only = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
# The demo data is generated around this instant so that its numbers are stable.
DEMO_ANCHOR = datetime(2026, 3, 18, 15, 0, tzinfo=UTC)
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def unavailable(reason: str) -> None:
    """Skip outside CI, fail inside it: CI must run every test."""
    if IN_CI:
        pytest.fail(f"required in CI: {reason}", pytrace=False)
    pytest.skip(reason)


class PostgresServer:
    """Creates and drops this run's own databases on the shared test server."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.created: list[str] = []
        self._error: str | None = None
        self._engine = None

    def _admin(self):  # type: ignore[no-untyped-def]
        if self._engine is None:
            self._engine = create_engine(self.url, isolation_level="AUTOCOMMIT")
        return self._engine

    def check(self) -> None:
        if self._error is None:
            try:
                with self._admin().connect() as conn:
                    conn.execute(text("SELECT 1"))
                self._error = ""
            except Exception as exc:
                self._error = f"PostgreSQL not reachable at {self.url}: {exc.__class__.__name__}"
        if self._error:
            unavailable(self._error)

    def create_database(
        self, label: str, template: str | None = None, *, drop_at_exit: bool = True
    ) -> str:
        """A new database; with ``template`` (a URL of this server's), a copy of that one.
        ``drop_at_exit=False``: another process drops it (see ``SharedTemplates``)."""
        self.check()
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        name = f"clinic_test_{label}_{worker}_{uuid.uuid4().hex[:8]}"
        copy = f' TEMPLATE "{make_url(template).database}"' if template else ""
        with self._admin().connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"{copy}'))
        if drop_at_exit:
            self.created.append(name)
        return make_url(self.url).set(database=name).render_as_string(hide_password=False)

    def drop(self, names: list[str]) -> None:
        with self._admin().connect() as conn:
            for name in names:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def drop_all(self) -> None:
        if not self.created or self._engine is None:
            return
        self.drop(self.created)
        self._engine.dispose()


@pytest.fixture(scope="session", autouse=True)
def fast_password_hashing() -> Iterator[None]:
    """Argon2's production cost (64 MiB, 3 passes per hash) protects real passwords and
    only costs time in tests, which sign in hundreds of times; hashes made here verify
    with their own cheap parameters. test_auth checks the production parameters."""
    from argon2 import PasswordHasher

    import domain.auth

    production = domain.auth.HASHER
    domain.auth.HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    domain.auth._dummy_hash = None
    yield
    domain.auth.HASHER = production
    domain.auth._dummy_hash = None


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    server = PostgresServer(PG_SERVER_URL)
    yield server
    server.drop_all()


def new_database_url(
    backend: str, label: str, tmp_dir: Path, pg: PostgresServer, template: str | None = None
) -> str:
    """A new database of ``backend``: empty, or a copy of the ``template`` database."""
    if backend == "sqlite":
        path = tmp_dir / f"{label}-{uuid.uuid4().hex[:8]}.sqlite3"
        if template:
            shutil.copyfile(make_url(template).database or "", path)
        return f"sqlite:///{path}"
    return pg.create_database(label, template)


@pytest.fixture(scope="session")
def migrated_urls(
    tmp_path_factory: pytest.TempPathFactory, pg_server: PostgresServer
) -> dict[str, str]:
    """Lazily created, migrated empty databases, one per backend."""
    return _LazyUrls(tmp_path_factory.mktemp("db"), pg_server)  # type: ignore[return-value]


class _LazyUrls(dict):  # type: ignore[type-arg]
    def __init__(self, tmp: Path, pg: PostgresServer) -> None:
        super().__init__()
        self.tmp, self.pg = tmp, pg

    def __missing__(self, backend: str) -> str:
        url = new_database_url(backend, "empty", self.tmp, self.pg)
        upgrade(url)
        self[backend] = url
        return url


def _empty_tables(database: Database) -> None:
    """Children first, so no foreign key is in the way. On PostgreSQL a DELETE of a test's
    few rows takes milliseconds where TRUNCATE (new files for every table and index) took
    0.05-0.5 s after each of hundreds of tests; the ids restart as TRUNCATE ... RESTART
    IDENTITY (and SQLite, whose rowids follow the largest id left) would have them."""
    names = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with database.engine.begin() as conn:
        for name in names:
            conn.execute(text(f"DELETE FROM {name}"))
        if database.dialect == "postgresql":
            # The sequences TRUNCATE ... RESTART IDENTITY restarts: owned by a column
            # (serial, 'a') or behind an identity column ('i') of these tables.
            conn.execute(
                text(
                    "SELECT setval(d.objid::regclass, 1, false) FROM pg_depend d"
                    " JOIN pg_class c ON c.oid = d.objid AND c.relkind = 'S'"
                    " WHERE d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')"
                    " AND d.refobjid IN"
                    " (SELECT to_regclass(t) FROM unnest(CAST(:names AS text[])) AS t)"
                ),
                {"names": names},
            )


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def db(backend: str, migrated_urls: dict[str, str]) -> Iterator[Database]:
    database = Database(migrated_urls[backend])
    try:
        yield database
    finally:
        _empty_tables(database)
        database.dispose()


_SHARED_REGISTRY = "shared-postgresql-databases.txt"


def _xdist_root(tmp_path_factory: pytest.TempPathFactory) -> Path | None:
    """The run's base temporary folder, which holds every xdist worker's own one."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        return None
    return tmp_path_factory.getbasetemp().parent


class SharedTemplates:
    """Databases that take seconds to build (a seeded demo, an imported file), built once
    per run and backend and never opened by a test: tests get copies (a file copy, or
    PostgreSQL's CREATE DATABASE ... TEMPLATE, a fraction of the build). Under xdist the
    first worker to ask builds one under a file lock and the others use it, instead of
    every worker spending seconds of the same two cores on it; the controller drops the
    PostgreSQL ones at the end (``pytest_sessionfinish``), after every worker copied."""

    def __init__(self, tmp: Path, shared: Path | None, pg: PostgresServer) -> None:
        self.tmp, self.shared, self.pg = tmp, shared, pg
        self._built: dict[tuple[str, str], tuple[str, Any]] = {}

    def get(self, key: str, backend: str, build: Callable[[str], Any]) -> tuple[str, Any]:
        """The template's URL, and what ``build(url)`` returned (it fills a migrated,
        empty database of the backend; under xdist its result is pickled)."""
        if (key, backend) not in self._built:
            self._built[key, backend] = (
                self._build(key, backend, build)
                if self.shared is None
                else self._shared(key, backend, build)
            )
        return self._built[key, backend]

    def _build(
        self, key: str, backend: str, build: Callable[[str], Any], shared: Path | None = None
    ) -> tuple[str, Any]:
        if backend == "sqlite":
            url = new_database_url(backend, f"{key}-template", shared or self.tmp, self.pg)
        else:
            url = self.pg.create_database(f"{key}_template", drop_at_exit=shared is None)
            if shared is not None:
                with (shared / _SHARED_REGISTRY).open("a") as registry:
                    registry.write(f"{make_url(url).database}\n")
        upgrade(url)
        result = build(url)
        database = Database(url)
        if backend == "sqlite":
            # A copy is of the main file alone: fold the write-ahead log into it first.
            with database.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        # PostgreSQL copies a template only while nobody is connected to it.
        database.dispose()
        return url, result

    def _shared(self, key: str, backend: str, build: Callable[[str], Any]) -> tuple[str, Any]:
        assert self.shared is not None
        done = self.shared / f"template-{key}-{backend}.pickle"
        with (self.shared / f"template-{key}-{backend}.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
            if done.exists():
                return pickle.loads(done.read_bytes())  # type: ignore[no-any-return]
            made = self._build(key, backend, build, self.shared)
            done.write_bytes(pickle.dumps(made))
            return made


def pytest_sessionfinish(session: pytest.Session) -> None:
    """In the xdist controller, once every worker is done: drop the shared templates."""
    config = session.config
    factory = getattr(config, "_tmp_path_factory", None)
    if hasattr(config, "workerinput") or factory is None:
        return
    registry = factory.getbasetemp() / _SHARED_REGISTRY
    if registry.exists():
        server = PostgresServer(PG_SERVER_URL)
        server.drop(registry.read_text().split())
        server._admin().dispose()


@pytest.fixture(scope="session")
def shared_templates(
    tmp_path_factory: pytest.TempPathFactory, pg_server: PostgresServer
) -> SharedTemplates:
    return SharedTemplates(
        tmp_path_factory.mktemp("templates"), _xdist_root(tmp_path_factory), pg_server
    )


def _seed_demo(url: str) -> None:
    from data.seed import seed

    database = Database(url)
    try:
        seed(database, anchor=DEMO_ANCHOR)
    finally:
        database.dispose()


class _DemoTemplates(dict):  # type: ignore[type-arg]
    """The demo organization seeded at DEMO_ANCHOR, a shared template per backend: every
    module that needs its own writable demo data gets a copy."""

    def __init__(self, templates: SharedTemplates) -> None:
        super().__init__()
        self.templates = templates

    def __missing__(self, backend: str) -> str:
        url, _ = self.templates.get("demo", backend, _seed_demo)
        self[backend] = url
        return url

    def copy(self, backend: str, label: str, tmp_dir: Path) -> Database:  # type: ignore[override]
        url = new_database_url(backend, label, tmp_dir, self.templates.pg, self[backend])
        return Database(url)


@pytest.fixture(scope="session")
def demo_templates(shared_templates: SharedTemplates) -> _DemoTemplates:
    return _DemoTemplates(shared_templates)


class _DemoDatabases(dict):  # type: ignore[type-arg]
    def __init__(self, templates: _DemoTemplates, tmp: Path) -> None:
        super().__init__()
        self.templates, self.tmp = templates, tmp

    def __missing__(self, backend: str) -> Database:
        database = self.templates.copy(backend, "demo", self.tmp)
        self[backend] = database
        return database


@pytest.fixture(scope="session")
def demo_databases(
    tmp_path_factory: pytest.TempPathFactory, demo_templates: _DemoTemplates
) -> Iterator[dict[str, Database]]:
    dbs = _DemoDatabases(demo_templates, tmp_path_factory.mktemp("demo"))
    yield dbs  # type: ignore[misc]
    for database in dbs.values():
        database.dispose()


@pytest.fixture
def demo_db(backend: str, demo_databases: dict[str, Database]) -> Database:
    return demo_databases[backend]


def table_fingerprints(database: Database) -> dict[str, str]:
    """A hash of every seeded table's stored rows, to compare two databases by."""
    from data.seed import TABLE_ORDER

    out = {}
    with database.engine.connect() as conn:
        for name in TABLE_ORDER:
            # Raw driver rows: what is stored, without ORM type processing.
            rows = conn.exec_driver_sql(f"SELECT * FROM {name} ORDER BY id").fetchall()
            out[name] = hashlib.sha256(repr(rows).encode()).hexdigest()
    return out


@pytest.fixture
def new_db_url(backend: str, tmp_path: Path, pg_server: PostgresServer) -> str:
    """A brand-new, unmigrated database of the backend (for migration and seed tests)."""
    return new_database_url(backend, "fresh", tmp_path, pg_server)


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    if not SHARED_DATA.is_dir():
        unavailable(f"shared data folder not found at {SHARED_DATA}")
    return SHARED_DATA


# The Vitória 2016 no-show file (../shared/data), which two modules import whole.
VITORIA_FILE = "noshow-vitoria-2016.csv.gz"
VITORIA_ORGANIZATION = "Vitória public clinics"


def _import_vitoria(path: Path) -> Callable[[str], Any]:
    def build(url: str) -> Any:
        from domain.clock import fixed_clock
        from domain.context import AppContext
        from domain.history_import import import_history
        from settings import Settings

        database = Database(url)
        ctx = AppContext(
            settings=Settings(database_url=url), db=database, clock=fixed_clock(DEMO_ANCHOR)
        )
        try:
            return import_history(
                ctx, path, organization=VITORIA_ORGANIZATION, format_name="kaggle-noshow-2016"
            )
        finally:
            database.dispose()

    return build


class VitoriaHistory:
    """The whole Vitória file imported once per run and backend, at DEMO_ANCHOR, into a
    shared template (an import takes seconds per backend); ``copy`` gives a database of
    one's own, ``report`` the ImportReport of that first import."""

    def __init__(self, templates: SharedTemplates, path: Path) -> None:
        self.templates, self.path = templates, path

    def report(self, backend: str) -> Any:
        return self.templates.get("vitoria", backend, _import_vitoria(self.path))[1]

    def copy(self, backend: str, label: str, tmp_dir: Path) -> str:
        url, _ = self.templates.get("vitoria", backend, _import_vitoria(self.path))
        return new_database_url(backend, label, tmp_dir, self.templates.pg, url)


@pytest.fixture(scope="session")
def vitoria_history(shared_templates: SharedTemplates, shared_data_dir: Path) -> VitoriaHistory:
    path = shared_data_dir / VITORIA_FILE
    if not path.is_file():
        unavailable(f"{VITORIA_FILE} not found in {shared_data_dir}")
    return VitoriaHistory(shared_templates, path)
