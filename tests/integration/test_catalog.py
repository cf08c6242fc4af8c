"""The pickers' lists (specialties, practitioners and their clinics, appointment types)
and the organization-wide availability overview, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from data.cache import InProcessCache
from data.db import Database
from domain.availability import get_available_clinics, get_available_clinics_range
from domain.catalog import (
    list_appointment_types,
    list_clinics,
    list_practitioners,
    list_specialties,
    practitioner_clinics,
)
from domain.clock import fixed_clock
from domain.context import AppContext
from settings import Settings
from tests.conftest import DEMO_ANCHOR
from tests.factories import (
    make_clinic,
    make_org,
    make_practitioner,
    make_schedule,
    make_type,
)

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # Monday 2 March 2026, 07:00 in New York


def _ctx(db: Database, now: datetime = NOW) -> AppContext:
    return AppContext(
        settings=Settings(database_url=db.url),
        db=db,
        clock=fixed_clock(now),
        cache=InProcessCache(),
    )


def test_pickers_list_only_what_can_be_booked_today(db: Database) -> None:
    with db.transaction() as s:
        org = make_org(s)
        main = make_clinic(s, org, name="Main")
        annex = make_clinic(s, org, name="Annex")
        closed = make_clinic(s, org, name="Closed", active=False)
        both = make_practitioner(s, org, [main, annex], name="Dr. Both", specialty="Cardiology")
        make_schedule(s, both, main, weekdays=(0,))
        make_schedule(s, both, annex, weekdays=(2,))
        retired = make_practitioner(s, org, [main], name="Dr. Retired", active=False)
        make_schedule(s, retired, main)
        moved = make_practitioner(s, org, [main, annex], name="Dr. Moved")
        # Worked at Main until last month; at the Annex from April on.
        make_schedule(s, moved, main, valid_to=date(2026, 2, 27))
        make_schedule(s, moved, annex, valid_from=date(2026, 4, 1))
        closed_only = make_practitioner(s, org, [closed], name="Dr. Closed")
        make_schedule(s, closed_only, closed)
        make_practitioner(s, org, [main], name="Dr. Unscheduled")
        make_type(s, org, "follow-up", 20)
        make_type(s, org, "new-patient", 40, name="New patient")
        make_type(s, org, "old", 10, active=False)
        other = make_org(s)
        stranger = make_practitioner(s, other, [make_clinic(s, other)], name="Dr. Elsewhere")
        ids = {
            "org": org.id,
            "main": main.id,
            "annex": annex.id,
            "both": both.id,
            "moved": moved.id,
            "retired": retired.id,
            "stranger": stranger.id,
        }
    ctx = _ctx(db)
    org_id = ids["org"]
    assert [c.name for c in list_clinics(ctx, org_id)] == ["Annex", "Main"]
    assert [(p.name, p.clinic_ids) for p in list_practitioners(ctx, org_id)] == [
        ("Dr. Both", (ids["annex"], ids["main"])),
        ("Dr. Moved", (ids["annex"],)),
    ]
    assert list_specialties(ctx, org_id) == ["Cardiology", "Family Medicine"]
    assert [p.name for p in list_practitioners(ctx, org_id, specialty="Cardiology")] == ["Dr. Both"]
    assert [p.name for p in list_practitioners(ctx, org_id, clinic_id=ids["main"])] == ["Dr. Both"]
    assert [c.name for c in practitioner_clinics(ctx, org_id, ids["both"])] == ["Annex", "Main"]
    # On a given date: the clinics whose blocks are in force that day.
    assert [c.name for c in practitioner_clinics(ctx, org_id, ids["moved"], date(2026, 2, 2))] == [
        "Main"
    ]
    assert practitioner_clinics(ctx, org_id, ids["moved"], date(2026, 3, 16)) == []
    assert practitioner_clinics(ctx, org_id, ids["retired"]) == []
    assert practitioner_clinics(ctx, org_id, ids["stranger"]) == []
    assert [(t.name, t.default_minutes) for t in list_appointment_types(ctx, org_id)] == [
        ("Follow up", 20),
        ("New patient", 40),
    ]


def test_the_organization_overview_is_each_days_available_clinics(demo_db: Database) -> None:
    ctx = _ctx(demo_db, DEMO_ANCHOR)
    first = DEMO_ANCHOR.date()
    last = first + timedelta(days=9)
    overview = get_available_clinics_range(ctx, 1, first, last)
    assert list(overview) == [first + timedelta(days=k) for k in range(10)]
    for day, rows in overview.items():
        assert rows == get_available_clinics(ctx, 1, day), day
    assert any(overview.values())
    # A specialty and a type only ever narrow it.
    group = next(t.id for t in list_appointment_types(ctx, 1) if t.is_group)
    narrowed = get_available_clinics_range(
        ctx, 1, first, last, specialty="Psychology", appointment_type_id=group
    )
    for day, rows in narrowed.items():
        wide = {a.clinic_id: a for a in overview[day]}
        for a in rows:
            assert a.open_slots <= wide[a.clinic_id].open_slots
    assert sum(len(v) for v in narrowed.values()) < sum(len(v) for v in overview.values())
