"""The booking page's series preview and "Book selected", and the calendar panel's
scoped cancellation, over HTTP as the browser sends them."""

from __future__ import annotations

import json
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from components.ids import dom_id
from data.models import Appointment, Organization
from domain.availability import invalidate_organization
from tests.factories import make_type
from tests.integration.conftest import World

NY = ZoneInfo("America/New_York")
FIRST = date(2026, 3, 24)  # a Tuesday; the world's clock: Wednesday 18 March 2026
OCCURRENCES = '{"start":["ALL"],"type":"book-occurrence"}.value'
FIELDS = '{"name":["ALL"],"type":"cal-field"}.value'
ACTS = '{"action":["ALL"],"type":"cal-act"}.n_clicks'


@pytest.fixture(scope="module")
def follow_up(access_world: World) -> int:
    org_id = access_world.org_ids["a"]
    with access_world.db.transaction() as s:
        type_id = make_type(s, s.get_one(Organization, org_id), "follow-up", 30).id
    invalidate_organization(access_world.app.server.extensions["clinic"], org_id)
    return type_id


def _form(world: World, type_id: int, hour: int, count: int) -> dict[str, object]:
    return {
        "book-patient.value": world.patient_ids["a"],
        "book-practitioner.value": world.practitioner_ids["a"],
        "book-clinic.value": world.clinic_ids["a"],
        "book-appointment_type.value": type_id,
        "book-duration.value": 30,
        "book-start.value": datetime.combine(FIRST, time(hour), NY).isoformat(),
        "book-repeat-weeks.value": 1,
        "book-repeat-end.value": "count",
        "book-repeat-count.value": count,
        "book-repeat-until.value": None,
        "book-notes.value": None,
    }


def _series_rows(world: World, hour: int) -> list[tuple[int, int, str]]:
    with world.db.read() as s:
        rows = s.execute(
            select(Appointment.id, Appointment.series_id, Appointment.status, Appointment.start_at)
            .where(Appointment.series_id.is_not(None))
            .order_by(Appointment.start_at)
        ).all()
    return [(i, sid, st) for i, sid, st, start in rows if start.astimezone(NY).hour == hour]


def test_the_page_previews_then_books_only_the_ticked_occurrences(
    access_world: World, follow_up: int
) -> None:
    desk = access_world.signed_in("front-desk")
    form = _form(access_world, follow_up, 10, 4)
    preview = desk.call("book-preview-table.children", {"book-preview.n_clicks": 1}, form)
    assert preview.status == 200
    table = json.dumps(preview.output("book-preview-table.children"))
    assert "4 of 4 can be booked" in table
    starts = [datetime.combine(FIRST, time(10), NY).astimezone(ZoneInfo("UTC"))]
    ids = [
        {"type": "book-occurrence", "start": o["props"]["id"]["start"]}
        for o in _checkboxes(preview.output("book-preview-table.children"))
    ]
    assert len(ids) == 4 and ids[0]["start"] == starts[0].isoformat()
    ticks = [(ident, k != 1) for k, ident in enumerate(ids)]  # leave the second out

    booked = desk.call(
        "book-preview-table.children",
        {"book-book-series.n_clicks": 1},
        {**form, OCCURRENCES: ticks},
    )

    assert booked.status == 200
    assert "3 appointments booked" in json.dumps(booked.output("book-series-result.children"))
    rows = _series_rows(access_world, 10)
    assert len(rows) == 3 and len({sid for _i, sid, _st in rows}) == 1


def _checkboxes(tree: object) -> list[dict]:
    """The occurrence checkboxes in a rendered component tree."""
    found: list[dict] = []

    def walk(node: object) -> None:
        if isinstance(node, list):
            for n in node:
                walk(n)
        elif isinstance(node, dict):
            ident = node.get("props", {}).get("id") if "props" in node else None
            if isinstance(ident, dict) and ident.get("type") == "book-occurrence":
                found.append(node)
            for value in node.values():
                walk(value)

    walk(tree)
    return found


