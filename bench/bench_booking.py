"""Booking: ``create_appointment`` on the large organization, beside the raw SQL of the
same reads and writes, and the rate of successful bookings with 8 concurrent clients.

Every booking here is real (committed, so locks, constraint checks and commit cost are
measured) and marked with the notes ``bench:booking``; they are deleted again at the end
of the run, and any left over by an interrupted run are deleted at the start of the next.
Candidate slots come from the availability engine (open slots 40+ days ahead, where the
seeded calendar is sparse), so each timed booking succeeds.
"""

from __future__ import annotations

import atexit
import random
import statistics
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from sqlalchemy import select
from sqlalchemy.engine import make_url

from bench.harness import BenchEnv, Case, benchmark
from data.local_facts import local_facts
from data.models import AppointmentType, Organization, Patient
from domain.actor import Actor
from domain.appointments import create_appointment
from domain.availability import get_practitioner_slots_range
from domain.errors import BookingError

MARK = "bench:booking"
ACTOR = Actor.system("bench")
CLIENTS = 8


@dataclass(frozen=True)
class Candidate:
    practitioner_id: int
    clinic_id: int
    start: datetime
    patient_id: int


def cleanup(raw: psycopg.Connection) -> int:
    """Delete every appointment this benchmark created, with its events, notifications
    and series, and the holds the benchmark's sign-ins left (the callback benchmark signs
    in as the large organization's demo accounts)."""
    with raw.transaction(), raw.cursor() as cur:
        cur.execute(
            "DELETE FROM slot_holds WHERE user_id IN (SELECT id FROM users WHERE email LIKE %s)",
            ("%@metro.example",),
        )
        cur.execute("SELECT id, series_id FROM appointments WHERE notes = %s", (MARK,))
        found = cur.fetchall()
        ids = [r[0] for r in found]
        series = sorted({r[1] for r in found if r[1] is not None})
        if not ids:
            return 0
        cur.execute(
            "DELETE FROM notifications WHERE event_id IN "
            "(SELECT id FROM activity_events WHERE appointment_id = ANY(%s))",
            (ids,),
        )
        cur.execute("DELETE FROM activity_events WHERE appointment_id = ANY(%s)", (ids,))
        cur.execute("DELETE FROM encounters WHERE appointment_id = ANY(%s)", (ids,))
        cur.execute("DELETE FROM appointments WHERE id = ANY(%s)", (ids,))
        cur.execute("DELETE FROM appointment_series WHERE id = ANY(%s)", (series,))
    return len(ids)


