"""Set-based inserts that skip rows already present, for imports of many rows.

Rows are written in the same storage formats as the seed's bulk writer (COPY text on
PostgreSQL, SQLAlchemy's own SQLite formats on SQLite), so they read back exactly as
ORM-written rows. Duplicates are decided by the database's unique constraint
(``ON CONFLICT (...) DO NOTHING`` on both stores), not by an earlier read, so two imports
of the same rows cannot double them even when they race.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence

import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session

from data.models import Base
from data.seed import _csv_frame, _sqlite_rows

Progress = Callable[[int], None]
CHUNK_ROWS = 10_000


def insert_skipping_existing(
    session: Session,
    table_name: str,
    frame: pd.DataFrame,
    conflict_columns: Sequence[str],
    progress: Progress | None = None,
) -> int:
    """Insert ``frame``'s rows into ``table_name`` inside the session's transaction,
    leaving out every row whose ``conflict_columns`` already exist; returns how many
    rows were written. ``progress`` receives the number of rows handled after each chunk.
    """
    if frame.empty:
        return 0
    table = Base.metadata.tables[table_name]
    unknown = [c for c in frame.columns if c not in table.c]
    if unknown:
        raise ValueError(f"{table_name} has no column(s) {unknown}")
    session.flush()
    cols = ", ".join(frame.columns)
    conflict = ", ".join(conflict_columns)
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        return _insert_postgres(conn, table_name, frame, cols, conflict, progress)
    sql = (
        f"INSERT INTO {table_name} ({cols}) VALUES ({', '.join('?' for _ in frame.columns)}) "
        f"ON CONFLICT ({conflict}) DO NOTHING"
    )
    written = 0
    for start in range(0, len(frame), CHUNK_ROWS):
        chunk = frame.iloc[start : start + CHUNK_ROWS]
        result = conn.exec_driver_sql(sql, _sqlite_rows(chunk, table_name))
        written += max(result.rowcount, 0)
        if progress:
            progress(len(chunk))
    return written


def _insert_postgres(
    conn: object,
    table_name: str,
    frame: pd.DataFrame,
    cols: str,
    conflict: str,
    progress: Progress | None,
) -> int:
    # COPY cannot skip conflicts, so rows go to a temporary table first and cross over in
    # one INSERT ... SELECT ... ON CONFLICT DO NOTHING.
    staging = f"staging_{table_name}"
    dbapi = conn.connection.driver_connection  # type: ignore[attr-defined]
    with dbapi.cursor() as cur:
        cur.execute(
            f"CREATE TEMP TABLE {staging} ON COMMIT DROP AS "
            f"SELECT {cols} FROM {table_name} WITH NO DATA"
        )
        for start in range(0, len(frame), CHUNK_ROWS):
            chunk = frame.iloc[start : start + CHUNK_ROWS]
            buf = io.StringIO()
            _csv_frame(chunk, table_name).to_csv(buf, index=False, header=False)
            with cur.copy(f"COPY {staging} ({cols}) FROM STDIN WITH (FORMAT csv)") as copy:
                copy.write(buf.getvalue())
            if progress:
                progress(len(chunk))
        cur.execute(
            f"INSERT INTO {table_name} ({cols}) SELECT {cols} FROM {staging} "
            f"ON CONFLICT ({conflict}) DO NOTHING"
        )
        written = max(cur.rowcount, 0)
        cur.execute(f"DROP TABLE {staging}")
    return written


def lock_for_import(session: Session, key: str) -> None:
    """Serialize imports into the same organization. SQLite needs nothing: the import's
    transaction holds the database write lock from its start."""
    if session.connection().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": key})


def refresh_statistics(session: Session, table_names: Sequence[str]) -> None:
    """After a large load, let PostgreSQL's planner see the new row counts now rather
    than at the next autovacuum (dashboards query the imported rows right away)."""
    if session.connection().dialect.name == "postgresql":
        for name in table_names:
            session.execute(text(f"ANALYZE {Base.metadata.tables[name].name}"))
