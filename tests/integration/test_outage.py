"""PostgreSQL restarts under a running app: users get "try again", then it just works.

The test owns its PostgreSQL cluster (``tests.servers.ThrowawayPostgres``), so stopping
it touches nothing shared.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app import create_app
from components.errors import UNAVAILABLE_MESSAGE
from data.db import Database
from data.migrate import upgrade
from domain.context import AppContext
from settings import Settings
from tests.dash_client import DashClient
from tests.factories import TEST_PASSWORD, make_clinic, make_org, make_practitioner, make_staff
from tests.servers import ThrowawayPostgres

pytestmark = pytest.mark.postgres_only

STAFF = "settings-staff.children"


@pytest.fixture
def own_postgres() -> Iterator[ThrowawayPostgres]:
    pg = ThrowawayPostgres()
    try:
        pg.start()
        yield pg
    finally:
        pg.destroy()


def _no_traceback(text: str) -> bool:
    return "Traceback" not in text and "psycopg" not in text and "sqlalchemy" not in text


def test_a_database_restart_answers_try_again_and_the_app_recovers_by_itself(
    own_postgres: ThrowawayPostgres,
) -> None:
    url = own_postgres.create_database("clinic")
    upgrade(url)
    db = Database(url)
    with db.transaction() as s:
        org = make_org(s, name="Outage Clinic")
        make_staff(s, org, make_practitioner(s, org, [make_clinic(s, org)]), "outage.test")
    settings = Settings(database_url=url, secret_key="outage")
    app = create_app(settings, context=AppContext(settings=settings, db=db))
    admin = DashClient.for_flask(app.server).signed_in("admin@outage.test", TEST_PASSWORD)
    assert admin.call(STAFF, {"settings-show-inactive.value": False}).status == 200

    own_postgres.stop()
    try:
        refused = admin.call(STAFF, {"settings-show-inactive.value": False})
        assert refused.status == 503
        assert refused.json() == {"error": "unavailable", "message": UNAVAILABLE_MESSAGE}
        assert refused.headers["Retry-After"] == "5"
        page = admin.get("/settings")
        assert page.status == 503 and "Temporarily unavailable" in page.text
        assert _no_traceback(page.text) and _no_traceback(refused.text)
        assert admin.get("/healthz").status == 503
        newcomer = DashClient.for_flask(app.server, remote_addr="10.9.9.9")
        assert newcomer.sign_in("manager@outage.test", TEST_PASSWORD).status == 503
        # A write during the outage: refused as a whole.
        change = admin.call(
            "account-feedback.children",
            {"account-form.n_submit": 1},
            {
                "account-current.value": TEST_PASSWORD,
                "account-new.value": "changed during outage",
                "account-confirm.value": "changed during outage",
            },
        )
        assert change.status == 503
    finally:
        own_postgres.start()

    # The same session, the same process: pre-ping replaces the dead pooled connections.
    assert admin.call(STAFF, {"settings-show-inactive.value": False}).status == 200
    assert admin.get("/settings").status == 200
    assert admin.get("/healthz").status == 200
    DashClient.for_flask(app.server, remote_addr="10.9.9.10").signed_in(
        "manager@outage.test", TEST_PASSWORD
    )
    # Nothing of the refused password change was kept.
    DashClient.for_flask(app.server, remote_addr="10.9.9.11").signed_in(
        "admin@outage.test", TEST_PASSWORD
    )
    db.dispose()
