"""The booking and calendar callbacks over HTTP: a replayed booking books once, and
nobody reaches another practitioner's or another organization's calendar by editing a
request."""

from __future__ import annotations

import json
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from components.ids import dom_id
from data.models import Appointment, Organization
from domain.availability import invalidate_organization
from tests.factories import make_type
from tests.integration.conftest import World

THURSDAY = date(2026, 3, 19)  # the world's clock: Wednesday 18 March 2026, 11:00 in New York


@pytest.fixture(scope="module")
def follow_up(access_world: World) -> dict[str, int]:
    """A follow-up appointment type in each organization."""
    ids = {}
    for key, org_id in access_world.org_ids.items():
        with access_world.db.transaction() as s:
            org = s.get_one(Organization, org_id)
            ids[key] = make_type(s, org, "follow-up", 30).id
        invalidate_organization(access_world.app.server.extensions["clinic"], org_id)
    return ids


def _booking(
    world: World, type_ids: dict[str, int], hour: int, org: str = "a"
) -> dict[str, object]:
    start = datetime.combine(THURSDAY, time(hour), ZoneInfo("America/New_York"))
    return {
        "book-patient.value": world.patient_ids[org],
        "book-practitioner.value": world.practitioner_ids[org],
        "book-clinic.value": world.clinic_ids[org],
        "book-appointment_type.value": type_ids[org],
        "book-duration.value": 30,
        "book-start.value": start.isoformat(),
        "book-notes.value": None,
    }


def _count(world: World) -> int:
    with world.db.read() as s:
        return int(
            s.scalar(
                select(func.count())
                .select_from(Appointment)
                .where(Appointment.patient_id == world.patient_ids["a"])
            )
            or 0
        )


def test_a_replayed_booking_request_books_once(
    access_world: World, follow_up: dict[str, int]
) -> None:
    desk = access_world.signed_in("front-desk")
    before = _count(access_world)
    form = _booking(access_world, follow_up, 10)
    first = desk.call("book-result.children", {"book-submit.n_clicks": 1}, form)
    assert first.status == 200
    assert "Appointment booked" in json.dumps(first.output("book-result.children"))
    again = desk.call("book-result.children", {"book-submit.n_clicks": 2}, form)
    assert again.status == 200
    # The first booking took the time: the service refuses the copy (for a group seat,
    # the patient-overlap rule would: the patient is already booked then).
    assert "already has appointment #" in again.output("book-start-error.children")
    assert _count(access_world) == before + 1


def test_a_missing_choice_is_named_before_anything_is_sent(
    access_world: World, follow_up: dict[str, int]
) -> None:
    desk = access_world.signed_in("front-desk")
    form = {**_booking(access_world, follow_up, 11), "book-patient.value": None}
    answer = desk.call("book-result.children", {"book-submit.n_clicks": 1}, form)
    assert answer.output("book-patient-error.children") == "Search for the patient and choose them."
    assert answer.output("book-start-error.children") == ""


def test_calendars_stay_within_the_users_reach(
    access_world: World, follow_up: dict[str, int]
) -> None:
    own, other_org = access_world.practitioner_ids["a"], access_world.practitioner_ids["b"]
    inputs = {
        "cal-view.value": "week",
        "cal-date.value": THURSDAY.isoformat(),
        "cal-cancelled.value": False,
        "cal-refresh.data": 0,
    }
    doctor = access_world.signed_in("practitioner")
    mine = doctor.call("cal-grid.children", {**inputs, "cal-who.value": f"p-{own}"})
    assert mine.status == 200 and "cal-table" in mine.text
    forged = doctor.call(
        "cal-grid.children", {**inputs, "cal-who.value": f"c-{access_world.clinic_ids['a']}"}
    )
    assert forged.status == 200  # a clinic narrows the practitioner's own calendar
    admin = access_world.signed_in("admin")
    foreign = admin.call("cal-grid.children", {**inputs, "cal-who.value": f"p-{other_org}"})
    assert foreign.status == 200 and "not found" in foreign.text and "cal-table" not in foreign.text
    desk = access_world.signed_in("front-desk")  # no calendar for the front desk
    assert desk.call("cal-grid.children", {**inputs, "cal-who.value": f"p-{own}"}).status == 403


def test_an_appointment_of_another_organization_cannot_be_opened_or_changed(
    access_world: World, follow_up: dict[str, int]
) -> None:
    b_desk = access_world.signed_in("front-desk", "b")
    booked = b_desk.call(
        "book-result.children",
        {"book-submit.n_clicks": 1},
        _booking(access_world, follow_up, 14, org="b"),
    )
    assert "Appointment booked" in booked.text
    with access_world.db.read() as s:
        theirs = s.scalar(
            select(func.max(Appointment.id)).where(
                Appointment.organization_id == access_world.org_ids["b"]
            )
        )
    admin = access_world.signed_in("admin")
    panel = admin.call(
        "cal-panel-body.children", {"cal-selected.data": {"id": theirs, "opened": 0}}
    )
    assert panel.status == 200 and "This appointment was not found." in panel.text
    act = {"type": "cal-act", "action": "cancelled"}
    payload = admin.payload(
        "cal-result.data",
        {'{"action":["ALL"],"type":"cal-act"}.n_clicks': [(act, 1)]},
        {"cal-selected.data": {"id": theirs, "opened": 0}, "cal-version.data": 1},
    )
    payload["changedPropIds"] = [f"{dom_id(act)}.n_clicks"]
    action = admin.post_callback(payload)
    assert action.status == 200
    assert "This appointment was not found." in json.dumps(action.output("cal-result.data"))
    with access_world.db.read() as s:
        assert s.get_one(Appointment, theirs).status == "booked"
