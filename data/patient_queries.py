"""Patient look-up for the booking form's type-ahead: one indexed statement, bounded.

Names match by prefix, case-insensitively ("jo smi" finds John Smith; see
``search_statement``). On PostgreSQL the lower-cased names compare in
byte order (``COLLATE "C"``), which is what lets the expression indexes of revision
7dbf440fd226 serve ``LIKE 'smi%'`` whatever the database's collation; SQLite's LIKE
is already case-insensitive for ASCII and its organizations are small enough to scan.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import Connection, Select, and_, func, or_, select, union
from sqlalchemy.sql.elements import ColumnElement

from data.models import Patient

_COLUMNS = (
    Patient.id,
    Patient.given_name,
    Patient.family_name,
    Patient.birth_date,
    Patient.birth_date_estimated,
    Patient.phone,
    Patient.external_id,
)


# Words beyond this are ignored: each one adds two index scans.
MAX_WORDS = 4


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _lowered(column: Any, dialect: str) -> ColumnElement[str]:
    lowered = func.lower(column)
    return lowered.collate("C") if dialect == "postgresql" else lowered


def search_statement(
    dialect: str,
    organization_id: int,
    name_words: Sequence[str],
    birth_date: date | None,
    limit: int,
) -> Select:  # type: ignore[type-arg]
    """Up to ``limit`` patients of the organization whose names start with every one of
    ``name_words`` (lower case) and, when given, born on ``birth_date``; ordered by
    family name, given name, birth date.

    A patient matches when one word starts the given or the family name and every other
    word starts one of the words of either ("de la" finds "Zoë de la Cruz").

    Shaped for the indexes: a date of birth drives the (organization, birth date) index;
    otherwise each word drives two bounded range scans, on family and on given names,
    whose union is sorted (a single scan with "family OR given" makes PostgreSQL walk a
    whole name index when it misjudges how rare a prefix is).
    """
    family = _lowered(Patient.family_name, dialect)
    given = _lowered(Patient.given_name, dialect)

    def starts(column: ColumnElement[str], word: str) -> ColumnElement[bool]:
        return column.like(_like_escape(word) + "%", escape="\\")

    def inside(column: ColumnElement[str], word: str) -> list[ColumnElement[bool]]:
        return [column.like(f"%{sep}{_like_escape(word)}%", escape="\\") for sep in (" ", "-")]

    def anywhere(word: str) -> ColumnElement[bool]:
        """The word starts a name or a word of it ("la" in "de la Cruz")."""
        return or_(starts(family, word), starts(given, word), *inside(family, word),
                   *inside(given, word))  # fmt: skip

    base: list[ColumnElement[bool]] = [Patient.organization_id == organization_id]
    words = list(dict.fromkeys(name_words))[:MAX_WORDS]
    if birth_date is not None or not words:
        where = [*base, *(anywhere(w) for w in words)]
        if birth_date is not None:
            where.append(Patient.birth_date == birth_date)
        return (
            select(*_COLUMNS)
            .where(and_(*where))
            .order_by(Patient.family_name, Patient.given_name, Patient.birth_date, Patient.id)
            .limit(limit)
        )
    branches = []
    for word in words:
        rest = [anywhere(w) for w in words if w != word]
        for column, other in ((family, given), (given, family)):
            branches.append(
                select(
                    select(*_COLUMNS)
                    .where(*base, starts(column, word), *rest)
                    .order_by(column, other, Patient.id)
                    .limit(limit)
                    .subquery()
                )
            )
    both = union(*branches).subquery()
    return (
        select(*both.c)
        .order_by(both.c.family_name, both.c.given_name, both.c.birth_date, both.c.id)
        .limit(limit)
    )


def search_patient_rows(
    conn: Connection,
    organization_id: int,
    name_words: Sequence[str],
    birth_date: date | None,
    limit: int,
) -> list[tuple[Any, ...]]:
    """The rows of ``search_statement``."""
    stmt = search_statement(conn.dialect.name, organization_id, name_words, birth_date, limit)
    return [tuple(r) for r in conn.execute(stmt)]


def patient_row(conn: Connection, organization_id: int, patient_id: int) -> tuple[Any, ...] | None:
    row = conn.execute(
        select(*_COLUMNS).where(
            Patient.id == patient_id, Patient.organization_id == organization_id
        )
    ).first()
    return tuple(row) if row else None