def test_a_role_that_does_not_book_cannot_preview_a_series(
    access_world: World, follow_up: int
) -> None:
    manager = access_world.signed_in("manager")
    answer = manager.call(
        "book-preview-table.children",
        {"book-preview.n_clicks": 1},
        _form(access_world, follow_up, 11, 3),
    )
    assert answer.status == 403


def test_the_panel_cancels_this_and_the_following_occurrences(
    access_world: World, follow_up: int
) -> None:
    desk = access_world.signed_in("front-desk")
    form = _form(access_world, follow_up, 14, 4)
    preview = desk.call("book-preview-table.children", {"book-preview.n_clicks": 1}, form)
    ticks = [
        ({"type": "book-occurrence", "start": o["props"]["id"]["start"]}, True)
        for o in _checkboxes(preview.output("book-preview-table.children"))
    ]
    desk.call(
        "book-preview-table.children",
        {"book-book-series.n_clicks": 1},
        {**form, OCCURRENCES: ticks},
    )
    ids = [i for i, _sid, _st in _series_rows(access_world, 14)]
    assert len(ids) == 4

    admin = access_world.signed_in("admin")
    selected = {"cal-selected.data": {"id": ids[1], "opened": 0}}
    panel = admin.call("cal-panel-body.children", selected)
    assert "Appointment 2 of 4, every week" in panel.text
    assert "This and the following ones" in panel.text
    act = {"type": "cal-act", "action": "cancelled"}
    payload = admin.payload(
        "cal-result.data",
        {ACTS: [(act, 1)]},
        {
            **selected,
            "cal-version.data": 1,
            FIELDS: [
                ({"type": "cal-field", "name": "scope"}, "following"),
                ({"type": "cal-field", "name": "category"}, "patient-initiated"),
            ],
        },
    )
    payload["changedPropIds"] = [f"{dom_id(act)}.n_clicks"]
    answer = admin.post_callback(payload)

    assert answer.status == 200
    assert "Cancelled 3 appointments of the series" in json.dumps(answer.output("cal-result.data"))
    assert [st for _i, _sid, st in _series_rows(access_world, 14)] == [
        "booked",
        "cancelled",
        "cancelled",
        "cancelled",
    ]


def test_todays_panel_cancels_the_whole_series_too(access_world: World, follow_up: int) -> None:
    """Today's panel and the calendar's carry out actions alike: the scope is honoured."""
    desk = access_world.signed_in("front-desk")
    form = _form(access_world, follow_up, 16, 3)
    preview = desk.call("book-preview-table.children", {"book-preview.n_clicks": 1}, form)
    ticks = [
        ({"type": "book-occurrence", "start": o["props"]["id"]["start"]}, True)
        for o in _checkboxes(preview.output("book-preview-table.children"))
    ]
    desk.call(
        "book-preview-table.children",
        {"book-book-series.n_clicks": 1},
        {**form, OCCURRENCES: ticks},
    )
    ids = [i for i, _sid, _st in _series_rows(access_world, 16)]
    assert len(ids) == 3

    admin = access_world.signed_in("admin")
    selected = {"today-selected.data": {"id": ids[1], "opened": 0}}
    panel = admin.call("today-panel-body.children", selected)
    assert "Appointment 2 of 3, every week" in panel.text
    assert "This and the following ones" in panel.text
    act = {"type": "today-act", "action": "cancelled"}
    payload = admin.payload(
        "today-panel-result.data",
        {'{"action":["ALL"],"type":"today-act"}.n_clicks': [(act, 1)]},
        {
            **selected,
            "today-version.data": 1,
            '{"name":["ALL"],"type":"today-field"}.value': [
                ({"type": "today-field", "name": "scope"}, "all"),
                ({"type": "today-field", "name": "category"}, "practice-initiated"),
            ],
        },
    )
    payload["changedPropIds"] = [f"{dom_id(act)}.n_clicks"]
    answer = admin.post_callback(payload)

    assert answer.status == 200
    result = json.dumps(answer.output("today-panel-result.data"))
    assert "Cancelled 3 appointments of the series" in result
    assert [st for _i, _sid, st in _series_rows(access_world, 16)] == ["cancelled"] * 3
