"""Claiming work rows atomically: the one place that needs each dialect's INSERT.

``insert_missing`` writes rows and leaves out every row whose unique key already exists,
returning only the rows THIS statement created: the caller owns exactly those. Two
workers inserting the same key at once cannot both get it back:

- PostgreSQL: ``INSERT ... ON CONFLICT DO NOTHING RETURNING``; a second inserter of a key
  waits for the first one's transaction and, once it commits, leaves the row out.
- SQLite: the same statement (SQLite 3.35+) inside a write transaction
  (``BEGIN IMMEDIATE``), which already serializes writers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_missing(
    session: Session,
    table: Table,
    rows: Sequence[dict[str, Any]],
    key: Sequence[str],
    returning: Sequence[str],
) -> list[Row[Any]]:
    """Insert ``rows`` except those whose ``key`` columns (a unique constraint) exist;
    the ``returning`` columns of the rows actually inserted."""
    if not rows:
        return []
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        stmt: Any = postgresql.insert(table)
    elif dialect == "sqlite":
        stmt = sqlite.insert(table)
    else:  # pragma: no cover - the app supports these two stores
        raise NotImplementedError(f"no claim statement for {dialect}")
    stmt = (
        stmt.values(list(rows))
        .on_conflict_do_nothing(index_elements=list(key))
        .returning(*(table.c[name] for name in returning))
    )
    return list(session.execute(stmt).all())
