"""Engine, sessions and the unit of work.

Nothing here runs at import time: a ``Database`` is built from a URL by whoever needs one
(the app factory, the CLI, a test fixture). Every dialect-specific switch lives here.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 30_000


def _ensure_sqlite_dir(url: str) -> None:
    database = make_url(url).database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine with the settings both stores need.

    SQLite: foreign keys on, WAL so readers never wait for a writer, and our own BEGIN so
    that a write unit of work can take the database write lock up front (BEGIN IMMEDIATE)
    instead of failing later when it upgrades a read lock.
    """
    if url.startswith("sqlite"):
        _ensure_sqlite_dir(url)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            **kwargs,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
            # Hand transaction control to SQLAlchemy (pysqlite's own BEGIN is deferred
            # and unconfigurable); see the SQLAlchemy SQLite "serializable" recipe.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
            conn.exec_driver_sql(f"BEGIN {mode}")

        return engine

    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    return create_engine(url, **kwargs)


class Database:
    """The unit-of-work factory that services receive.

    ``with db.transaction() as session:`` commits when the block ends normally and rolls
    back everything when it raises; ``with db.read() as session:`` never commits.
    """

    def __init__(self, url: str, engine: Engine | None = None, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = engine or make_engine(url, **engine_kwargs)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # Registers the flush hook that keeps stored statistics current: every process
        # that writes appointments builds a Database first.
        import data.stats_summaries  # noqa: F401

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @contextmanager
    def transaction(self, *, write_lock: bool = False) -> Iterator[Session]:
        """One transaction. ``write_lock`` takes SQLite's write lock at BEGIN, which
        serializes writers that must read-then-write (bookings); PostgreSQL uses row or
        advisory locks inside the transaction instead."""
        session = self._sessions()
        if write_lock and self.is_sqlite:
            session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @contextmanager
    def read(self) -> Iterator[Session]:
        session = self._sessions()
        try:
            yield session
        finally:
            session.rollback()
            session.close()

    def ping(self) -> None:
        """Raise unless the database answers (health checks)."""
        with self.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")

    @contextmanager
    def quick_read(self) -> Iterator[Connection]:
        """A Core connection for read-only statements that need no common snapshot.

        On PostgreSQL it runs in autocommit, sparing the BEGIN and ROLLBACK round trips
        of ``read()`` (a third of the time of a small availability fetch). SQLite keeps
        ``read()``'s transaction: its connections are in-process, and switching pysqlite
        to autocommit and back would undo the transaction control set up above.
        """
        if self.is_sqlite:
            with self.read() as session:
                yield session.connection()
            return
        with self.engine.connect() as conn:
            yield conn.execution_options(isolation_level="AUTOCOMMIT")

    def dispose(self) -> None:
        self.engine.dispose()
