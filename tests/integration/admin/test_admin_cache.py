"""Every kind of administration change is seen by the very next availability read, with
the in-process cache and with Redis shared by two app processes."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import time

import pytest
from sqlalchemy import event

from data.cache import InProcessCache, RedisCache
from data.db import Database
from domain.admin import (
    create_exception,
    create_schedule_block,
    set_clinic_active,
    update_organization_settings,
)
from tests.conftest import unavailable
from tests.factories import local
from tests.integration.admin.conftest import MONDAY, SATURDAY, AdminWorld, build_world

REDIS_URL = "redis://127.0.0.1:6379/0"


def _redis(prefix: str) -> RedisCache:
    cache = RedisCache(REDIS_URL, ttl_seconds=60, prefix=prefix)
    try:
        cache.client.ping()
    except Exception as exc:  # pragma: no cover - depends on the machine
        unavailable(f"Redis not reachable at {REDIS_URL}: {exc.__class__.__name__}")
    return cache


@pytest.fixture(params=["in-process", "redis"])
def worlds(request: pytest.FixtureRequest, db: Database) -> Iterator[tuple[AdminWorld, AdminWorld]]:
    """(reader, writer): the app process that shows availability and the one where the
    admin saves the change. With Redis they are two processes sharing it; in-process
    they are one."""
    if request.param == "in-process":
        world = build_world(db, InProcessCache(ttl_seconds=600))
        yield world, world
        return
    prefix = f"test:admin:{uuid.uuid4().hex[:10]}:"
    reader_cache, writer_cache = _redis(prefix), _redis(prefix)
    reader = build_world(db, reader_cache)
    writer = AdminWorld(
        db,
        reader.org_id,
        reader.clinic_id,
        reader.phoenix_id,
        reader.practitioner_id,
        reader.patient_id,
        reader.type_id,
        reader.group_type_id,
        admin=reader.admin,
        manager=reader.manager,
        cache=writer_cache,
    )
    try:
        yield reader, writer
    finally:
        reader_cache.clear()


Change = Callable[[AdminWorld, int], object]


def _buffer(w: AdminWorld, _booked: int) -> object:
    return update_organization_settings(
        w.ctx, w.admin, w.org_id, buffer_minutes=30, min_notice_minutes=0, booking_horizon_days=365
    )


def _saturday_block(w: AdminWorld, _booked: int) -> object:
    return create_schedule_block(
        w.ctx,
        w.admin,
        w.org_id,
        practitioner_id=w.practitioner_id,
        clinic_id=w.clinic_id,
        weekday=5,
        start="09:00",
        end="10:00",
        slot_minutes=30,
    )


def _leave(w: AdminWorld, _booked: int) -> object:
    return create_exception(
        w.ctx,
        w.admin,
        w.org_id,
        reason="leave",
        practitioner_id=w.practitioner_id,
        start_date=MONDAY,
        start_time="10:00",
        end_time="11:00",
    )


def _closure(w: AdminWorld, booked: int) -> object:
    return set_clinic_active(
        w.ctx, w.admin, w.org_id, w.clinic_id, False, confirmed_appointment_ids=[booked]
    )


CHANGES: dict[str, tuple[Change, dict[str, list[str]]]] = {
    # A 09:00-09:30 visit; a 30-minute buffer pushes the next offer to 10:00.
    "buffer": (
        _buffer,
        {"monday": ["10:00", "10:30", "11:00", "11:30"], "saturday": []},
    ),
    "schedule": (
        _saturday_block,
        {"monday": ["09:30", "10:00", "10:30", "11:00", "11:30"], "saturday": ["09:00", "09:30"]},
    ),
    "exception": (
        _leave,
        {"monday": ["09:30", "11:00", "11:30"], "saturday": []},
    ),
    "clinic deactivation": (_closure, {"monday": [], "saturday": []}),
}


@pytest.mark.parametrize("kind", list(CHANGES))
def test_availability_recomputes_at_once_after_each_kind_of_change(
    worlds: tuple[AdminWorld, AdminWorld], kind: str
) -> None:
    reader, writer = worlds
    booked = reader.book(local(MONDAY, time(9)))
    change, expected = CHANGES[kind]
    before = {"monday": reader.slot_times(MONDAY), "saturday": reader.slot_times(SATURDAY)}
    assert before == {
        "monday": ["09:30", "10:00", "10:30", "11:00", "11:30"],
        "saturday": [],
    }
    # Served from the cache now: a second read does not touch the database.
    statements: list[str] = []
    listen = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(reader.db.engine, "before_cursor_execute", listen)
    try:
        assert reader.slot_times(MONDAY) == before["monday"]
    finally:
        event.remove(reader.db.engine, "before_cursor_execute", listen)
    assert statements == []
    change(writer, booked)
    after = {"monday": reader.slot_times(MONDAY), "saturday": reader.slot_times(SATURDAY)}
    assert after == expected