def _cleanup_at_exit(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as raw:
        removed = cleanup(raw)
    print(f"bench_booking: deleted the {removed} bookings it made", flush=True)


def _setup(env: BenchEnv) -> dict[str, Any]:
    """Once per run: the organization, a type, and a shuffled pool of free slots."""
    if "booking" in env.facts:
        return env.facts["booking"]
    removed = cleanup(env.raw)
    if removed:
        print(f"    removed {removed} bookings left by an interrupted run", flush=True)
    url = make_url(env.db.url).set(drivername="postgresql")
    atexit.register(_cleanup_at_exit, url.render_as_string(hide_password=False))
    rng = random.Random(20240601)
    with env.db.read() as s:
        org = s.scalars(
            select(Organization).where(Organization.name == "Metro Health System")
        ).one()
        org_id, org_tz = org.id, org.timezone
        type_id = s.scalars(
            select(AppointmentType.id).where(
                AppointmentType.organization_id == org_id, AppointmentType.code == "follow-up"
            )
        ).one()
        patients = list(
            s.scalars(select(Patient.id).where(Patient.organization_id == org_id).limit(50_000))
        )
    practitioners = [
        r[0]
        for r in env.sql(
            "SELECT DISTINCT s.practitioner_id FROM schedules s JOIN practitioners p "
            "ON p.id = s.practitioner_id WHERE p.organization_id = %s AND p.active "
            "ORDER BY 1",
            (org_id,),
        )
    ]
    today = datetime.now(UTC).date()
    first, last = today + timedelta(days=40), today + timedelta(days=54)
    pool: list[Candidate] = []
    for pid in rng.sample(practitioners, 24):
        days = get_practitioner_slots_range(env.ctx, org_id, pid, first, last)
        for slots in days.values():
            pool += [
                Candidate(pid, sl.clinic_id, sl.start, rng.choice(patients))
                for sl in slots
                if sl.capacity == 1 and sl.appointment_type_id is None
            ]
    rng.shuffle(pool)
    facts = {"org_id": org_id, "org_tz": org_tz, "type_id": type_id, "pool": pool}
    env.facts["booking"] = facts
    print(f"    {len(pool)} free slots 40-54 days ahead as candidates", flush=True)
    return facts


def _take(facts: dict[str, Any], n: int = 1) -> list[Candidate]:
    pool = facts["pool"]
    if len(pool) < n:
        raise RuntimeError("ran out of free candidate slots; lower --repeat")
    out, facts["pool"] = pool[:n], pool[n:]
    return out


def _book(env: BenchEnv, facts: dict[str, Any], c: Candidate) -> bool:
    try:
        create_appointment(
            env.ctx,
            facts["org_id"],
            patient_id=c.patient_id,
            practitioner_id=c.practitioner_id,
            clinic_id=c.clinic_id,
            start=c.start,
            appointment_type_id=facts["type_id"],
            actor=ACTOR,
            notes=MARK,
        )
        return True
    except BookingError as exc:
        # A candidate can be lost to a patient who is busy then (rare); say so.
        facts.setdefault("refused", []).append(exc.code)
        return False


# The raw SQL of one booking: the same reads (locks included) and the same inserts, in one
# transaction, on a plain psycopg connection.
_FLOOR_READS = (
    ("SELECT id, settings, buffer_minutes FROM organizations WHERE id = %(org)s", None),
    (
        "SELECT id, name, active FROM practitioners WHERE id = %(pid)s "
        "AND organization_id = %(org)s FOR NO KEY UPDATE",
        None,
    ),
    (
        "SELECT id, given_name, family_name, email FROM patients WHERE id = %(patient)s "
        "AND organization_id = %(org)s FOR NO KEY UPDATE",
        None,
    ),
    ("SELECT id, name, timezone, active FROM clinics WHERE id = %(cid)s", None),
    (
        "SELECT active_from, active_to FROM clinic_assignments "
        "WHERE practitioner_id = %(pid)s AND clinic_id = %(cid)s",
        None,
    ),
    ("SELECT id, name, active FROM appointment_types WHERE id = %(type)s", None),
    (
        "SELECT s.* FROM schedules s JOIN clinic_assignments a ON a.practitioner_id = "
        "s.practitioner_id AND a.clinic_id = s.clinic_id WHERE s.practitioner_id = %(pid)s "
        "AND s.weekday = ANY(%(weekdays)s)",
        None,
    ),
    (
        "SELECT id, practitioner_id, clinic_id, start_at, end_at, reason, note "
        "FROM schedule_exceptions WHERE organization_id = %(org)s AND start_at < %(hi)s "
        "AND end_at > %(lo)s AND (practitioner_id IS NULL OR practitioner_id = %(pid)s)",
        None,
    ),
    (
        "SELECT id, practitioner_id, clinic_id, start_at, end_at FROM appointments "
        "WHERE organization_id = %(org)s AND practitioner_id = %(pid)s "
        "AND status <> 'cancelled' AND start_at >= %(reach)s AND start_at < %(hi)s "
        "AND end_at > %(lo)s",
        None,
    ),
    (
        "SELECT id FROM appointments WHERE organization_id = %(org)s "
        "AND patient_id = %(patient)s AND status IN "
        "('pending', 'booked', 'confirmed', 'arrived', 'in-progress') "
        "AND start_at < %(end)s AND end_at > %(start)s LIMIT 1",
        None,
    ),
)


def _floor(env: BenchEnv, facts: dict[str, Any], c: Candidate) -> None:
    now = datetime.now(UTC)
    end = c.start + timedelta(minutes=20)
    day = c.start.date()
    p = {
        "org": facts["org_id"],
        "pid": c.practitioner_id,
        "patient": c.patient_id,
        "cid": c.clinic_id,
        "type": facts["type_id"],
        "weekdays": [(day.weekday() + k) % 7 for k in (-1, 0, 1)],
        "lo": c.start - timedelta(days=1),
        "hi": c.start + timedelta(days=1),
        "reach": c.start - timedelta(days=1, hours=12),
        "start": c.start,
        "end": end,
    }
    with env.raw.transaction(), env.raw.cursor() as cur:
        for sql, _ in _FLOOR_READS:
            cur.execute(sql, p)
            cur.fetchall()
        # The service looks the clinic's zone up for the stored local facts too.
        cur.execute("SELECT timezone FROM clinics WHERE id = %(cid)s", p)
        (zone,) = cur.fetchone()  # type: ignore[misc]
        local_date, local_hour, lead_days = local_facts(c.start, now, False, zone)
        cur.execute(
            "INSERT INTO appointments (organization_id, patient_id, practitioner_id, clinic_id, "
            "appointment_type_id, start_at, end_at, duration_minutes, status, notes, booked_at, "
            "reminder_sent, date_only, exclusive, local_date, local_hour, lead_days, "
            "created_at, updated_at, version) VALUES "
            "(%(org)s, %(patient)s, %(pid)s, %(cid)s, %(type)s, %(start)s, %(end)s, 20, "
            "'booked', %(mark)s, %(now)s, false, false, true, %(ld)s, %(lh)s, %(lead)s, "
            "%(now)s, %(now)s, 1) RETURNING id",
            {**p, "mark": MARK, "now": now, "ld": local_date, "lh": local_hour, "lead": lead_days},
        )
        (appointment_id,) = cur.fetchone()  # type: ignore[misc]
        cur.execute(
            "INSERT INTO activity_events (organization_id, event_type, appointment_id, payload, "
            "priority, actor_name, created_at) VALUES (%s, 'APPOINTMENT_CREATED', %s, %s, "
            "'normal', 'bench', %s) RETURNING id",
            (facts["org_id"], appointment_id, Jsonb({"start": c.start.isoformat()}), now),
        )
        (event_id,) = cur.fetchone()  # type: ignore[misc]
        cur.executemany(
            "INSERT INTO notifications (organization_id, event_id, recipient_kind, recipient_id, "
            "priority, channel, title, body, created_at) VALUES "
            "(%s, %s, %s, %s, 'normal', %s, 'New appointment', '', %s)",
            [
                (facts["org_id"], event_id, "practitioner", c.practitioner_id, "in-app", now),
                (facts["org_id"], event_id, "patient", c.patient_id, "email", now),
            ],
        )


@benchmark("booking: create_appointment (all checks, event, notifications)")
def booking_latency(env: BenchEnv) -> Case:
    facts = _setup(env)

    def operation() -> None:
        while not _book(env, facts, _take(facts)[0]):
            pass

    def floor() -> None:
        _floor(env, facts, _take(facts)[0])

    return Case(
        operation=operation,
        floor=floor,
        repeat=60,
        warmup=3,
        target_ms=15.0,
        note="committed bookings, deleted after the run",
    )


def _burst(env: BenchEnv, facts: dict[str, Any], work: list[list[Candidate]]) -> float:
    """Run the clients at once; successful bookings per second."""
    barrier = threading.Barrier(len(work))
    done: list[int] = []
    lock = threading.Lock()

    def client(items: list[Candidate]) -> None:
        barrier.wait()
        ok = sum(_book(env, facts, c) for c in items)
        with lock:
            done.append(ok)

    threads = [threading.Thread(target=client, args=(w,)) for w in work]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done) / (time.perf_counter() - t0)


