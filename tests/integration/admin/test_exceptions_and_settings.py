"""Exceptions take their time out of the schedule at once and list the bookings they
collide with (never cancelling one); organization settings are validated and audited."""

from __future__ import annotations

from datetime import time

import pytest
from sqlalchemy import select

from data.models import Notification
from domain.admin import (
    AdminError,
    create_exception,
    delete_exception,
    exception_collisions,
    exception_zone,
    update_organization_settings,
)
from domain.admin.views import list_exceptions
from domain.permissions import PermissionDenied
from tests.factories import local
from tests.integration.admin.conftest import FRIDAY, MONDAY, PHX, THURSDAY, AdminWorld


def test_a_leave_day_removes_its_slots_and_lists_the_booking_it_collides_with(
    world: AdminWorld,
) -> None:
    w = world
    colliding = w.book(local(MONDAY, time(10)))
    cancelled = w.book(local(MONDAY, time(11)), status="cancelled")
    other_day = w.book(local(FRIDAY, time(10)))
    result = create_exception(
        w.ctx,
        w.admin,
        w.org_id,
        reason="leave",
        practitioner_id=w.practitioner_id,
        start_date=MONDAY,
        note="Conference",
    )
    assert result.message == "Leave of Dr. Ana Lee saved (Mon 23 Mar 2026, all day)."
    assert [a.id for a in result.affected] == [colliding]
    assert result.notes == [
        "1 upcoming appointment collides with it and is still booked: reschedule it."
    ]
    assert w.slot_times(MONDAY) == []
    assert w.slot_times(FRIDAY)[:2] == ["09:00", "09:30"]
    assert (w.status_of(colliding), w.status_of(cancelled), w.status_of(other_day)) == (
        "booked",
        "cancelled",
        "booked",
    )
    (event,) = w.events("EXCEPTION_CREATED")
    assert event.priority == "high" and event.payload["timezone"] == "America/New_York"
    assert event.payload["colliding"]["ids"] == [colliding]
    with w.db.read() as s:
        (note,) = s.scalars(select(Notification).where(Notification.event_id == event.id))
        assert (note.recipient_kind, note.recipient_role) == ("role", "coordinator")
        assert note.title == "1 appointment to reschedule"
        assert note.body == (
            "Leave of Dr. Ana Lee, Mon 23 Mar 2026, all day, collides with: Maria Santos, "
            "Mon 23 Mar 2026 10:00–10:30 with Dr. Ana Lee at Harbor Main."
        )
    assert [a.id for a in exception_collisions(w.ctx, w.org_id, result.id)] == [colliding]
    (row,) = list_exceptions(w.ctx, w.org_id)
    assert (row.label, row.colliding, row.note) == ("Leave of Dr. Ana Lee", 1, "Conference")

    withdrawn = delete_exception(w.ctx, w.admin, w.org_id, result.id)
    assert "bookable again" in withdrawn.message
    assert w.slot_times(MONDAY)[:2] == ["09:00", "09:30"]
    assert w.events("EXCEPTION_DELETED")[0].payload["reason"] == "leave"


def test_a_clinic_closure_for_some_hours_touches_only_those_slots(world: AdminWorld) -> None:
    w = world
    booked = w.book(local(THURSDAY, time(9)))
    result = create_exception(
        w.ctx,
        w.admin,
        w.org_id,
        reason="clinic-closure",
        clinic_id=w.clinic_id,
        start_date=THURSDAY,
        start_time="08:00",
        end_time="10:00",
    )
    assert [a.id for a in result.affected] == [booked]
    assert "Thu 19 Mar 2026 08:00–10:00" in result.message
    assert w.slot_times(THURSDAY) == ["10:00", "10:30", "11:00", "11:30"]


def test_an_organization_wide_holiday_is_read_on_the_organizations_clock(
    world: AdminWorld,
) -> None:
    w = world
    result = create_exception(
        w.ctx, w.admin, w.org_id, reason="holiday", start_date=FRIDAY, note="Spring holiday"
    )
    assert result.message == "Holiday (all clinics) saved (Fri 20 Mar 2026, all day)."
    assert w.slot_times(FRIDAY) == []


