"""Finding a patient for a booking, by name or date of birth, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import text

from data.cache import InProcessCache
from data.db import Database
from data.patient_queries import search_patient_rows, search_statement
from domain.actor import Actor
from domain.clock import fixed_clock
from domain.context import AppContext
from domain.patients import get_patient, parse_birth_date, search_patients
from domain.permissions import PermissionDenied
from domain.text import TextError
from settings import Settings
from tests.conftest import postgresql_only
from tests.factories import make_org, make_patient


def _ctx(db: Database) -> AppContext:
    return AppContext(
        settings=Settings(database_url=db.url),
        db=db,
        clock=fixed_clock(datetime(2026, 3, 18, 15, tzinfo=UTC)),
        cache=InProcessCache(),
    )


def _desk(org_id: int) -> Actor:
    return Actor(7, "Desk", "front-desk", org_id)


@pytest.fixture
def world(db: Database) -> dict[str, int]:
    with db.transaction() as s:
        org = make_org(s)
        people = [
            ("John", "Smith", date(1980, 5, 2)),
            ("Joanna", "Smithers", date(1975, 1, 9)),
            ("Mary", "Johnson", date(1980, 5, 2)),
            ("Ann", "O'Brien", None),
            ("Zoë", "de la Cruz", date(2001, 12, 24)),
            ("Pat", "100%_Real", date(1990, 1, 1)),
        ]
        ids = {
            f"{g} {f}": make_patient(s, org, given_name=g, family_name=f, birth_date=b).id
            for g, f, b in people
        }
        other = make_org(s)
        make_patient(s, other, given_name="John", family_name="Smith", birth_date=date(1980, 5, 2))
        ids["org"], ids["other"] = org.id, other.id
    return ids


def _names(ctx: AppContext, org: int, query: str, **kw: int) -> list[str]:
    found = search_patients(ctx, org, query, actor=_desk(org), **kw)
    return [m.full_name for m in found.matches]


def test_names_match_by_prefix_of_each_word_in_any_case(db: Database, world) -> None:
    ctx, org = _ctx(db), world["org"]
    assert _names(ctx, org, "smi") == ["John Smith", "Joanna Smithers"]
    assert _names(ctx, org, "SMITH") == ["John Smith", "Joanna Smithers"]
    assert _names(ctx, org, "jo smi") == ["John Smith", "Joanna Smithers"]
    assert _names(ctx, org, "smith jo") == ["John Smith", "Joanna Smithers"]
    assert _names(ctx, org, "joh") == ["Mary Johnson", "John Smith"]
    assert _names(ctx, org, "o'b") == ["Ann O'Brien"]
    assert _names(ctx, org, "de la") == ["Zoë de la Cruz"]
    assert _names(ctx, org, "  smithers  ") == ["Joanna Smithers"]
    assert _names(ctx, org, "nobody") == []


def test_a_date_of_birth_finds_everyone_born_that_day(db: Database, world) -> None:
    ctx, org = _ctx(db), world["org"]
    assert _names(ctx, org, "1980-05-02") == ["Mary Johnson", "John Smith"]
    assert _names(ctx, org, "05/02/1980") == ["Mary Johnson", "John Smith"]
    assert _names(ctx, org, "5/2/1980 smi") == ["John Smith"]
    assert _names(ctx, org, "1980-02-30") == []  # not a date: a name that matches nobody
    assert parse_birth_date("13/01/1980") is None  # month first


def test_like_wildcards_typed_are_plain_characters(db: Database, world) -> None:
    ctx, org = _ctx(db), world["org"]
    assert _names(ctx, org, "%%") == []
    assert _names(ctx, org, "__") == []
    assert _names(ctx, org, "100%_") == ["Pat 100%_Real"]


def test_short_queries_ask_for_more_and_long_lists_say_they_are_cut(db: Database, world) -> None:
    ctx, org = _ctx(db), world["org"]
    short = search_patients(ctx, org, "s", actor=_desk(org))
    assert short.matches == [] and short.hint is not None and "2 letters" in short.hint
    cut = search_patients(ctx, org, "jo", actor=_desk(org), limit=2)
    assert len(cut.matches) == 2 and cut.truncated
    whole = search_patients(ctx, org, "jo", actor=_desk(org), limit=3)
    assert len(whole.matches) == 3 and not whole.truncated
    with pytest.raises(TextError):
        search_patients(ctx, org, "x" * 101, actor=_desk(org))


def test_only_bookers_of_the_organization_find_its_patients(db: Database, world) -> None:
    ctx, org, other = _ctx(db), world["org"], world["other"]
    assert len(search_patients(ctx, other, "smith", actor=_desk(other)).matches) == 1
    with pytest.raises(PermissionDenied):
        search_patients(ctx, org, "smith", actor=_desk(other))
    with pytest.raises(PermissionDenied):
        search_patients(ctx, org, "smith", actor=Actor(8, "Doc", "practitioner", org, 1))
    john = world["John Smith"]
    found = get_patient(ctx, org, john, actor=_desk(org))
    assert found is not None and found.label == "Smith, John · born 02 May 1980"
    assert get_patient(ctx, other, john, actor=_desk(other)) is None


# SQLite scans: it has no such expression index.
@postgresql_only
def test_postgresql_serves_name_prefixes_from_an_index(db: Database, world) -> None:
    with db.engine.connect() as conn:
        conn.execute(text("SET enable_seqscan = off"))  # the table is tiny here
        rows = search_patient_rows(conn, world["org"], ["smi"], None, 10)
        assert [r[2] for r in rows] == ["Smith", "Smithers"]
        stmt = search_statement("postgresql", world["org"], ["smi"], None, 10)
        sql = stmt.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})
        plan = "\n".join(r[0] for r in conn.execute(text(f"EXPLAIN {sql}")))
    assert "ix_patients_org_family_name_search" in plan
    assert "ix_patients_org_given_name_search" in plan
    assert "Seq Scan" not in plan
