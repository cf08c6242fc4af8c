"""Accounts, passwords and throttling in the domain, on both stores (and Redis)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from data.db import Database
from data.models import ActivityEvent, LoginFailure, Organization, User
from data.throttle import DatabaseThrottleStore, RedisThrottleStore, redis_client
from domain.actor import Actor
from domain.auth import (
    AccountError,
    LoginRefused,
    LoginThrottled,
    UserInfo,
    authenticate,
    change_password,
    create_user,
    deactivate_user,
    load_session_user,
)
from domain.context import AppContext
from settings import Settings
from tests.conftest import unavailable
from tests.factories import make_clinic, make_org, make_practitioner

REDIS_URL = "redis://127.0.0.1:6379/0"
START = datetime(2026, 3, 18, 15, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(params=["database", "redis"])
def throttle(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def ctx(db: Database, throttle: str) -> Iterator[AppContext]:
    settings = Settings(database_url=db.url)
    context = AppContext(settings=settings, db=db, clock=Clock())
    if throttle == "redis":
        client = redis_client(REDIS_URL)
        try:
            client.ping()  # type: ignore[attr-defined]
        except Exception as exc:  # any failure means "no Redis here"
            unavailable(f"Redis not reachable at {REDIS_URL}: {exc}")
        prefix = f"clinic-test-{uuid.uuid4().hex[:8]}"
        context.extras["login_throttle"] = RedisThrottleStore(client, prefix)
        yield context
        for key in client.scan_iter(f"{prefix}:*"):  # type: ignore[attr-defined]
            client.delete(key)  # type: ignore[attr-defined]
    else:
        yield context


@pytest.fixture
def org_id(db: Database) -> int:
    with db.transaction() as s:
        return make_org(s).id


def _create(
    ctx: AppContext, org_id: int, email: str = "Ann.Lee@Clinic.example", **kw: Any
) -> UserInfo:
    return create_user(
        ctx,
        actor=Actor.system(organization_id=org_id),
        organization_id=org_id,
        name=kw.pop("name", "Ann Lee"),
        email=email,
        role=kw.pop("role", "front-desk"),
        password=kw.pop("password", "a long enough secret"),
        **kw,
    )


def test_a_new_user_signs_in_with_any_capitalisation_of_their_email(
    ctx: AppContext, org_id: int
) -> None:
    user = _create(ctx, org_id)
    assert user.email == "ann.lee@clinic.example"
    signed_in = authenticate(ctx, "  ANN.LEE@clinic.example ", "a long enough secret", "10.0.0.1")
    assert signed_in.id == user.id and signed_in.last_login_at == START
    assert signed_in.actor == Actor(user.id, "Ann Lee", "front-desk", org_id, None)
    with ctx.db.read() as s:
        stored = s.scalars(select(User)).one()
        assert stored.password_hash.startswith("$argon2id$")
        assert "a long enough secret" not in stored.password_hash
        event = s.scalars(select(ActivityEvent)).one()
        assert (event.event_type, event.actor_name) == ("USER_CREATED", "system")


def test_wrong_password_unknown_email_and_deactivated_account_are_refused_alike(
    ctx: AppContext, org_id: int
) -> None:
    user = _create(ctx, org_id)
    _create(ctx, org_id, email="gone@clinic.example")
    deactivate_user(ctx, Actor.system(organization_id=org_id), _id_of(ctx, "gone@clinic.example"))
    messages = set()
    for email, password in [
        ("ann.lee@clinic.example", "wrong password"),
        ("nobody@clinic.example", "a long enough secret"),
        ("gone@clinic.example", "a long enough secret"),
        ("ann.lee@clinic.example", ""),
        ("ann.lee@clinic.example", "x" * 10_000),
    ]:
        with pytest.raises(LoginRefused) as err:
            authenticate(ctx, email, password, f"10.0.0.{len(messages) + 2}")
        messages.add(err.value.message)
    assert messages == {"The e-mail address or password is incorrect."}
    assert user.id


def _id_of(ctx: AppContext, email: str) -> int:
    with ctx.db.read() as s:
        return s.scalars(select(User.id).where(User.email == email)).one()


def test_the_fifth_failure_locks_the_account_from_that_address_for_the_window(
    ctx: AppContext, org_id: int
) -> None:
    _create(ctx, org_id)
    for _ in range(4):
        with pytest.raises(LoginRefused):
            authenticate(ctx, "ann.lee@clinic.example", "guess", "10.0.0.9")
    with pytest.raises(LoginThrottled) as err:
        authenticate(ctx, "ann.lee@clinic.example", "guess", "10.0.0.9")
    assert "Try again in 15 minutes" in err.value.message
    ctx.clock.now += timedelta(minutes=10)  # type: ignore[attr-defined]
    with pytest.raises(LoginThrottled, match="Try again in 5 minutes"):
        authenticate(ctx, "ann.lee@clinic.example", "a long enough secret", "10.0.0.9")
    # Another address is not affected; after the window the first one is free again.
    authenticate(ctx, "ann.lee@clinic.example", "a long enough secret", "10.0.0.10")
    ctx.clock.now += timedelta(minutes=5, seconds=1)  # type: ignore[attr-defined]
    authenticate(ctx, "ann.lee@clinic.example", "a long enough secret", "10.0.0.9")


def test_a_successful_sign_in_forgets_earlier_mistakes(ctx: AppContext, org_id: int) -> None:
    _create(ctx, org_id)
    for _ in range(4):
        with pytest.raises(LoginRefused):
            authenticate(ctx, "ann.lee@clinic.example", "typo", "10.0.0.3")
    authenticate(ctx, "ann.lee@clinic.example", "a long enough secret", "10.0.0.3")
    for _ in range(4):
        with pytest.raises(LoginRefused):
            authenticate(ctx, "ann.lee@clinic.example", "typo", "10.0.0.3")


def test_one_address_guessing_across_many_accounts_is_slowed_down(
    ctx: AppContext, org_id: int
) -> None:
    for i in range(50):
        with pytest.raises((LoginRefused, LoginThrottled)):
            authenticate(ctx, f"user{i}@clinic.example", "Summer2026!", "192.0.2.66")
    with pytest.raises(LoginThrottled):
        authenticate(ctx, "fresh@clinic.example", "Summer2026!", "192.0.2.66")


def test_changing_the_password_ends_sessions_issued_before(ctx: AppContext, org_id: int) -> None:
    user = _create(ctx, org_id)
    assert load_session_user(ctx, user.id, user.session_version) is not None
    with pytest.raises(AccountError, match="current password is incorrect"):
        change_password(ctx, user.actor, "not it", "another long secret")
    with pytest.raises(AccountError, match="at least 10"):
        change_password(ctx, user.actor, "a long enough secret", "short")
    changed = change_password(ctx, user.actor, "a long enough secret", "another long secret")
    assert changed.session_version == user.session_version + 1
    assert load_session_user(ctx, user.id, user.session_version) is None
    assert load_session_user(ctx, user.id, changed.session_version) == changed
    authenticate(ctx, "ann.lee@clinic.example", "another long secret", "10.0.0.4")


def test_accounts_are_validated_before_they_are_created(ctx: AppContext, org_id: int) -> None:
    with ctx.db.transaction() as s:
        org = s.get_one(Organization, org_id)
        mine = make_practitioner(s, org, [make_clinic(s, org)]).id
        other_org = make_org(s)
        theirs = make_practitioner(s, other_org, [make_clinic(s, other_org)]).id
    _create(ctx, org_id)
    cases = [
        ({"email": "ANN.LEE@clinic.example"}, "already exists"),
        ({"email": "not-an-email"}, "valid e-mail"),
        ({"email": "x@y.example", "role": "superuser"}, "Unknown role"),
        ({"email": "x@y.example", "role": "practitioner"}, "must be linked"),
        ({"email": "x@y.example", "role": "practitioner", "practitioner_id": theirs}, "No such"),
        ({"email": "x@y.example", "practitioner_id": mine}, "Only practitioner accounts"),
        ({"email": "x@y.example", "password": "short"}, "at least 10"),
        ({"email": "x@y.example", "name": "<b>\n</b>"}, "single line"),
    ]
    for kwargs, message in cases:
        with pytest.raises(AccountError, match=message):
            _create(ctx, org_id, **kwargs)
    doctor = _create(
        ctx, org_id, email="doc@clinic.example", role="practitioner", practitioner_id=mine
    )
    assert doctor.actor.practitioner_id == mine


def test_the_database_throttle_keeps_no_email_addresses_and_forgets_old_failures(
    db: Database,
) -> None:
    store = DatabaseThrottleStore(db)
    window = timedelta(minutes=15)
    store.record_failure(["k1", "k2"], START, window)
    store.record_failure(["k1"], START + timedelta(minutes=20), window)
    assert store.failures_since("k1", START - window) == [START + timedelta(minutes=20)]
    with db.read() as s:
        assert sorted(s.scalars(select(LoginFailure.key))) == ["k1"]


def test_production_passwords_are_hashed_with_argon2id_at_full_strength() -> None:
    from argon2 import Type, extract_parameters

    from data.seed import demo_password_hash
    from domain.auth import PRODUCTION_HASHER as production

    assert production.type is Type.ID
    assert production.memory_cost >= 64 * 1024 and production.time_cost >= 2
    params = extract_parameters(demo_password_hash("a@b.example", "secret-pass"))
    assert (params.type, params.memory_cost) == (Type.ID, production.memory_cost)


def test_guessing_the_current_password_at_an_unattended_screen_is_throttled(
    ctx: AppContext, org_id: int
) -> None:
    user = _create(ctx, org_id)
    for _ in range(5):
        with pytest.raises(AccountError):
            change_password(ctx, user.actor, "a guess", "a brand new secret")
    with pytest.raises(LoginThrottled):
        change_password(ctx, user.actor, "a long enough secret", "a brand new secret")
    ctx.clock.now += timedelta(minutes=16)  # type: ignore[attr-defined]
    change_password(ctx, user.actor, "a long enough secret", "a brand new secret")
