"""Whatever arrives at the callback endpoint, the answer is never a 5xx or a traceback.

Data-driven: ``FUZZED`` lists the callbacks (by one of their outputs) that receive random
payloads; when a page lands, add its callbacks here (one line each).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.actor import Actor
from domain.auth import create_user
from tests.dash_client import DashClient
from tests.factories import TEST_PASSWORD
from tests.integration.conftest import World

FUZZED = [
    "_pages_content.children",  # the page router: any path, any query string
    "login-feedback.children",
    "account-feedback.children",
    "settings-staff.children",
    "av-clinic-view.children",
    "av-day-list.children",
    "av-clinic.value",
    "book-patient.options",
    "book-practitioner.options",
    "book-clinic.options",
    "book-duration.value",
    "book-start.options",
    "book-result.children",  # booking submit
    "cal-date.value",
    "cal-grid.children",
    "cal-panel.is_open",
    "cal-panel-body.children",
    "cal-result.data",  # status change, cancellation, reschedule
    '{"appointment":["MATCH"],"type":"cal-move-start"}.options',
    # Administration: every form's controller, and the two reads that parse input.
    "settings-feedback.children",
    "clinics-modal.is_open",
    "practitioners-modal.is_open",
    "practitioners-assign-modal.is_open",
    "schedules-modal.is_open",
    "schedules-grid.children",
    "exceptions-flash.children",
    "exceptions-zone-hint.children",
    "import-report.children",
]

HOSTILE_TEXT = [
    "<script>alert(1)</script>",
    "'; DROP TABLE appointments; --",
    "\x00",
    "\ud800",
    "x" * 20_000,
    "👩‍⚕️" * 50,
    "../../etc/passwd",
    "{{7*7}}",
]
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=2**53, max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
    | st.sampled_from(HOSTILE_TEXT)
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
PATTERN_IDS = st.dictionaries(
    st.sampled_from(["type", "id", "clinic", "where", "index"]), SCALARS, min_size=1, max_size=3
)
SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def fuzz_client(access_world: World) -> DashClient:
    """An administrator of organization A (every permission) of the fuzz test's own."""
    ctx = access_world.app.server.extensions["clinic"]
    org_a = access_world.org_ids["a"]
    create_user(
        ctx,
        actor=Actor.system(organization_id=org_a),
        organization_id=org_a,
        name="Fuzz Admin",
        email="fuzz@a.test",
        role="admin",
        password=TEST_PASSWORD,
    )
    return access_world.client("192.0.2.200").signed_in("fuzz@a.test", TEST_PASSWORD)


def _encoded(body: Any) -> bytes:
    # As a browser (or an attacker) would send it: NaN and lone surrogates included.
    return json.dumps(body).encode()


def _assert_handled(answer: Any) -> None:
    assert answer.status < 500, answer.text[:500]
    assert "Traceback" not in answer.text
    if answer.status >= 400:
        body = answer.json()  # errors are JSON the page can show
        assert set(body) == {"error", "message"}


@pytest.mark.parametrize("output", FUZZED)
@SETTINGS
@given(data=st.data())
def test_random_values_in_a_well_formed_request_never_crash_the_server(
    fuzz_client: DashClient, output: str, data: st.DataObject
) -> None:
    payload = fuzz_client.payload(output)
    declared = next(d for d in fuzz_client.dependencies() if d["output"] == payload["output"])
    for entry, dep in zip(
        payload["inputs"] + payload["state"], declared["inputs"] + declared["state"], strict=True
    ):
        if isinstance(entry, list):  # pattern-matching ALL: components with any ids
            entry.extend(
                {"id": ident, "property": dep["property"], "value": data.draw(JSON_VALUES)}
                for ident in data.draw(st.lists(PATTERN_IDS, max_size=3))
            )
        else:
            entry["value"] = data.draw(JSON_VALUES)
    _assert_handled(fuzz_client.post_callback(_encoded(payload)))


def _mutations(payload: dict[str, Any]) -> st.SearchStrategy[Any]:
    keys = sorted(payload)
    dropped = st.sampled_from(keys).map(lambda k: {x: v for x, v in payload.items() if x != k})
    replaced = st.tuples(st.sampled_from(keys), JSON_VALUES).map(
        lambda kv: {**payload, kv[0]: kv[1]}
    )
    renamed_output = JSON_VALUES.map(lambda v: {**payload, "output": str(v)})
    return dropped | replaced | renamed_output | JSON_VALUES


@pytest.mark.parametrize("output", FUZZED)
@SETTINGS
@given(data=st.data())
def test_malformed_requests_are_answered_with_a_4xx(
    fuzz_client: DashClient, output: str, data: st.DataObject
) -> None:
    body = data.draw(_mutations(fuzz_client.payload(output)))
    _assert_handled(fuzz_client.post_callback(_encoded(body)))


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"not json",
        b"{",
        b"[]",
        b"null",
        b'{"output": null}',
        b"[" * 5000 + b"]" * 5000,
        b'{"output": "x", "inputs": "' + b"a" * (2 * 1024 * 1024) + b'"}',
        b'{"output": NaN}',
    ],
)
def test_bodies_that_are_not_callback_requests_are_refused(
    fuzz_client: DashClient, raw: bytes
) -> None:
    answer = fuzz_client.post_callback(raw)
    assert 400 <= answer.status < 500, (raw[:40], answer.status)
    _assert_handled(answer)


def test_a_known_callback_with_the_wrong_inputs_is_refused_not_run(
    fuzz_client: DashClient,
) -> None:
    payload = fuzz_client.payload("settings-staff.children")
    payload["inputs"][0]["id"] = "someone-elses-input"
    assert fuzz_client.post_callback(payload).status == 400
    payload = fuzz_client.payload("settings-staff.children")
    payload["inputs"] = []
    assert fuzz_client.post_callback(payload).status == 400
    payload = fuzz_client.payload("navbar-collapse.is_open")  # a browser-side callback
    answer = fuzz_client.post_callback(payload)
    assert answer.status == 400 and json.loads(answer.text)["error"] == "bad-request"
