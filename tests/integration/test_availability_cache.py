"""The availability cache: in-process and Redis behave alike, invalidation reaches every
process, and a reader racing a booking never leaves stale offers behind."""

from __future__ import annotations

import time as _time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

import domain.availability as availability
from data.cache import Cache, InProcessCache, RedisCache, make_cache
from data.db import Database
from data.models import AppointmentType, Clinic, Organization, Patient, Practitioner
from domain.availability import (
    get_available_clinics,
    get_practitioner_slots,
    invalidate_appointment,
    invalidate_availability,
    invalidate_organization,
    invalidate_practitioner,
)
from domain.clock import fixed_clock
from domain.context import AppContext
from settings import Settings
from tests.conftest import unavailable
from tests.factories import (
    local,
    make_appointment,
    make_clinic,
    make_exception,
    make_org,
    make_patient,
    make_practitioner,
    make_schedule,
    make_type,
)

REDIS_URL = "redis://127.0.0.1:6379/0"
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
MONDAY = date(2026, 3, 9)
RUN = uuid.uuid4().hex[:8]  # keys of this test run never meet another run's


def _redis(prefix: str) -> RedisCache:
    cache = RedisCache(REDIS_URL, ttl_seconds=60, prefix=prefix)
    try:
        cache.client.ping()
    except Exception as exc:  # pragma: no cover - depends on the machine
        unavailable(f"Redis not reachable at {REDIS_URL}: {exc.__class__.__name__}")
    return cache


@pytest.fixture(params=["in-process", "redis"])
def cache(request: pytest.FixtureRequest) -> Iterator[Cache]:
    if request.param == "in-process":
        yield InProcessCache(ttl_seconds=60)
        return
    made = _redis(f"test:{RUN}:{uuid.uuid4().hex[:6]}:")
    try:
        yield made
    finally:
        made.clear()


def test_a_cache_returns_what_was_stored_and_none_for_the_rest(cache: Cache) -> None:
    value = [[3, [[1, 2, 1, 1, None, 7]]], "x"]
    cache.set_many({"a": value, "b": 5})
    assert cache.get_many(["a", "missing", "b"]) == [value, None, 5]
    assert cache.get_many([]) == []


