"""Staff booking the last seats at the same moment: the database decides, never luck.

Each round fires 16 threads released together by a barrier at one slot; exactly the
slot's capacity succeed, every other thread gets the conflict error, and nothing else
(no deadlock, no IntegrityError, no timeout) escapes. Each race repeats ROUNDS times (env
CONCURRENCY_ROUNDS, default 20) on fresh slots of one world, so every run of the suite
is the "20 times in a loop" the lifecycle issue asks for.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from data.db import Database
from data.models import Appointment
from domain.appointments import update_appointment
from domain.errors import BookingError
from tests.integration.appointments.conftest import THURSDAY, TUESDAY, World, at, build_world

THREADS = 16
ROUNDS = int(os.environ.get("CONCURRENCY_ROUNDS", "20"))


@pytest.fixture
def crowd(db: Database) -> World:
    return build_world(db, patients=THREADS + 1)


def _race(calls: list[Callable[[], object]]) -> Counter[str]:
    """Run the calls at once; count 'ok', the BookingError codes, and anything else."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[str] = []
    lock = threading.Lock()

    def run(call: Callable[[], object]) -> None:
        barrier.wait()
        try:
            call()
            result = "ok"
        except BookingError as exc:
            result = exc.code
        except Exception as exc:  # anything else is the failure this test looks for
            result = f"{type(exc).__name__}: {exc}"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=run, args=(c,)) for c in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a booking thread hung (deadlock?)"
    return Counter(outcomes)


def _held(world: World, start: datetime) -> int:
    with world.db.read() as s:
        return int(
            s.scalar(
                select(func.count()).where(
                    Appointment.start_at == start, Appointment.status != "cancelled"
                )
            )
            or 0
        )


def _book_calls(world: World, start: datetime, **kw: object) -> list[Callable[[], object]]:
    return [
        (lambda p=p: world.book(start, patient=p, **kw))  # type: ignore[misc]
        for p in world.patient_ids[:THREADS]
    ]


def test_sixteen_clerks_racing_for_one_seat_book_it_exactly_once(crowd: World) -> None:
    for round_no in range(ROUNDS):
        # 16 half-hour slots a day, then the next Tuesday.
        start = at(TUESDAY + timedelta(weeks=round_no // 16), 9) + timedelta(
            minutes=30 * (round_no % 16)
        )
        outcomes = _race(_book_calls(crowd, start))
        assert outcomes == Counter({"ok": 1, "CONFLICT": THREADS - 1}), f"round {round_no}"
        assert _held(crowd, start) == 1, f"round {round_no}"


def test_sixteen_clerks_racing_for_a_group_of_three_fill_it_exactly(crowd: World) -> None:
    for round_no in range(ROUNDS):
        start = at(THURSDAY + timedelta(weeks=round_no), 17, 30)
        outcomes = _race(_book_calls(crowd, start, appointment_type_id=crowd.group_type_id))
        assert outcomes == Counter({"ok": 3, "CONFLICT": THREADS - 3}), f"round {round_no}"
        assert _held(crowd, start) == 3, f"round {round_no}"


def test_one_patient_booked_with_several_practitioners_at_once_gets_one(crowd: World) -> None:
    from tests.factories import make_practitioner, make_schedule

    with crowd.db.transaction() as s:
        from data.models import Clinic, Organization

        org = s.get_one(Organization, crowd.org_id)
        clinic = s.get_one(Clinic, crowd.clinic_id)
        doctors = [crowd.practitioner_id, crowd.colleague_id]
        for _ in range(6):
            p = make_practitioner(s, org, [clinic])
            make_schedule(s, p, clinic)
            doctors.append(p.id)
    start = at(TUESDAY, 11)
    outcomes = _race(
        [(lambda d=d: crowd.book(start, practitioner_id=d)) for d in doctors]  # type: ignore[misc]
    )
    assert outcomes == Counter({"ok": 1, "PATIENT_OVERLAP": len(doctors) - 1})


def test_reschedules_and_bookings_racing_for_one_seat_take_it_once(crowd: World) -> None:
    target = at(TUESDAY, 15)
    movers = [
        crowd.book(at(TUESDAY, 9) + timedelta(minutes=30 * i), patient=p).id
        for i, p in enumerate(crowd.patient_ids[:8])
    ]
    calls: list[Callable[[], object]] = [
        (
            lambda a=a: update_appointment(
                crowd.ctx, crowd.org_id, a, crowd.coordinator, start=target
            )
        )  # type: ignore[misc]
        for a in movers
    ]
    calls += [
        (lambda p=p: crowd.book(target, patient=p))  # type: ignore[misc]
        for p in crowd.patient_ids[8:THREADS]
    ]
    outcomes = _race(calls)
    assert outcomes == Counter({"ok": 1, "CONFLICT": THREADS - 1})
    assert _held(crowd, target) == 1
