"""The Today and Activity pages' callbacks over HTTP: one-click steps at the version shown
(a stale click changes nothing and says so), the panel's cancel, each user's reach; the
bell's unread count, marking read, and the feed of one's own organization only."""

from __future__ import annotations

import json
from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from components.ids import dom_id
from data.models import (
    Appointment,
    AppointmentType,
    Clinic,
    Encounter,
    Organization,
    Patient,
    Practitioner,
)
from domain.actor import Actor
from domain.appointments import update_appointment_status
from domain.availability import invalidate_organization
from tests.factories import make_appointment, make_patient, make_type
from tests.integration.conftest import World

NY = ZoneInfo("America/New_York")
TODAY = datetime(2026, 3, 18).date()  # the world's clock: 11:00 in New York

BOARD = "today-list.children"
BOARD_INPUTS = {
    "today-cancelled.value": False,
    "today-refresh.data": 0,
    "today-tick.n_intervals": None,
    "today-reload.n_clicks": None,
}
STEP_ALL = '{"id":["ALL"],"status":["ALL"],"type":"today-step","version":["ALL"]}.n_clicks'
ACT_ALL = '{"action":["ALL"],"type":"today-act"}.n_clicks'
FIELD_ALL = '{"name":["ALL"],"type":"today-field"}.value'


@pytest.fixture(scope="module")
def day(access_world: World) -> dict[str, int]:
    """Three appointments today in organization A (two patients at 13:00 and 14:00, one
    at 15:00) and one in organization B."""
    ids: dict[str, int] = {}
    for key in ("a", "b"):
        org_id = access_world.org_ids[key]
        with access_world.db.transaction() as s:
            org = s.get_one(Organization, org_id)
            kind = s.scalar(
                select(AppointmentType).where(AppointmentType.organization_id == org_id)
            ) or make_type(s, org, "visit", 30)
            prac = s.get_one(Practitioner, access_world.practitioner_ids[key])
            clinic = s.get_one(Clinic, access_world.clinic_ids[key])
            first = s.get_one(Patient, access_world.patient_ids[key])
            hours = (13, 14, 15) if key == "a" else (13,)
            for n, hour in enumerate(hours):
                patient = first if n == 0 else make_patient(s, org, given_name=f"Today{n}")
                start = datetime.combine(TODAY, time(hour), NY)
                ids[f"{key}{hour}"] = make_appointment(s, patient, prac, clinic, kind, start).id
        invalidate_organization(access_world.app.server.extensions["clinic"], org_id)
    return ids


def _step(client, appointment_id: int, status: str, version: int):  # type: ignore[no-untyped-def]
    button = {"id": appointment_id, "status": status, "type": "today-step", "version": version}
    payload = client.payload(
        "today-feedback.children", {STEP_ALL: [(button, 1)]}, {"today-refresh.data": 0}
    )
    payload["changedPropIds"] = [f"{dom_id(button)}.n_clicks"]
    return client.post_callback(payload)


def _status(world: World, appointment_id: int) -> str:
    with world.db.read() as s:
        return s.get_one(Appointment, appointment_id).status


def test_the_front_desk_checks_a_patient_in_with_one_click(
    access_world: World, day: dict[str, int]
) -> None:
    desk = access_world.signed_in("front-desk")
    board = desk.call(BOARD, {**BOARD_INPUTS, "today-who.value": "all"})
    assert board.status == 200
    text = board.text
    assert all(f"today-row-{day[k]}" in text for k in ("a13", "a14", "a15"))
    assert f"today-row-{day['b13']}" not in text  # another organization's day
    counts = json.dumps(board.output("today-counts.children"))
    assert '"Booked"' in counts and '"3"' in counts
    checked_in = _step(desk, day["a13"], "arrived", 1)
    assert checked_in.status == 200
    assert "Now arrived." in checked_in.text
    assert _status(access_world, day["a13"]) == "arrived"
    with access_world.db.read() as s:
        assert s.scalar(select(Encounter.id).where(Encounter.appointment_id == day["a13"]))
    # The same button again (the list not yet reloaded): refused as stale, nothing changes.
    again = _step(desk, day["a13"], "in-progress", 1)
    assert "Changed by someone else" in again.text and "today-stale" in again.text
    assert _status(access_world, day["a13"]) == "arrived"


def test_a_stale_click_names_who_changed_it(access_world: World, day: dict[str, int]) -> None:
    desk = access_world.signed_in("front-desk")
    phone = Actor(None, "Phone line", "front-desk", access_world.org_ids["a"])
    update_appointment_status(
        access_world.app.server.extensions["clinic"],
        access_world.org_ids["a"],
        day["a14"],
        "confirmed",
        phone,
    )
    stale = _step(desk, day["a14"], "arrived", 1)
    assert "Changed by someone else" in stale.text and "Phone line" in stale.text
    assert _status(access_world, day["a14"]) == "confirmed"


