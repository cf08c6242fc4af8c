"""The FHIR R4 read API over HTTP, with two organizations.

Every resource the API returns in these tests goes through ``validated``: the R4 models of
``fhir.resources`` (its ``R4B`` package: 8.x defaults to R5; R4B has the same Appointment,
Slot, Schedule, Bundle and OperationOutcome as R4 4.0.1) plus the code lists the models do
not check (appointment, participant and slot statuses).

The app's clock: Wednesday 18 March 2026, 11:00 in New York (15:00 UTC). Each organization
has a clinic, a practitioner working weekdays 09:00-17:00 in 30-minute slots and a patient.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from fhir.resources.R4B import get_fhir_model_class
from sqlalchemy import select

from data.models import (
    Appointment,
    Clinic,
    Organization,
    Patient,
    Practitioner,
)
from domain.actor import Actor
from domain.api_tokens import create_api_token, revoke_api_token
from domain.availability import get_practitioner_slots_range
from domain.fhir.resources import (
    FHIR_APPOINTMENT_STATUSES,
    SLOT_STATUSES,
    WORKFLOW_STATUS_URL,
)
from tests.factories import (
    local,
    make_appointment,
    make_exception,
    make_patient,
    make_type,
)
from tests.integration.conftest import World

PARTICIPATION_STATUSES = ("accepted", "declined", "tentative", "needs-action")
MONDAY, TUESDAY, WEDNESDAY = date(2026, 3, 16), date(2026, 3, 17), date(2026, 3, 18)
THURSDAY, FRIDAY, NEXT_MONDAY = date(2026, 3, 19), date(2026, 3, 20), date(2026, 3, 23)


def validated(resource: dict[str, Any]) -> dict[str, Any]:
    """Check a resource against the R4 model of its type (and its entries, for a Bundle)."""
    kind = resource["resourceType"]
    get_fhir_model_class(kind).model_validate(resource)
    if kind == "Bundle":
        for entry in resource.get("entry", []):
            validated(entry["resource"])
            assert entry["fullUrl"].endswith(
                f"/{entry['resource']['resourceType']}/{entry['resource']['id']}"
            )
    elif kind == "Appointment":
        assert resource["status"] in FHIR_APPOINTMENT_STATUSES
        assert all(p["status"] in PARTICIPATION_STATUSES for p in resource["participant"])
    elif kind == "Slot":
        assert resource["status"] in SLOT_STATUSES
    elif kind == "OperationOutcome":
        assert resource["issue"] and all(i["severity"] == "error" for i in resource["issue"])
    return resource


@dataclass
class Answer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]


@dataclass
class Fhir:
    world: World
    tokens: dict[str, str]
    # "a"/"b" -> what was made there
    appointments: dict[str, dict[str, int]] = field(default_factory=dict)
    patients: dict[str, list[int]] = field(default_factory=dict)

    def get(self, path: str, org: str | None = "a", token: str | None = None, **kw: Any) -> Answer:
        headers = dict(kw.pop("headers", {}))
        if token is None and org is not None:
            token = self.tokens[org]
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        method = kw.pop("method", "GET")
        response = self.world.app.server.test_client().open(
            path, method=method, headers=headers, **kw
        )
        body = response.get_json(force=True, silent=True) or {}
        assert response.headers["Content-Type"].startswith("application/fhir+json"), path
        return Answer(
            response.status_code, validated(body) if body else body, dict(response.headers)
        )

    def ok(self, path: str, org: str = "a") -> dict[str, Any]:
        answer = self.get(path, org)
        assert answer.status == 200, (path, answer.body)
        return answer.body

    def all_pages(self, path: str, org: str = "a") -> list[dict[str, Any]]:
        """Every resource of a search, following next links."""
        found: list[dict[str, Any]] = []
        while path:
            page = self.ok(path, org)
            found += [e["resource"] for e in page["entry"]]
            following = [link["url"] for link in page["link"] if link["relation"] == "next"]
            path = ""
            if following:
                parts = urlsplit(following[0])
                path = f"{parts.path}?{parts.query}"
        return found


def _add(s: Any, key: str, world: World) -> tuple[dict[str, int], list[int]]:
    org = s.get_one(Organization, world.org_ids[key])
    clinic = s.get_one(Clinic, world.clinic_ids[key])
    prac = s.get_one(Practitioner, world.practitioner_ids[key])
    patient = s.get_one(Patient, world.patient_ids[key])
    second = make_patient(s, org, given_name="Second", family_name=f"Patient {key.upper()}")
    kind = make_type(s, org, "follow-up", 30)

    def appt(
        day: date, hour: int, minute: int, status: str, who: Patient = patient, **kw: Any
    ) -> int:
        start = local(day, time(hour, minute))
        booked_at = kw.pop("booked_at", local(MONDAY, time(8)) - timedelta(days=7))
        return make_appointment(
            s, who, prac, clinic, kind, start, status=status, booked_at=booked_at, **kw
        ).id

    made = {
        "completed": appt(MONDAY, 10, 0, "completed"),
        "no-show": appt(MONDAY, 11, 0, "no-show"),
        "cancelled-patient": appt(
            TUESDAY, 10, 0, "cancelled", cancellation_category="patient-initiated"
        ),
        "in-progress": appt(WEDNESDAY, 9, 0, "in-progress"),
        "arrived": appt(WEDNESDAY, 9, 30, "arrived", who=second),
        "booked": appt(THURSDAY, 10, 0, "booked"),
        "confirmed": appt(THURSDAY, 10, 30, "confirmed", who=second),
        "pending": appt(THURSDAY, 11, 0, "pending"),
        "cancelled-practice": appt(
            FRIDAY,
            10,
            0,
            "cancelled",
            cancellation_category="practice-initiated",
            cancellation_reason="Doctor ill",
        ),
        "cancelled-emergency": appt(FRIDAY, 10, 30, "cancelled", cancellation_category="emergency"),
        "cancelled-unknown": appt(FRIDAY, 11, 0, "cancelled"),
    }
    # Leave all of next Monday: its slots are unavailable.
    make_exception(
        s,
        org,
        local(NEXT_MONDAY, time(0)),
        local(NEXT_MONDAY + timedelta(days=1), time(0)),
        practitioner=prac,
    )
    return made, [patient.id, second.id]


@pytest.fixture(scope="module")
def fhir(access_world: World) -> Fhir:
    system = {k: Actor.system("tests", oid) for k, oid in access_world.org_ids.items()}
    tokens = {
        k: create_api_token(
            access_world.app.server.extensions["clinic"], system[k], oid, f"EHR {k}"
        ).token
        for k, oid in access_world.org_ids.items()
    }
    api = Fhir(access_world, tokens)
    with access_world.db.transaction() as s:
        for key in ("a", "b"):
            api.appointments[key], api.patients[key] = _add(s, key, access_world)
    return api


def _ref_ids(resources: list[dict[str, Any]], kind: str) -> set[str]:
    """The ids of every ``kind`` a list of resources refers to."""
    found = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("reference")
            if isinstance(ref, str) and ref.startswith(f"{kind}/"):
                found.add(ref.split("/", 1)[1])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(resources)
    return found


# --------------------------------------------------------------------------- tests


def test_the_capability_statement_needs_no_token_and_is_valid_r4(fhir: Fhir) -> None:
    statement = fhir.get("/fhir/metadata", org=None)
    assert statement.status == 200
    assert statement.body["fhirVersion"] == "4.0.1"
    kinds = {r["type"] for r in statement.body["rest"][0]["resource"]}
    assert kinds == {"Appointment", "Schedule", "Slot"}


def test_every_resource_returned_is_valid_r4_and_statuses_map_as_documented(fhir: Fhir) -> None:
    made = fhir.appointments["a"]
    everything = fhir.all_pages("/fhir/Appointment")  # validated page by page
    assert {r["id"] for r in everything} == {str(i) for i in made.values()}
    by_id = {int(r["id"]): r for r in everything}
    expected = {
        "completed": "fulfilled",
        "no-show": "noshow",
        "cancelled-patient": "cancelled",
        "in-progress": "arrived",
        "arrived": "arrived",
        "booked": "booked",
        "confirmed": "booked",
        "pending": "pending",
    }
    for name, status in expected.items():
        resource = by_id[made[name]]
        assert resource["status"] == status, name
        (ext,) = [e for e in resource["extension"] if e["url"] == WORKFLOW_STATUS_URL]
        assert ext["valueCode"] == ("cancelled" if name.startswith("cancelled") else name)
    reasons = {
        name: by_id[made[name]]["cancelationReason"]
        for name in made
        if name.startswith("cancelled")
    }
    codes = {
        name: [
            c["code"]
            for c in r.get("coding", [])
            if "appointment-cancellation-reason" in c["system"]
        ]
        for name, r in reasons.items()
    }
    assert codes == {
        "cancelled-patient": ["pat"],
        "cancelled-practice": ["prov"],
        "cancelled-emergency": ["other"],
        "cancelled-unknown": [],
    }
    assert reasons["cancelled-practice"]["text"] == "Practice-initiated: Doctor ill"
    assert reasons["cancelled-unknown"]["text"] == "Reason not recorded"
    booked = by_id[made["booked"]]
    assert booked["start"] == "2026-03-19T10:00:00-04:00" and booked["minutesDuration"] == 30
    assert booked["appointmentType"]["coding"][0]["code"] == "FOLLOWUP"
    # Reads, schedules and slots validate too.
    fhir.ok(f"/fhir/Appointment/{made['booked']}")
    (schedule,) = fhir.all_pages("/fhir/Schedule")
    assert schedule["active"] is True and "Mon 09:00–17:00" in schedule["comment"]
    fhir.ok(f"/fhir/Schedule/{schedule['id']}")
    slots = fhir.all_pages(f"/fhir/Slot?schedule=Schedule/{schedule['id']}&_count=40")
    assert {s["status"] for s in slots} == {"free", "busy", "busy-unavailable"}
    fhir.ok(f"/fhir/Slot/{slots[0]['id']}")


def test_an_organization_never_sees_another_organizations_data(fhir: Fhir) -> None:
    world = fhir.world
    for me, other in (("a", "b"), ("b", "a")):
        mine = fhir.all_pages("/fhir/Appointment", me)
        mine += fhir.all_pages("/fhir/Schedule", me)
        mine += fhir.all_pages("/fhir/Slot?_count=200", me)
        assert mine
        assert _ref_ids(mine, "Patient") <= {str(p) for p in fhir.patients[me]}
        assert _ref_ids(mine, "Practitioner") == {str(world.practitioner_ids[me])}
        assert _ref_ids(mine, "Location") == {str(world.clinic_ids[me])}
        theirs_schedule = f"{world.practitioner_ids[other]}-{world.clinic_ids[other]}"
        assert _ref_ids(mine, "Schedule") == {
            f"{world.practitioner_ids[me]}-{world.clinic_ids[me]}"
        }
        with world.db.read() as s:
            own_ids = set(
                s.scalars(
                    select(Appointment.id).where(Appointment.organization_id == world.org_ids[me])
                )
            )
        assert {int(r["id"]) for r in mine if r["resourceType"] == "Appointment"} == own_ids
        # The other organization's ids, asked for directly, do not exist here.
        their_booked = fhir.appointments[other]["booked"]
        for path in (
            f"/fhir/Appointment/{their_booked}",
            f"/fhir/Schedule/{theirs_schedule}",
        ):
            refused = fhir.get(path, me)
            assert refused.status == 404 and refused.body["resourceType"] == "OperationOutcome"
        for path in (
            f"/fhir/Appointment?patient=Patient/{fhir.patients[other][0]}",
            f"/fhir/Appointment?_id={their_booked}",
            f"/fhir/Appointment?practitioner={world.practitioner_ids[other]}",
            f"/fhir/Slot?schedule=Schedule/{theirs_schedule}",
            f"/fhir/Schedule?actor=Location/{world.clinic_ids[other]}",
            f"/fhir/Schedule?actor=Practitioner/{world.practitioner_ids[other]}",
            f"/fhir/Slot?practitioner={world.practitioner_ids[other]}",
            f"/fhir/Slot?schedule=Schedule/{theirs_schedule}&start=ge2026-03-19",
        ):
            assert fhir.ok(path, me)["entry"] == [], path


def test_appointments_are_searched_by_patient_practitioner_date_and_status(fhir: Fhir) -> None:
    made, (first, second) = fhir.appointments["a"], fhir.patients["a"]
    prac = fhir.world.practitioner_ids["a"]

    def ids(query: str) -> set[int]:
        return {int(r["id"]) for r in fhir.all_pages(f"/fhir/Appointment?{query}")}

    assert ids(f"patient=Patient/{second}") == {made["arrived"], made["confirmed"]}
    assert ids(f"actor=Patient/{second}") == ids(f"patient={second}")
    assert ids(f"practitioner=Practitioner/{prac}") == set(made.values())
    assert ids("date=2026-03-19") == {made["booked"], made["confirmed"], made["pending"]}
    assert ids("date=ge2026-03-18&date=lt2026-03-19T10:00:00-04:00") == {
        made["in-progress"],
        made["arrived"],
    }
    assert ids("status=booked") == {made["booked"], made["confirmed"]}
    assert ids("status=arrived,fulfilled") == {
        made["in-progress"],
        made["arrived"],
        made["completed"],
    }
    assert ids(f"status=cancelled&patient={first}") == {
        made["cancelled-patient"],
        made["cancelled-practice"],
        made["cancelled-emergency"],
        made["cancelled-unknown"],
    }
    assert ids("status=waitlist") == set()


def test_paging_follows_next_links_without_gaps_or_repeats(fhir: Fhir) -> None:
    whole = fhir.ok("/fhir/Appointment?_count=200")
    assert whole["total"] == 11
    assert [link for link in whole["link"] if link["relation"] == "next"] == []
    first_page = fhir.ok("/fhir/Appointment?_count=3")
    assert len(first_page["entry"]) == 3 and "total" not in first_page
    paged = fhir.all_pages("/fhir/Appointment?_count=3")
    assert [r["id"] for r in paged] == [e["resource"]["id"] for e in whole["entry"]]
    starts = [r["start"] for r in paged]
    assert starts == sorted(starts)
    counted = fhir.ok("/fhir/Appointment?_count=3&_total=accurate")
    assert counted["total"] == 11
    slots = fhir.ok("/fhir/Slot?status=free&_count=200")
    paged_slots = fhir.all_pages("/fhir/Slot?status=free&_count=7")
    assert [s["id"] for s in paged_slots] == [e["resource"]["id"] for e in slots["entry"]]


def test_slots_are_what_availability_offers_busy_when_taken_unavailable_on_leave(
    fhir: Fhir,
) -> None:
    world = fhir.world
    ctx = world.app.server.extensions["clinic"]
    org, prac = world.org_ids["a"], world.practitioner_ids["a"]
    schedule = f"Schedule/{prac}-{world.clinic_ids['a']}"
    free = fhir.all_pages(f"/fhir/Slot?schedule={schedule}&status=free&start=lt2026-03-24")
    offered = get_practitioner_slots_range(ctx, org, prac, WEDNESDAY, NEXT_MONDAY)
    expected = sorted(s.start for day in offered.values() for s in day)
    assert [datetime.fromisoformat(s["start"]) for s in free] == expected
    busy = fhir.all_pages(f"/fhir/Slot?schedule={schedule}&status=busy&start=lt2026-03-24")
    assert {s["start"] for s in busy} == {
        "2026-03-19T10:00:00-04:00",
        "2026-03-19T10:30:00-04:00",
        "2026-03-19T11:00:00-04:00",
    }
    unavailable = fhir.all_pages(
        f"/fhir/Slot?schedule={schedule}&status=busy-unavailable&start=ge2026-03-23&start=lt2026-03-24"
    )
    assert len(unavailable) == 16  # the day of leave
    assert (
        fhir.ok(f"/fhir/Slot?practitioner={prac}&start=ge2026-03-19&start=lt2026-03-20&_count=0")[
            "total"
        ]
        == 16
    )
    past = fhir.all_pages(f"/fhir/Slot?schedule={schedule}&start=lt2026-03-18T13:00:00-04:00")
    assert past and all(s["start"] >= "2026-03-18T11:00:00-04:00" for s in past)  # from now on


def test_errors_are_operation_outcomes_with_the_right_http_status(fhir: Fhir) -> None:
    missing = fhir.get("/fhir/Appointment", org=None)
    assert missing.status == 401 and missing.headers["WWW-Authenticate"] == 'Bearer realm="fhir"'
    wrong = fhir.get("/fhir/Appointment", token="cst_" + "x" * 43)
    assert wrong.status == 401 and 'error="invalid_token"' in wrong.headers["WWW-Authenticate"]
    # A signed-in staff session is no substitute for a token.
    browser = fhir.world.signed_in("admin")
    assert browser.get("/fhir/Appointment").status == 401
    cases = {
        "/fhir/Appointment?colour=blue": 400,
        "/fhir/Appointment?date=yesterday": 400,
        "/fhir/Appointment?date=sa2026-03-18": 400,
        "/fhir/Appointment?status=done": 400,
        "/fhir/Appointment?patient=Practitioner/1": 400,
        "/fhir/Appointment?_count=lots": 400,
        "/fhir/Appointment?_cursor=abc": 400,
        "/fhir/Slot?start=ge2026-03-18&start=lt2026-06-18": 400,
        "/fhir/Appointment?_format=xml": 406,
        "/fhir/Patient": 404,
        "/fhir/Appointment/999999": 404,
        "/fhir/Appointment/abc": 404,
        "/fhir/Slot/1-2-3": 404,
        "/fhir/Appointment/1/_history/2": 404,
    }
    for path, status in cases.items():
        answer = fhir.get(path)
        assert answer.status == status, (path, answer.body)
        assert answer.body["resourceType"] == "OperationOutcome", path
    for method in ("POST", "PUT", "DELETE"):
        assert fhir.get("/fhir/Appointment", method=method, json={}).status == 405


def test_a_revoked_or_expired_token_stops_working_at_once(fhir: Fhir) -> None:
    world = fhir.world
    ctx = world.app.server.extensions["clinic"]
    org = world.org_ids["a"]
    system = Actor.system("tests", org)
    temporary = create_api_token(
        ctx, system, org, "Short-lived", expires_at=world.clock.now + timedelta(hours=1)
    )
    assert fhir.get("/fhir/Schedule", token=temporary.token).status == 200
    world.clock.advance(timedelta(hours=2))
    try:
        assert fhir.get("/fhir/Schedule", token=temporary.token).status == 401
    finally:
        world.clock.advance(timedelta(hours=-2))
    revoked = create_api_token(ctx, system, org, "Revoked")
    assert fhir.get("/fhir/Schedule", token=revoked.token).status == 200
    assert revoke_api_token(ctx, system, org, revoked.id)
    assert fhir.get("/fhir/Schedule", token=revoked.token).status == 401
