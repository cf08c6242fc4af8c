"""The demo data: deterministic, believable, and obeying the rules it will be checked by."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from data.db import Database
from tests.conftest import DEMO_ANCHOR

# Deterministic: test_cli seeds through the `seed` command at DEMO_ANCHOR and compares
# every table with the demo these tests read (one seed instead of a second one here).


def test_demo_has_the_promised_shape(demo_db: Database) -> None:
    with demo_db.engine.connect() as conn:

        def one(sql: str) -> int:
            return int(conn.execute(text(sql)).scalar_one())

        assert one("SELECT count(*) FROM organizations") == 2
        assert one("SELECT count(*) FROM clinics") == 5
        assert one("SELECT count(DISTINCT timezone) FROM clinics") == 2
        assert 25 <= one("SELECT count(*) FROM practitioners") <= 35
        assert (
            one("""SELECT count(*) FROM (SELECT practitioner_id FROM clinic_assignments
                      GROUP BY practitioner_id HAVING count(*) > 1) t""")
            >= 3
        )
        assert 2_500 <= one("SELECT count(*) FROM patients") <= 3_500
        assert one("SELECT count(*) FROM schedules WHERE capacity = 8") >= 1
        assert one("SELECT count(*) FROM schedule_exceptions") >= 5
        # 12 months of history and 2 months ahead
        span = conn.execute(text("SELECT min(start_at), max(start_at) FROM appointments")).one()
        first, last = (v if not isinstance(v, str) else None for v in span)
        if first is not None:
            assert (DEMO_ANCHOR - first.replace(tzinfo=DEMO_ANCHOR.tzinfo)).days >= 360
            assert (last.replace(tzinfo=DEMO_ANCHOR.tzinfo) - DEMO_ANCHOR).days >= 55
        categories = {
            r[0]
            for r in conn.execute(
                text(
                    "SELECT DISTINCT cancellation_category FROM appointments"
                    " WHERE status = 'cancelled'"
                )
            )
        }
        assert categories == {"patient-initiated", "practice-initiated", "emergency", "other"}
        statuses = {r[0] for r in conn.execute(text("SELECT DISTINCT status FROM appointments"))}
        assert {"completed", "no-show", "cancelled", "booked", "confirmed", "pending"} <= statuses


def _rate(conn, where: str, group: str) -> dict[object, float]:  # type: ignore[no-untyped-def]
    rows = conn.execute(
        text(f"""
        SELECT {group} AS g,
               sum(CASE WHEN status = 'no-show' THEN 1 ELSE 0 END) * 1.0 / count(*) AS rate
        FROM appointments WHERE status IN ('completed', 'no-show') {where}
        GROUP BY {group}""")
    ).all()
    return {g: float(r) for g, r in rows}


def test_demo_no_show_rate_is_believable_and_varies(demo_db: Database) -> None:
    with demo_db.engine.connect() as conn:
        overall = _rate(conn, "", "1")[1]
        assert 0.05 <= overall <= 0.25
        if demo_db.dialect == "postgresql":
            weekday = "extract(isodow FROM start_at AT TIME ZONE 'America/New_York')"
            lead = "(start_at::date - booked_at::date) >= 8"
        else:
            weekday = "strftime('%w', start_at)"
            lead = "(julianday(date(start_at)) - julianday(date(booked_at))) >= 8"
        by_weekday = _rate(conn, "", weekday)
        assert max(by_weekday.values()) - min(by_weekday.values()) >= 0.03
        by_lead = _rate(conn, "", lead)
        assert (
            by_lead[True if demo_db.dialect == "postgresql" else 1]
            > 1.5 * by_lead[False if demo_db.dialect == "postgresql" else 0]
        )


def test_no_two_individual_visits_of_a_practitioner_overlap(demo_db: Database) -> None:
    with demo_db.engine.connect() as conn:
        clashes = conn.execute(
            text("""
            SELECT count(*) FROM (
              SELECT start_at, max(end_at) OVER (
                       PARTITION BY practitioner_id ORDER BY start_at, id
                       ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS busy_until
              FROM appointments
              WHERE status <> 'cancelled' AND duration_minutes < 90) t
            WHERE start_at < busy_until
        """)
        ).scalar_one()
    assert clashes == 0


@pytest.mark.parametrize("column", ["end_at"])
def test_end_is_start_plus_duration(demo_db: Database, column: str) -> None:
    with demo_db.engine.connect() as conn:
        rows = conn.execute(
            text(f"SELECT start_at, {column}, duration_minutes FROM appointments LIMIT 2000")
        ).all()
    for start, end, minutes in rows:
        if isinstance(start, str):
            from datetime import datetime

            start, end = datetime.fromisoformat(start), datetime.fromisoformat(end)
        assert (end - start).total_seconds() == minutes * 60


def test_the_demo_has_one_sign_in_per_role_with_the_password_the_readme_gives(
    demo_db: Database,
) -> None:
    from pathlib import Path

    from argon2 import PasswordHasher

    from data.seed import DEMO_PROFILE

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    with demo_db.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT o.name, u.role, u.email, u.password_hash, u.practitioner_id, p.name, u.name"
                " FROM users u JOIN organizations o ON o.id = u.organization_id"
                " LEFT JOIN practitioners p ON p.id = u.practitioner_id ORDER BY u.id"
            )
        ).all()
    plans = [(o.name, u) for o in DEMO_PROFILE.organizations for u in o.users]
    assert [(r[0], r[1], r[2]) for r in rows] == [(o, u.role, u.email) for o, u in plans]
    assert {r[1] for r in rows if r[0] == "Harbor Health Partners"} == {
        "admin",
        "manager",
        "coordinator",
        "front-desk",
        "practitioner",
    }
    for (_org, plan), row in zip(plans, rows, strict=True):
        assert PasswordHasher().verify(row[3], plan.password)
        assert f"`{plan.email}`" in readme and f"`{plan.password}`" in readme
        if plan.role == "practitioner":
            assert row[4] is not None and row[6] == row[5]  # the account is that doctor


def test_every_seeded_appointment_stores_its_clinic_local_facts(demo_db: Database) -> None:
    from data.local_facts import local_facts
    from data.models import Appointment, Clinic

    with demo_db.read() as s:
        zones = dict(s.execute(select(Clinic.id, Clinic.timezone)).all())
        found = s.execute(
            select(
                Appointment.clinic_id,
                Appointment.start_at,
                Appointment.booked_at,
                Appointment.date_only,
                Appointment.local_date,
                Appointment.local_hour,
                Appointment.lead_days,
            )
        ).all()
    assert len(found) > 1000
    wrong = [r for r in found if local_facts(r[1], r[2], r[3], zones[r[0]]) != (r[4], r[5], r[6])]
    assert wrong == []
