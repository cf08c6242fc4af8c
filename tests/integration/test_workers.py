"""Several app processes behind one deployment behave as one app.

Two gunicorn processes (``gunicorn.conf.py``, one worker each) share PostgreSQL, Redis and
SECRET_KEY and nothing else; the test picks which process answers each request. Consistency
checks for bookings and availability plug into the ``workers`` fixture the same way:
sign in on ``workers.client(0)`` and book, sign in on ``workers.client(1)`` and read
availability (ids of the practitioner, clinic, patient and type are on the fixture).
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from data.db import Database
from data.migrate import upgrade
from data.models import Organization
from tests.conftest import PostgresServer, unavailable
from tests.dash_client import DashClient
from tests.factories import (
    TEST_PASSWORD,
    make_clinic,
    make_org,
    make_patient,
    make_practitioner,
    make_schedule,
    make_staff,
    make_type,
    make_user,
)
from tests.servers import BOOT_SECONDS, GunicornCluster, GunicornServer, wait_until

pytestmark = pytest.mark.postgres_only

REDIS_URL = "redis://127.0.0.1:6379/0"


def _redis_or_skip() -> None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.exceptions.RedisError as exc:
        unavailable(f"Redis not reachable at {REDIS_URL}: {exc}")


@dataclass
class Deployment:
    """Two app processes over one organization: a clinic, a practitioner working
    Monday-Friday 09:00-17:00 in 30-minute slots, a patient, a follow-up type, and one
    account per role (``<role>@workers.test``, password ``TEST_PASSWORD``)."""

    cluster: GunicornCluster
    database_url: str
    org_id: int
    clinic_id: int
    practitioner_id: int
    patient_id: int
    type_id: int

    def client(self, i: int) -> DashClient:
        return self.cluster.client(i)

    @property
    def servers(self) -> list[GunicornServer]:
        return self.cluster.servers


@pytest.fixture(scope="module")
def workers(
    pg_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    _redis_or_skip()
    url = pg_server.create_database("workers")
    upgrade(url)
    db = Database(url)
    with db.transaction() as s:
        org = make_org(s, name="Two Workers Clinic")
        clinic = make_clinic(s, org)
        prac = make_practitioner(s, org, [clinic])
        make_schedule(s, prac, clinic)
        make_staff(s, org, prac, "workers.test")
        ids = (org.id, clinic.id, prac.id, make_patient(s, org).id, make_type(s, org).id)
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
        yield Deployment(c, url, *ids)


def test_two_processes_serve_the_app_from_the_production_configuration(
    workers: Deployment,
) -> None:
    for server in workers.servers:
        assert server.client().get("/healthz").json() == {"status": "ok"}
        login = server.client().get("/login")
        assert login.status == 200 and "Clinic scheduling" in login.text
        assert server.client().get("/settings").status == 302


def test_a_session_started_on_one_process_is_valid_on_the_other(workers: Deployment) -> None:
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


def test_failed_sign_ins_on_one_process_count_on_the_other(workers: Deployment) -> None:
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
    workers: Deployment,
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


def test_one_server_runs_several_workers_that_share_sessions(
    workers: Deployment, tmp_path: Path
) -> None:
    env = {**workers.servers[0].env, "WORKERS": "2", "LOG_LEVEL": "info"}
    server = GunicornServer(env, tmp_path / "gunicorn-2-workers.log")
    server.start()
    try:
        wait_until(server.healthy, BOOT_SECONDS, "gunicorn with two workers")
        wait_until(lambda: server.log().count("Booting worker with pid") == 2, 30, "2 workers")
        client = server.client().signed_in("manager@workers.test", TEST_PASSWORD)
        # New connection per request, so the kernel hands them to either worker.
        client.transport.session.headers["Connection"] = "close"
        assert {client.get("/settings").status for _ in range(12)} == {200}
    finally:
        server.stop()


# --------------------------------------------------------------------------- consistency
# Each request below names the process that serves it (two gunicorn masters, one worker
# each, on their own ports): what one process writes, the other must show on its very next
# request, although both cache availability (shared in Redis, invalidated on writes).


CLINIC_ZONE = "America/New_York"  # tests.factories.make_org's zone, which the clinic takes


def _open_day() -> date:
    """A weekday a week or more ahead in the clinic's zone: within the horizon and far
    past any notice, so only bookings and the buffer decide which times are open."""
    day = datetime.now(ZoneInfo(CLINIC_ZONE)).date() + timedelta(days=7)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def _open_times(client: DashClient, deployment: Deployment, day: date) -> dict[str, str]:
    """The booking page's open times (label "HH:MM" -> start value) as one process
    computes them for the practitioner, clinic and follow-up type."""
    answer = client.call(
        "book-start.options",
        {
            "book-practitioner.value": deployment.practitioner_id,
            "book-clinic.value": deployment.clinic_id,
            "book-date.value": day.isoformat(),
            "book-appointment_type.value": deployment.type_id,
            "book-duration.value": 30,
            "book-booked.data": None,
        },
    )
    assert answer.status == 200, answer.text
    return {o["label"]: o["value"] for o in answer.output("book-start.options") or []}


def _set_buffer(client: DashClient, minutes: int) -> str:
    answer = client.call(
        "settings-feedback.children",
        {"settings-save.n_clicks": 1},
        {
            "settings-buffer_minutes.value": minutes,
            "settings-min_notice_minutes.value": 0,
            "settings-booking_horizon_days.value": 365,
            "settings-hold_minutes.value": 5,
            "settings-waitlist_offer_minutes.value": 120,
            "settings-notifications.value": ["notify_practitioner", "notify_patient"],
        },
    )
    assert answer.status == 200, answer.text
    return answer.text


def test_a_booking_and_a_buffer_change_on_one_process_show_at_once_on_the_other(
    workers: Deployment,
) -> None:
    # An account of its own: the sign-in throttling test locks coordinator@ from here.
    db = Database(workers.database_url)
    with db.transaction() as s:
        make_user(s, s.get_one(Organization, workers.org_id), "coordinator", email="booker@x.test")
    db.dispose()
    first = workers.client(0).signed_in("booker@x.test", TEST_PASSWORD)
    second = workers.client(1).signed_in("booker@x.test", TEST_PASSWORD)
    admin = workers.client(0).signed_in("admin@workers.test", TEST_PASSWORD)
    day = _open_day()
    # Both processes have read (and cached) the day before anything changes.
    before = _open_times(second, workers, day)
    assert before == _open_times(first, workers, day)
    assert {"09:30", "10:00", "10:30"} <= set(before) and len(before) == 16

    booked = first.call(
        "book-result.children",
        {"book-submit.n_clicks": 1},
        {
            "book-patient.value": workers.patient_id,
            "book-practitioner.value": workers.practitioner_id,
            "book-clinic.value": workers.clinic_id,
            "book-appointment_type.value": workers.type_id,
            "book-duration.value": 30,
            "book-start.value": before["10:00"],
            "book-notes.value": None,
        },
    )
    assert "Appointment booked" in booked.text, booked.text
    after_booking = _open_times(second, workers, day)
    assert set(before) - set(after_booking) == {"10:00"}
    # The other process refuses the taken time too, instead of booking it twice.
    again = second.call(
        "book-result.children",
        {"book-submit.n_clicks": 1},
        {
            "book-patient.value": workers.patient_id,
            "book-practitioner.value": workers.practitioner_id,
            "book-clinic.value": workers.clinic_id,
            "book-appointment_type.value": workers.type_id,
            "book-duration.value": 30,
            "book-start.value": before["10:00"],
            "book-notes.value": None,
        },
    )
    assert "Appointment booked" not in again.text
    assert again.output("book-start-error.children")

    try:
        assert "Settings saved" in _set_buffer(admin, 30)
        # A 30-minute buffer keeps the half hours either side of the visit free.
        with_buffer = _open_times(second, workers, day)
        assert set(after_booking) - set(with_buffer) == {"09:30", "10:30"}
        assert _open_times(first, workers, day) == with_buffer
    finally:
        assert "Settings saved" in _set_buffer(admin, 0)
    assert _open_times(second, workers, day) == after_booking