def test_a_value_read_many_times_follows_every_change(
    cache: Cache, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Redis keeps decoded values by their text, in a bounded memo: it must never hand
    # back a value the key no longer holds, also after the memo starts over.
    monkeypatch.setattr("data.cache.DECODED_MAX_VALUES", 2)
    offers = [[k, k + 1200, 1, 1, None, 7] for k in range(0, 12_000, 1200)]
    for round_ in range(4):
        value = [round_, 0, 0, [[3, offers[round_:]]]]
        cache.set_many({"a": value, f"other{round_}": [round_, offers]})
        assert cache.get_many(["a", "a"]) == [value, value]
    assert cache.get_many(["other0", "other3"]) == [[0, offers], [3, offers]]


def test_version_counters_count_up_from_zero(cache: Cache) -> None:
    assert cache.get_many(["v"]) == [None]
    cache.bump(["v", "w"])
    cache.bump(["v"])
    assert cache.get_many(["v", "w"]) == [2, 1]


def test_clear_forgets_everything_of_this_cache(cache: Cache) -> None:
    cache.set_many({"a": 1})
    cache.bump(["v"])
    cache.memo["m"] = 1
    cache.clear()
    assert cache.get_many(["a", "v"]) == [None, None]
    assert cache.memo == {}


def test_clear_leaves_other_prefixes_alone() -> None:
    mine, theirs = _redis(f"test:{RUN}:mine:"), _redis(f"test:{RUN}:theirs:")
    try:
        mine.set_many({"a": 1})
        theirs.set_many({"a": 2})
        mine.clear()
        assert (mine.get_many(["a"]), theirs.get_many(["a"])) == ([None], [2])
    finally:
        theirs.clear()


def test_in_process_entries_expire_and_the_size_stays_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [1000.0]
    monkeypatch.setattr("data.cache.time.monotonic", lambda: clock[0])
    cache = InProcessCache(ttl_seconds=10, max_entries=3)
    cache.set_many({"a": 1})
    clock[0] += 11
    assert cache.get_many(["a"]) == [None]
    cache.set_many({k: k for k in "bcde"})
    assert cache.get_many(list("bcde")) == [None, "c", "d", "e"]  # the oldest went first


def test_redis_entries_expire() -> None:
    cache = _redis(f"test:{RUN}:ttl:")
    try:
        cache.set_many({"a": 1}, ttl_seconds=1)
        assert cache.get_many(["a"]) == [1]
        _time.sleep(1.2)
        assert cache.get_many(["a"]) == [None]
    finally:
        cache.clear()


def test_settings_choose_the_cache() -> None:
    assert isinstance(make_cache(None, 60), InProcessCache)
    assert isinstance(make_cache(REDIS_URL, 60), RedisCache)
    shared = AppContext.from_settings(
        Settings(database_url="sqlite://", redis_url=REDIS_URL, redis_key_prefix="site-a")
    )
    alone = AppContext.from_settings(Settings(database_url="sqlite://"))
    try:
        assert isinstance(shared.cache, RedisCache) and shared.cache.ttl_seconds == 300
        assert shared.cache.prefix == "site-a:availability:"  # the deployment's namespace
        assert isinstance(alone.cache, InProcessCache)
    finally:
        shared.db.dispose()
        alone.db.dispose()


def test_an_unreachable_redis_degrades_to_computing_from_the_database(db: Database) -> None:
    w = _world(db)
    broken = RedisCache("redis://127.0.0.1:1/0", prefix=f"test:{RUN}:down:")
    ctx = AppContext(Settings(database_url=db.url), db, clock=fixed_clock(NOW), cache=broken)
    assert len(get_practitioner_slots(ctx, w["org"], w["prac"], MONDAY)) == 6
    invalidate_availability(ctx, w["org"], w["prac"], [MONDAY])  # logged, not raised


# --------------------------------------------------------------------------- services


def _world(db: Database) -> dict[str, Any]:
    with db.transaction() as s:
        org = make_org(s)
        clinic = make_clinic(s, org)
        prac = make_practitioner(s, org, [clinic])
        make_schedule(s, prac, clinic, start=time(9), end=time(12))
        return {
            "org": org.id,
            "clinic": clinic.id,
            "prac": prac.id,
            "patient": make_patient(s, org).id,
            "type": make_type(s, org).id,
        }


def _book(db: Database, w: dict[str, Any], start: datetime) -> None:
    with db.transaction() as s:
        make_appointment(
            s,
            s.get(Patient, w["patient"]),
            s.get(Practitioner, w["prac"]),
            s.get(Clinic, w["clinic"]),
            s.get(AppointmentType, w["type"]),
            start,
        )


def _ctx(db: Database, cache: Cache) -> AppContext:
    return AppContext(Settings(database_url=db.url), db, clock=fixed_clock(NOW), cache=cache)


def _local_times(ctx: AppContext, w: dict[str, Any]) -> list[str]:
    slots = get_practitioner_slots(ctx, w["org"], w["prac"], MONDAY)
    return [s.start.astimezone(ZoneInfo("America/New_York")).strftime("%H:%M") for s in slots]


def test_availability_is_served_from_the_cache_until_invalidated(
    db: Database, cache: Cache
) -> None:
    w = _world(db)
    ctx = _ctx(db, cache)
    assert "09:00" in _local_times(ctx, w)
    _book(db, w, local(MONDAY, time(9)))  # written behind the service's back
    assert "09:00" in _local_times(ctx, w)  # still the cached answer
    invalidate_appointment(
        ctx, w["org"], w["prac"], local(MONDAY, time(9)), local(MONDAY, time(9, 30))
    )
    assert "09:00" not in _local_times(ctx, w)


@pytest.mark.parametrize(
    "invalidate",
    [
        lambda ctx, w: invalidate_availability(ctx, w["org"], w["prac"], [MONDAY]),
        lambda ctx, w: invalidate_practitioner(ctx, w["org"], w["prac"]),
        lambda ctx, w: invalidate_organization(ctx, w["org"]),
    ],
    ids=["day", "practitioner", "organization"],
)
def test_each_invalidation_reaches_the_cached_day(
    db: Database, cache: Cache, invalidate: Any
) -> None:
    w = _world(db)
    ctx = _ctx(db, cache)
    assert len(_local_times(ctx, w)) == 6
    with db.transaction() as s:
        make_exception(
            s,
            s.get(Organization, w["org"]),
            local(MONDAY, time(9)),
            local(MONDAY, time(10)),
            practitioner=s.get(Practitioner, w["prac"]),
        )
    assert len(_local_times(ctx, w)) == 6
    invalidate(ctx, w)
    assert _local_times(ctx, w) == ["10:00", "10:30", "11:00", "11:30"]


def test_a_buffer_change_is_seen_at_once_through_the_organization_cache(
    db: Database, cache: Cache
) -> None:
    w = _world(db)
    _book(db, w, local(MONDAY, time(9)))
    ctx = _ctx(db, cache)
    assert _local_times(ctx, w)[0] == "09:30"
    with db.transaction() as s:
        org = s.get(Organization, w["org"])
        assert org is not None
        org.buffer_minutes = 15
    invalidate_organization(ctx, w["org"])
    assert _local_times(ctx, w)[0] == "09:45"


def test_two_app_processes_sharing_redis_see_each_others_bookings(db: Database) -> None:
    prefix = f"test:{RUN}:shared:{uuid.uuid4().hex[:6]}:"
    first, second = _redis(prefix), _redis(prefix)  # two processes, one Redis
    try:
        w = _world(db)
        ctx_a, ctx_b = _ctx(db, first), _ctx(db, second)
        assert "09:00" in _local_times(ctx_a, w)
        assert "09:00" in _local_times(ctx_b, w)
        _book(db, w, local(MONDAY, time(9)))
        invalidate_appointment(
            ctx_b, w["org"], w["prac"], local(MONDAY, time(9)), local(MONDAY, time(9, 30))
        )
        assert "09:00" not in _local_times(ctx_a, w)
        # Settings changed through one process reach the other's memoized directory.
        with db.transaction() as s:
            org = s.get(Organization, w["org"])
            assert org is not None
            org.buffer_minutes = 15
        invalidate_organization(ctx_a, w["org"])
        assert _local_times(ctx_b, w)[0] == "09:45"
    finally:
        first.clear()


def test_a_reader_that_raced_a_booking_never_leaves_stale_offers_behind(
    db: Database, cache: Cache, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = _world(db)
    ctx = _ctx(db, cache)
    real = availability.offers_from_rows
    raced = []

    def booking_commits_meanwhile(*args: Any, **kw: Any) -> Any:
        # The reader has fetched its rows; a booking commits and invalidates before the
        # reader stores what it computed from the older rows.
        result = real(*args, **kw)
        if not raced:
            raced.append(True)
            _book(db, w, local(MONDAY, time(9)))
            invalidate_availability(ctx, w["org"], w["prac"], [MONDAY])
        return result

    monkeypatch.setattr(availability, "offers_from_rows", booking_commits_meanwhile)
    assert "09:00" in _local_times(ctx, w)  # computed before the booking: fine once
    assert "09:00" not in _local_times(ctx, w)  # but never served from the cache


def test_available_clinics_reuse_the_per_practitioner_entries(db: Database, cache: Cache) -> None:
    w = _world(db)
    ctx = _ctx(db, cache)
    get_practitioner_slots(ctx, w["org"], w["prac"], MONDAY)
    (clinic,) = get_available_clinics(ctx, w["org"], MONDAY)
    assert clinic.open_slots == 6
    _book(db, w, local(MONDAY, time(11)))
    invalidate_availability(ctx, w["org"], w["prac"], [MONDAY - timedelta(days=1), MONDAY])
    (clinic,) = get_available_clinics(ctx, w["org"], MONDAY)
    assert clinic.open_slots == 5
