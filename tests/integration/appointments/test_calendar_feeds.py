"""Practitioners' private calendar feeds, read the way calendar apps read them: over HTTP,
parsed with the ``icalendar`` library.

The world's clock: Monday 7 January 2030, 08:00 in New York; Dr. Ada works weekdays
09:00-17:00 at the Main clinic. US daylight saving time starts on 10 March 2030.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest

from app import create_app
from data.models import Appointment
from domain.activity import get_activity_feed
from domain.appointments import cancel_appointment, update_appointment
from domain.calendar_feeds import (
    issue_calendar_feed,
    list_calendar_feeds,
    revoke_calendar_feed,
)
from domain.permissions import PermissionDenied
from settings import Settings
from tests.dash_client import DashClient
from tests.integration.appointments.conftest import MONDAY, TUESDAY, WEDNESDAY, World, at

NEW_YORK = ZoneInfo("America/New_York")


def _client(world: World) -> DashClient:
    settings = Settings(database_url=world.db.url, secret_key="feed-secret")
    return DashClient.for_flask(create_app(settings, context=world.ctx).server)


def _fetch(client: DashClient, path: str) -> icalendar.Calendar:
    answer = client.get(path)
    assert answer.status == 200, answer.text
    assert answer.headers["Content-Type"].startswith("text/calendar")
    return icalendar.Calendar.from_ical(answer.body)


def _events(cal: icalendar.Calendar) -> dict[str, icalendar.Event]:
    return {str(e["uid"]): e for e in cal.walk("VEVENT")}


def test_the_feed_lists_the_practitioners_visits_by_initials_in_the_clinic_zone(
    world: World,
) -> None:
    feed = issue_calendar_feed(world.ctx, world.admin, world.org_id, world.practitioner_id)
    mine = world.book(at(TUESDAY, 9, 30))
    after_dst = world.book(at(date(2030, 3, 12), 10), patient=world.patient_ids[1])
    colleague = world.book(at(TUESDAY, 11), practitioner_id=world.colleague_id)
    client = _client(world)
    raw = client.get(feed.path).text
    assert "Pat0" not in raw and "Doe" not in raw and "p0@example.org" not in raw
    cal = _fetch(client, feed.path)
    assert str(cal["x-wr-calname"]) == "Dr. Ada Lovelace – appointments"
    assert [str(tz["tzid"]) for tz in cal.walk("VTIMEZONE")] == ["America/New_York"]
    events = _events(cal)
    assert len(events) == 2  # the colleague's visit is not in Dr. Ada's feed
    assert not any(str(colleague.id) in uid for uid in events)
    first = events[f"appointment-{mine.id}@organization-{world.org_id}.clinic"]
    start = first.decoded("dtstart")
    assert start == datetime(2030, 1, 8, 9, 30, tzinfo=NEW_YORK)
    assert str(start.tzinfo) == "America/New_York"
    assert first.decoded("dtend") - start == timedelta(minutes=30)
    assert str(first["summary"]) == "P.D. – Follow up"
    assert str(first["status"]) == "CONFIRMED" and int(first["sequence"]) == 0
    assert "Main clinic" in str(first["location"])
    # After the change to daylight time the wall-clock time is still right (UTC-4).
    summer = events[f"appointment-{after_dst.id}@organization-{world.org_id}.clinic"]
    assert summer.decoded("dtstart") == datetime(2030, 3, 12, 10, tzinfo=NEW_YORK)
    assert summer.decoded("dtstart").utcoffset() == timedelta(hours=-4)


def test_a_reschedule_bumps_the_sequence_and_a_cancellation_is_kept_as_cancelled(
    world: World,
) -> None:
    feed = issue_calendar_feed(world.ctx, world.admin, world.org_id, world.practitioner_id)
    visit = world.book(at(TUESDAY, 9, 30))
    client = _client(world)
    uid = f"appointment-{visit.id}@organization-{world.org_id}.clinic"
    before = _events(_fetch(client, feed.path))[uid]

    update_appointment(
        world.ctx, world.org_id, visit.id, world.coordinator, start=at(WEDNESDAY, 14)
    )
    moved = _events(_fetch(client, feed.path))[uid]  # same UID: the same event, moved
    assert int(moved["sequence"]) > int(before["sequence"])
    assert moved.decoded("dtstart") == datetime(2030, 1, 9, 14, tzinfo=NEW_YORK)

    update_appointment(
        world.ctx, world.org_id, visit.id, world.coordinator, start=at(WEDNESDAY, 15)
    )
    again = _events(_fetch(client, feed.path))[uid]
    assert int(again["sequence"]) > int(moved["sequence"])

    cancel_appointment(world.ctx, world.org_id, visit.id, world.front_desk, "patient-initiated")
    cancelled = _events(_fetch(client, feed.path))[uid]
    assert str(cancelled["status"]) == "CANCELLED"
    assert int(cancelled["sequence"]) > int(again["sequence"])


def test_reissuing_replaces_the_link_and_revoking_stops_it(world: World) -> None:
    first = issue_calendar_feed(world.ctx, world.admin, world.org_id, world.practitioner_id)
    client = _client(world)
    assert client.get(first.path).status == 200
    # The practitioner re-issues their own link (e.g. it leaked): the old one is dead.
    second = issue_calendar_feed(world.ctx, world.practitioner, world.org_id, world.practitioner_id)
    assert second.token != first.token
    assert client.get(first.path).status == 404
    assert client.get(second.path).status == 200
    (info,) = list_calendar_feeds(world.ctx, world.org_id)
    assert info.practitioner_id == world.practitioner_id and info.created_by == "Ada L."
    assert info.last_used_at == world.now
    assert revoke_calendar_feed(world.ctx, world.admin, world.org_id, world.practitioner_id)
    assert client.get(second.path).status == 404
    assert client.get("/calendar/not-a-real-token-at-all-0123456789.ics").status == 404
    assert list_calendar_feeds(world.ctx, world.org_id) == []
    kinds = [e.event_type for e in get_activity_feed(world.ctx, world.org_id)]
    assert kinds.count("CALENDAR_FEED_ISSUED") == 2 and "CALENDAR_FEED_REVOKED" in kinds


def test_only_an_administrator_or_the_practitioner_manages_a_feed(world: World) -> None:
    for actor in (world.front_desk, world.coordinator, world.manager):
        with pytest.raises(PermissionDenied):
            issue_calendar_feed(world.ctx, actor, world.org_id, world.practitioner_id)
    with pytest.raises(PermissionDenied):  # a practitioner, for a colleague
        issue_calendar_feed(world.ctx, world.practitioner, world.org_id, world.colleague_id)
    other_org = world.org_id + 1000
    with pytest.raises(PermissionDenied):
        issue_calendar_feed(world.ctx, world.admin, other_org, world.practitioner_id)


def test_the_feed_shows_the_last_two_weeks_and_what_is_ahead(world: World) -> None:
    feed = issue_calendar_feed(world.ctx, world.admin, world.org_id, world.practitioner_id)
    old = world.book(at(MONDAY, 9))
    recent = world.book(at(TUESDAY, 9))
    world.now += timedelta(days=15)  # Tuesday 22 January: Monday 7 January is too old
    with world.db.read() as s:
        assert s.get_one(Appointment, old.id).start_at < world.now - timedelta(days=14)
    events = _events(_fetch(_client(world), feed.path))
    assert {str(recent.id) in uid for uid in events} == {True}
    assert len(events) == 1


def test_two_links_issued_at_the_same_moment_leave_exactly_one_live(world: World) -> None:
    import threading

    barrier = threading.Barrier(4)
    tokens: list[str] = []
    errors: list[Exception] = []

    def issue() -> None:
        barrier.wait()
        try:
            tokens.append(
                issue_calendar_feed(
                    world.ctx, world.admin, world.org_id, world.practitioner_id
                ).token
            )
        except Exception as exc:  # any failure is what this test looks for
            errors.append(exc)

    threads = [threading.Thread(target=issue) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == [] and len(tokens) == 4
    client = _client(world)
    assert sorted(client.get(f"/calendar/{t}.ics").status for t in tokens) == [200, 404, 404, 404]
    assert len(list_calendar_feeds(world.ctx, world.org_id)) == 1
