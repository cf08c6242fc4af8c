"""The FHIR API's searches on the large organization, each beside its floor: the same rows
fetched by hand-written SQL on a raw psycopg connection (the floor does not build FHIR
JSON; the operation does, which is most of the difference).

The clock stands at the moment the bench organization was seeded (as in
``bench_availability``).
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text

from bench.bench_availability import _floor, _setup
from bench.harness import BenchEnv, Case, benchmark
from domain.fhir import service

BASE = "http://bench/fhir"
_ROWS = """
SELECT a.id, a.version, a.updated_at, a.booked_at, a.status, a.start_at, a.end_at,
       a.duration_minutes, a.date_only, a.cancellation_category, a.cancellation_reason,
       a.external_id, a.patient_id, p.given_name, p.family_name, a.practitioner_id, pr.name,
       a.clinic_id, c.name, c.timezone, t.code, t.name
FROM appointments a
JOIN patients p ON p.id = a.patient_id
JOIN practitioners pr ON pr.id = a.practitioner_id
JOIN clinics c ON c.id = a.clinic_id
JOIN appointment_types t ON t.id = a.appointment_type_id
WHERE a.organization_id = %(org)s AND {where}
ORDER BY a.start_at, a.id
LIMIT %(limit)s
"""


def _facts(env: BenchEnv) -> dict[str, Any]:
    facts = _setup(env)
    if "patient" not in facts:
        with env.db.read() as s:
            # A patient with a long history: the heaviest "all of this patient's visits".
            facts["patient"] = s.execute(
                text(
                    "SELECT patient_id FROM appointments WHERE organization_id = :o "
                    "GROUP BY patient_id ORDER BY count(*) DESC, patient_id LIMIT 1"
                ),
                {"o": facts["org"]},
            ).scalar_one()
            facts["tz"] = s.execute(
                text("SELECT timezone FROM organizations WHERE id = :o"), {"o": facts["org"]}
            ).scalar_one()
    return facts


def _search(facts: dict[str, Any], kind: str, pairs: list[tuple[str, str]]) -> Any:
    def run() -> int:
        bundle = service.search(facts["ctx"], facts["org"], kind, pairs, BASE)
        return len(bundle["entry"])

    return run


@benchmark("FHIR Appointment search: a practitioner's week (first page of 50)")
def practitioner_week(env: BenchEnv) -> Case:
    facts = _facts(env)
    day = facts["day"]
    first = day - timedelta(days=day.weekday())
    tz = ZoneInfo(facts["tz"])
    lo = datetime.combine(first, time(0), tz)
    hi = lo + timedelta(days=7)
    pairs = [
        ("practitioner", f"Practitioner/{facts['practitioner']}"),
        ("date", f"ge{first.isoformat()}"),
        ("date", f"lt{(first + timedelta(days=7)).isoformat()}"),
    ]
    sql = _ROWS.format(
        where="a.practitioner_id = %(p)s AND a.start_at >= %(lo)s AND a.start_at < %(hi)s"
    )
    params = {"org": facts["org"], "p": facts["practitioner"], "lo": lo, "hi": hi, "limit": 51}
    operation = _search(facts, "Appointment", pairs)
    assert operation() == min(len(env.sql(sql, params)), 50)
    return Case(operation=operation, floor=lambda: env.sql(sql, params), repeat=30)


@benchmark("FHIR Appointment search: the patient with the longest history (first page)")
def patient_history(env: BenchEnv) -> Case:
    facts = _facts(env)
    pairs = [("patient", f"Patient/{facts['patient']}")]
    sql = _ROWS.format(where="a.patient_id = %(pt)s")
    params = {"org": facts["org"], "pt": facts["patient"], "limit": 51}
    operation = _search(facts, "Appointment", pairs)
    assert operation() == min(len(env.sql(sql, params)), 50)
    return Case(operation=operation, floor=lambda: env.sql(sql, params), repeat=30)


@benchmark("FHIR Appointment search: page 2,000 of the whole organization (cursor)")
def deep_page(env: BenchEnv) -> Case:
    facts = _facts(env)
    skip = 100_000
    at, ident = env.sql(
        "SELECT start_at, id FROM appointments WHERE organization_id = %(org)s "
        "ORDER BY start_at, id OFFSET %(skip)s LIMIT 1",
        {"org": facts["org"], "skip": skip - 1},
    )[0]
    at = at.astimezone(UTC)
    micros = int(at.replace(microsecond=0).timestamp()) * 1_000_000 + at.microsecond
    pairs = [("_cursor", f"{micros}-{ident}")]
    sql = _ROWS.format(where="(a.start_at, a.id) > (%(at)s, %(id)s)")
    params = {"org": facts["org"], "at": at, "id": ident, "limit": 51}
    operation = _search(facts, "Appointment", pairs)
    assert operation() == 50
    return Case(operation=operation, floor=lambda: env.sql(sql, params), repeat=30)


@benchmark("FHIR Slot search: one schedule, the next 7 days (computed fresh)")
def slot_week(env: BenchEnv) -> Case:
    facts = _facts(env)
    pid, cid = facts["practitioner"], facts["clinic"]
    pairs = [("schedule", f"Schedule/{pid}-{cid}"), ("_count", "200")]
    now = facts["ctx"].clock()
    first, last = (now - timedelta(days=1)).date(), (now + timedelta(days=8)).date()
    operation = _search(facts, "Slot", pairs)
    assert operation() > 0
    return Case(operation=operation, floor=_floor(env, facts, [pid], first, last), repeat=20)
