"""Notifications a user sees, marking them read, the activity feed and an appointment's
audit trail."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from data.db import Database
from data.models import Organization
from domain.activity import (
    count_unread_notifications,
    get_activity_feed,
    get_appointment_history,
    get_unread_notifications,
    mark_notifications_read,
)
from domain.appointments import cancel_appointment, update_appointment, update_appointment_status
from domain.context import AppContext
from domain.errors import BookingError
from settings import Settings
from tests.factories import make_org, make_user
from tests.integration.appointments.conftest import TUESDAY, World, at


@pytest.fixture
def busy(world: World) -> World:
    """A booking, a move, and a cancellation with coordinators told."""
    with world.db.transaction() as s:
        org = s.get_one(Organization, world.org_id)
        org.settings = {**org.settings, "notify_coordinators": True}
    booked = world.book(at(TUESDAY, 10))
    update_appointment(world.ctx, world.org_id, booked.id, world.coordinator, start=at(TUESDAY, 11))
    update_appointment_status(world.ctx, world.org_id, booked.id, "confirmed", world.front_desk)
    cancel_appointment(world.ctx, world.org_id, booked.id, world.coordinator, "practice-initiated")
    world.extra["appointment_id"] = booked.id
    return world


def test_a_practitioner_sees_what_is_addressed_to_them_high_priority_first(busy: World) -> None:
    notes = get_unread_notifications(busy.ctx, busy.org_id, busy.practitioner_user_id)
    assert [n.title for n in notes] == [
        "Appointment cancelled",
        "Appointment changed",
        "New appointment",
    ]
    assert [n.priority for n in notes] == ["high", "normal", "normal"]
    assert all(n.appointment_id == busy.extra["appointment_id"] for n in notes)
    assert count_unread_notifications(busy.ctx, busy.org_id, busy.practitioner_user_id) == 3


def test_coordinators_see_their_roles_notifications_and_front_desk_sees_none(busy: World) -> None:
    notes = get_unread_notifications(busy.ctx, busy.org_id, busy.coordinator_user_id)
    assert [(n.title, n.recipient_role) for n in notes] == [
        ("Appointment cancelled", "coordinator")
    ]
    assert get_unread_notifications(busy.ctx, busy.org_id, busy.front_desk.user_id) == []  # type: ignore[arg-type]


def test_marking_read_touches_only_what_the_user_may_see(busy: World) -> None:
    mine = get_unread_notifications(busy.ctx, busy.org_id, busy.practitioner_user_id)
    theirs = get_unread_notifications(busy.ctx, busy.org_id, busy.coordinator_user_id)
    changed = mark_notifications_read(
        busy.ctx, busy.org_id, busy.practitioner_user_id, [mine[0].id, theirs[0].id]
    )
    assert changed == 1
    assert count_unread_notifications(busy.ctx, busy.org_id, busy.practitioner_user_id) == 2
    assert count_unread_notifications(busy.ctx, busy.org_id, busy.coordinator_user_id) == 1
    assert mark_notifications_read(busy.ctx, busy.org_id, busy.practitioner_user_id) == 2
    assert get_unread_notifications(busy.ctx, busy.org_id, busy.practitioner_user_id) == []


def test_a_user_of_another_organization_is_refused(busy: World) -> None:
    with busy.db.transaction() as s:
        stranger = make_user(s, make_org(s), "coordinator").id
    for call in (get_unread_notifications, count_unread_notifications, mark_notifications_read):
        with pytest.raises(BookingError) as info:
            call(busy.ctx, busy.org_id, stranger)
        assert info.value.code == "USER_NOT_FOUND"


def test_the_history_of_an_appointment_is_its_full_audit_trail(busy: World) -> None:
    history = get_appointment_history(busy.ctx, busy.org_id, busy.extra["appointment_id"])
    assert [(e.event_type, e.actor_name) for e in history] == [
        ("APPOINTMENT_CREATED", "Fran Front"),
        ("APPOINTMENT_UPDATED", "Cora Coord"),
        ("APPOINTMENT_STATUS_CHANGED", "Fran Front"),
        ("APPOINTMENT_STATUS_CHANGED", "Cora Coord"),
    ]
    assert history[0].summary == (
        "Fran Front booked Pat0 Doe with Dr. Ada Lovelace at Main clinic on Tue 08 Jan 2030 10:00"
    )
    assert history[1].summary == (
        "Cora Coord changed Pat0 Doe's appointment: "
        "time Tue 08 Jan 2030 10:00 → Tue 08 Jan 2030 11:00"
    )
    assert history[-1].summary == (
        "Cora Coord changed Pat0 Doe's appointment with Dr. Ada Lovelace from confirmed to "
        "cancelled (practice-initiated)"
    )


def test_another_organization_cannot_read_the_history(busy: World) -> None:
    with busy.db.transaction() as s:
        other = make_org(s).id
    with pytest.raises(BookingError) as info:
        get_appointment_history(busy.ctx, other, busy.extra["appointment_id"])
    assert info.value.code == "APPOINTMENT_NOT_FOUND"
    assert get_activity_feed(busy.ctx, other) == []


def test_the_feed_is_newest_first_and_can_page_back_and_filter(busy: World) -> None:
    feed = get_activity_feed(busy.ctx, busy.org_id)
    assert feed[0].event_type == "APPOINTMENT_STATUS_CHANGED"
    assert len(feed) == 4
    assert [e.priority for e in get_activity_feed(busy.ctx, busy.org_id, min_priority="high")] == [
        "high"
    ]
    assert get_activity_feed(busy.ctx, busy.org_id, limit=2)[1].id == feed[1].id


def test_the_demo_feed_reads_as_sentences(demo_db: Database) -> None:
    from data.models import Organization as Org

    with demo_db.read() as s:
        org_id = s.scalars(select(Org.id).order_by(Org.id)).first()
    ctx = AppContext(settings=Settings(database_url=demo_db.url), db=demo_db)
    feed = get_activity_feed(ctx, org_id, limit=200)  # type: ignore[arg-type]
    assert {e.event_type for e in feed} == {"APPOINTMENT_CREATED", "APPOINTMENT_STATUS_CHANGED"}
    for e in feed:
        assert e.patient_name and e.practitioner_name
        assert e.patient_name in e.summary and e.actor_name in e.summary


def test_paging_back_continues_after_the_last_event_even_at_the_same_time(busy: World) -> None:
    from domain.appointments import create_appointment

    # A check-in writes its status change and the visit record it opens at the same time.
    busy.now = at(TUESDAY, 9, 55)
    booked = create_appointment(
        busy.ctx,
        busy.org_id,
        patient_id=busy.patient_id,
        practitioner_id=busy.practitioner_id,
        clinic_id=busy.clinic_id,
        start=at(TUESDAY, 10),
        appointment_type_id=busy.type_id,
        actor=busy.front_desk,
    )
    update_appointment_status(busy.ctx, busy.org_id, booked.id, "arrived", busy.front_desk)
    everything = get_activity_feed(busy.ctx, busy.org_id)
    assert everything[0].created_at == everything[1].created_at
    # With the last event's time and id, and (as the Activity page pages) its id alone.
    for with_time in (True, False):
        pages: list[int] = []
        last = None
        while True:
            page = get_activity_feed(
                busy.ctx,
                busy.org_id,
                limit=1,
                before=last.created_at if last and with_time else None,
                before_id=last.id if last else None,
            )
            if not page:
                break
            pages.extend(e.id for e in page)
            last = page[-1]
        assert pages == [e.id for e in everything]
    # An event id that is not this organization's is no position.
    assert get_activity_feed(busy.ctx, busy.org_id, before_id=everything[0].id + 10_000) == []