def test_exceptions_are_refused_with_a_reason_on_their_field(world: AdminWorld) -> None:
    w = world
    cases = [
        ({"reason": "vacation"}, "INVALID_REASON", "reason"),
        ({"reason": "leave"}, "PRACTITIONER_REQUIRED", "practitioner"),
        ({"reason": "clinic-closure"}, "CLINIC_REQUIRED", "clinic"),
        (
            {"reason": "holiday", "practitioner_id": w.practitioner_id},
            "INVALID_REASON",
            "reason",
        ),
        (
            {"reason": "leave", "practitioner_id": w.practitioner_id, "end_date": "2026-03-01"},
            "END_NOT_AFTER_START",
            "end",
        ),
        (
            {"reason": "leave", "practitioner_id": w.practitioner_id, "start_time": "25:00"},
            "INVALID_TIME",
            "start",
        ),
        ({"reason": "other", "clinic_id": 10**9}, "NOT_FOUND", "clinic"),
        ({"reason": "other", "note": "\x00"}, "INVALID_TEXT", "note"),
    ]
    for change, code, field in cases:
        args: dict[str, object] = {"start_date": MONDAY, **change}
        with pytest.raises(AdminError) as caught:
            create_exception(w.ctx, w.admin, w.org_id, **args)  # type: ignore[arg-type]
        assert (caught.value.code, caught.value.field) == (code, field), change
    assert w.events() == []


def test_the_exception_form_says_which_clock_it_reads(world: AdminWorld) -> None:
    w = world
    assert exception_zone(w.ctx, w.org_id, clinic_id=w.phoenix_id) == PHX
    # Dr. Lee works at clinics in two zones: the organization's clock decides.
    assert exception_zone(w.ctx, w.org_id, practitioner_id=w.practitioner_id) == (
        "America/New_York"
    )
    assert exception_zone(w.ctx, w.org_id) == "America/New_York"


def test_settings_are_saved_with_an_event_of_what_changed(world: AdminWorld) -> None:
    w = world
    result = update_organization_settings(
        w.ctx,
        w.admin,
        w.org_id,
        buffer_minutes="15",
        min_notice_minutes=120,
        booking_horizon_days=365,
        notifications={"notify_coordinators": True},
    )
    assert result.message.startswith("Settings saved.")
    org = w.org()
    assert (org.buffer_minutes, org.min_notice_minutes) == (15, 120)
    assert org.settings["notify_coordinators"] is True and org.settings["notify_patient"] is True
    (event,) = w.events("SETTINGS_CHANGED")
    assert event.payload["changes"] == {
        "buffer_minutes": {"before": 0, "after": 15},
        "min_notice_minutes": {"before": 0, "after": 120},
        "notify_coordinators": {"before": False, "after": True},
    }
    with pytest.raises(AdminError) as caught:
        update_organization_settings(
            w.ctx,
            w.admin,
            w.org_id,
            buffer_minutes=15,
            min_notice_minutes=120,
            booking_horizon_days=365,
        )
    assert caught.value.code == "NO_CHANGE"
    for bad, field in (
        ({"buffer_minutes": 300}, "buffer_minutes"),
        ({"booking_horizon_days": 0}, "booking_horizon_days"),
        ({"min_notice_minutes": "soon"}, "min_notice_minutes"),
    ):
        args = {
            "buffer_minutes": 15,
            "min_notice_minutes": 120,
            "booking_horizon_days": 365,
            **bad,
        }
        with pytest.raises(AdminError) as caught:
            update_organization_settings(w.ctx, w.admin, w.org_id, **args)
        assert caught.value.field == field
    with pytest.raises(AdminError) as caught:
        update_organization_settings(
            w.ctx,
            w.admin,
            w.org_id,
            buffer_minutes=0,
            min_notice_minutes=0,
            booking_horizon_days=30,
            notifications={"notify_everyone": True},
        )
    assert caught.value.field == "notifications"
    with pytest.raises(PermissionDenied):
        update_organization_settings(
            w.ctx,
            w.manager,
            w.org_id,
            buffer_minutes=0,
            min_notice_minutes=0,
            booking_horizon_days=30,
        )
    assert len(w.events("SETTINGS_CHANGED")) == 1