def test_the_panel_cancels_with_a_category_and_a_reason(
    access_world: World, day: dict[str, int]
) -> None:
    desk = access_world.signed_in("front-desk")
    selected = {"id": day["a15"], "opened": 0}
    panel = desk.call("today-panel-body.children", {"today-selected.data": selected})
    assert panel.status == 200 and "Cancel the appointment" in panel.text
    assert "Reschedule" not in panel.text  # moving is the calendar's job
    button = {"type": "today-act", "action": "cancelled"}
    fields = [
        ({"type": "today-field", "name": "comment"}, None),
        ({"type": "today-field", "name": "category"}, "patient-initiated"),
        ({"type": "today-field", "name": "reason"}, "Stuck in traffic"),
    ]
    payload = desk.payload(
        "today-panel-result.data",
        {ACT_ALL: [(button, 1)]},
        {
            FIELD_ALL: fields,
            "today-selected.data": selected,
            "today-version.data": 1,
            "today-refresh.data": 0,
        },
    )
    payload["changedPropIds"] = [f"{dom_id(button)}.n_clicks"]
    done = desk.post_callback(payload)
    assert done.status == 200 and "The time is free again" in done.text
    with access_world.db.read() as s:
        a = s.get_one(Appointment, day["a15"])
        assert (a.status, a.cancellation_category, a.cancellation_reason) == (
            "cancelled",
            "patient-initiated",
            "Stuck in traffic",
        )


def test_everyone_stays_within_their_reach(access_world: World, day: dict[str, int]) -> None:
    doctor = access_world.signed_in("practitioner")
    own = doctor.call(
        BOARD, {**BOARD_INPUTS, "today-who.value": f"p-{access_world.practitioner_ids['a']}"}
    )
    assert own.status == 200 and f"today-row-{day['a13']}" in own.text
    # The whole organization, asked for by editing the request: only their own day.
    forged = doctor.call(BOARD, {**BOARD_INPUTS, "today-who.value": "all"})
    assert forged.status == 200 and f"today-row-{day['a13']}" in forged.text
    foreign = doctor.call(
        BOARD, {**BOARD_INPUTS, "today-who.value": f"p-{access_world.practitioner_ids['b']}"}
    )
    assert "today-row-" not in foreign.text and "your own appointments" in foreign.text
    coordinator = access_world.signed_in("coordinator")  # no Today for coordinators
    assert coordinator.call(BOARD, {**BOARD_INPUTS, "today-who.value": "all"}).status == 403
    manager = access_world.signed_in("manager")  # sees the day, changes nothing
    assert manager.call(BOARD, {**BOARD_INPUTS, "today-who.value": "all"}).status == 200
    assert _step(manager, day["a14"], "arrived", 2).status == 403


def _unread(client) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    answer = client.call(
        "shell-unread.children",
        {"_pages_location.pathname": "/activity", "shell-unread-tick.n_intervals": None},
    )
    assert answer.status == 200
    return answer.output("shell-unread.children"), answer.output("shell-unread.className")


def test_the_bell_counts_unread_notifications_and_marking_read_clears_them(
    access_world: World, day: dict[str, int]
) -> None:
    doctor = access_world.signed_in("practitioner")  # told of the cancellation above
    count, css = _unread(doctor)
    assert int(count) >= 1 and "d-none" not in css
    notes = doctor.call("activity-notes.children", {"activity-notes-refresh.data": 0})
    assert notes.status == 200 and "Appointment cancelled" in notes.text
    assert "Important" in notes.text  # a cancellation is high priority
    read_all = doctor.call(
        "activity-notes-feedback.children",
        {"activity-read-all.n_clicks": 1},
        {"activity-notes-refresh.data": 0},
    )
    assert read_all.status == 200 and "read." in read_all.text
    assert read_all.output("shell-unread.className") == "d-none"
    assert _unread(doctor) == ("", "d-none")
    empty = doctor.call("activity-notes.children", {"activity-notes-refresh.data": 1})
    assert "all caught up" in empty.text


def test_the_feed_shows_only_the_users_organization(
    access_world: World, day: dict[str, int]
) -> None:
    desk = access_world.signed_in("front-desk")
    feed = desk.call("activity-feed.children", {"activity-cursor.data": []})
    assert feed.status == 200
    assert "changed" in feed.text and "Stuck in traffic" in feed.text
    b_admin = access_world.signed_in("admin", "b")
    theirs = b_admin.call("activity-feed.children", {"activity-cursor.data": []})
    assert "Stuck in traffic" not in theirs.text
    doctor = access_world.signed_in("practitioner")  # notifications yes, the feed no
    assert doctor.call("activity-feed.children", {"activity-cursor.data": []}).status == 403
    page = doctor.open_page("/activity")
    assert page.status == 200 and "activity-notes" in page.text
    assert "activity-feed" not in page.text
