"""Several app processes behind one deployment behave as one app.

Two gunicorn processes (``gunicorn.conf.py``, one worker each) share PostgreSQL, Redis and
SECRET_KEY and nothing else; the test picks which process answers each request. Consistency
checks for bookings and availability plug into the ``workers`` fixture the same way:
``workers.client(0)`` writes, ``workers.client(1)`` reads.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from data.db import Database
from data.migrate import upgrade
from tests.conftest import PostgresServer, unavailable
from tests.factories import TEST_PASSWORD, make_clinic, make_org, make_practitioner, make_staff
from tests.servers import GunicornCluster

pytestmark = pytest.mark.postgres_only

REDIS_URL = "redis://127.0.0.1:6379/0"


def _redis_or_skip() -> None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.exceptions.RedisError as exc:
        unavailable(f"Redis not reachable at {REDIS_URL}: {exc}")


@pytest.fixture(scope="module")
def workers(
    pg_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GunicornCluster]:
    _redis_or_skip()
    url = pg_server.create_database("workers")
    upgrade(url)
    db = Database(url)
    with db.transaction() as s:
        org = make_org(s, name="Two Workers Clinic")
        make_staff(s, org, make_practitioner(s, org, [make_clinic(s, org)]), "workers.test")
    db.dispose()
    # The tests' cheap password hashes verify as cheaply in the servers (hashes carry
    # their parameters); the servers hash new passwords at full strength.
    env = {
        "DATABASE_URL": url,
        "REDIS_URL": REDIS_URL,
        "REDIS_KEY_PREFIX": f"clinic-test-{uuid.uuid4().hex[:8]}",
        "SECRET_KEY": secrets.token_urlsafe(32),
        "LOG_LEVEL": "warning",
    }
    with GunicornCluster(env, size=2, log_dir=Path(tmp_path_factory.mktemp("gunicorn"))) as c:
        yield c


def test_two_processes_serve_the_app_from_the_production_configuration(
    workers: GunicornCluster,
) -> None:
    for server in workers.servers:
        assert server.client().get("/healthz").json() == {"status": "ok"}
        login = server.client().get("/login")
        assert login.status == 200 and "Clinic scheduling" in login.text
        assert server.client().get("/settings").status == 302


def test_a_session_started_on_one_process_is_valid_on_the_other(workers: GunicornCluster) -> None:
    first = workers.client(0).signed_in("manager@workers.test", TEST_PASSWORD)
    second = workers.client(1)
    second.transport.session.cookies.update(first.transport.session.cookies)
    assert second.get("/settings").status == 200
    staff = second.call("settings-staff.children", {"settings-show-inactive.value": True})
    assert staff.status == 200 and "admin@workers.test" in staff.text
    # Signing out on one process ends the session everywhere, copies of the cookie too.
    first.sign_out()
    assert first.get("/settings").status == 302
    assert second.get("/settings").status == 302


def test_failed_sign_ins_on_one_process_count_on_the_other(workers: GunicornCluster) -> None:
    email = "coordinator@workers.test"
    for i in range(4):
        answer = workers.client(i % 2).sign_in(email, "wrong guess")
        assert "incorrect" in answer.text
    # The fifth failure, on either process, locks the account from this address.
    fifth = workers.client(0).sign_in(email, "wrong guess")
    assert "Too many failed sign-in attempts" in fifth.text
    locked = workers.client(1).sign_in(email, TEST_PASSWORD)
    assert "Too many failed sign-in attempts" in locked.text


def test_a_password_change_on_one_process_ends_the_session_on_the_other(
    workers: GunicornCluster,
) -> None:
    desk = workers.client(0).signed_in("front-desk@workers.test", TEST_PASSWORD)
    laptop = workers.client(1).signed_in("front-desk@workers.test", TEST_PASSWORD)
    changed = desk.call(
        "account-feedback.children",
        {"account-form.n_submit": 1},
        {
            "account-current.value": TEST_PASSWORD,
            "account-new.value": "a new front desk passphrase",
            "account-confirm.value": "a new front desk passphrase",
        },
    )
    assert "Password changed" in changed.text
    assert laptop.get("/account").status == 302
    assert desk.get("/account").status == 200