def _throughput_case(env: BenchEnv, same_practitioner: bool) -> Case:
    facts = _setup(env)
    per_client = 12
    rates: list[float] = []
    case = Case(operation=lambda: None, repeat=3, warmup=0)

    def operation() -> None:
        if same_practitioner:
            pool = facts["pool"]
            pid = pool[0].practitioner_id
            mine = [c for c in pool if c.practitioner_id == pid][: CLIENTS * per_client]
            facts["pool"] = [c for c in pool if c not in set(mine)]
            work = [mine[k::CLIENTS] for k in range(CLIENTS)]
        else:
            batch = _take(facts, CLIENTS * per_client)
            work = [batch[k::CLIENTS] for k in range(CLIENTS)]
        rates.append(_burst(env, facts, work))
        case.note = f"{statistics.median(rates):.0f} successful bookings/s (median of bursts)"

    case.operation = operation
    return case


@benchmark(f"booking burst: {CLIENTS} clients x 12 bookings, random practitioners")
def booking_throughput(env: BenchEnv) -> Case:
    return _throughput_case(env, same_practitioner=False)


@benchmark(f"booking burst: {CLIENTS} clients x 12 bookings, one practitioner (lock)")
def booking_throughput_contended(env: BenchEnv) -> Case:
    return _throughput_case(env, same_practitioner=True)
