"""Weekly schedule blocks: every validation, history kept on change, and changes that
would strand bookings refused until the listed appointments are confirmed."""

from __future__ import annotations

from datetime import date, time

import pytest

from data.models import Schedule
from domain.admin import (
    AdminError,
    ConfirmationRequired,
    create_assignment,
    create_schedule_block,
    end_schedule_block,
    set_practitioner_active,
    update_schedule_block,
)
from domain.admin.views import list_blocks, week_plan
from domain.permissions import PermissionDenied
from tests.factories import local, make_clinic, make_org, make_practitioner, make_schedule
from tests.integration.admin.conftest import (
    MONDAY,
    NEXT_SATURDAY,
    SATURDAY,
    THURSDAY,
    AdminWorld,
)


def saturday_block(w: AdminWorld, **kw: object) -> dict[str, object]:
    args: dict[str, object] = {
        "practitioner_id": w.practitioner_id,
        "clinic_id": w.clinic_id,
        "weekday": 5,
        "start": "09:00",
        "end": "12:00",
        "slot_minutes": 30,
        "capacity": 1,
    }
    args.update(kw)
    return args


def refused(w: AdminWorld, fn=create_schedule_block, **kw: object) -> AdminError:  # type: ignore[no-untyped-def]
    with pytest.raises(AdminError) as caught:
        fn(w.ctx, w.admin, w.org_id, **kw)
    return caught.value


def test_a_saturday_block_offers_saturday_slots_at_once_with_its_event(world: AdminWorld) -> None:
    w = world
    assert w.slot_times(SATURDAY) == []
    result = create_schedule_block(w.ctx, w.admin, w.org_id, **saturday_block(w))
    assert result.message == (
        "Dr. Ana Lee: Saturday 09:00–12:00 at Harbor Main added "
        "(6 slots of 30 minutes, from Wed 18 Mar 2026)."
    )
    assert w.slot_times(SATURDAY) == ["09:00", "09:30", "10:00", "10:30", "11:00", "11:30"]
    (event,) = w.events("SCHEDULE_CREATED")
    assert event.actor_user_id == w.admin.user_id and event.actor_name == "Alex Admin"
    assert event.appointment_id is None
    assert event.payload["schedule_id"] == result.id
    assert event.payload["start"] == "09:00" and event.payload["weekday"] == 5


def test_each_malformed_block_is_refused_on_its_field_and_nothing_is_written(
    world: AdminWorld,
) -> None:
    w = world
    cases = [
        ({"end": "08:00"}, "END_NOT_AFTER_START", "end"),
        ({"capacity": 0}, "INVALID_CAPACITY", "capacity"),
        ({"slot_minutes": 0}, "INVALID_SLOT_LENGTH", "slot_minutes"),
        ({"slot_minutes": 240}, "SLOT_LONGER_THAN_BLOCK", "slot_minutes"),
        ({"weekday": 9}, "INVALID_WEEKDAY", "weekday"),
        ({"start": "9am"}, "INVALID_TIME", "start"),
        ({"valid_from": "2026-05-01", "valid_to": "2026-04-01"}, "INVALID_PERIOD", "valid_to"),
        ({"appointment_type_id": 999_999}, "NOT_FOUND", "appointment_type"),
        ({"clinic_id": 999_999}, "NOT_FOUND", "clinic"),
    ]
    for change, code, field in cases:
        err = refused(w, **saturday_block(w, **change))
        assert (err.code, err.field) == (code, field), change
    assert w.events() == []
    assert w.slot_times(SATURDAY) == []


def test_a_slot_length_that_leaves_minutes_over_is_refused_until_accepted_and_stated(
    world: AdminWorld,
) -> None:
    w = world
    err = refused(w, **saturday_block(w, end="12:10"))
    assert (err.code, err.field) == ("SLOT_REMAINDER", "slot_minutes")
    assert "final 10 minutes stay unbooked" in err.message
    result = create_schedule_block(
        w.ctx, w.admin, w.org_id, **saturday_block(w, end="12:10"), accept_remainder=True
    )
    assert result.notes == [
        "09:00–12:10 in 30-minute slots makes 6 slots; the last one ends at 12:00, "
        "so the final 10 minutes stay unbooked."
    ]
    assert w.slot_times(SATURDAY)[-1] == "11:30"
    assert w.events("SCHEDULE_CREATED")[0].payload["unbooked_minutes"] == 10


def test_a_practitioner_cannot_have_two_blocks_at_the_same_time_at_one_clinic(
    world: AdminWorld,
) -> None:
    w = world
    err = refused(w, **saturday_block(w, weekday=0, start="11:00", end="13:00"))
    assert (err.code, err.field) == ("OVERLAPPING_BLOCK", "start")
    assert "Monday 09:00–12:00 block at Harbor Main" in err.message
    assert "first on Wed 18 Mar 2026" not in err.message  # a Monday, not today
    assert "first on Mon 23 Mar 2026" in err.message
    # Back to back is fine.
    create_schedule_block(
        w.ctx, w.admin, w.org_id, **saturday_block(w, weekday=0, start="12:00", end="13:00")
    )


def test_nor_at_two_clinics_whose_clocks_differ(world: AdminWorld) -> None:
    w = world
    # Monday 09:00-12:00 in New York is 06:00/07:00-09:00/10:00 in Phoenix (EDT from 8 Mar).
    err = refused(
        w, **saturday_block(w, clinic_id=w.phoenix_id, weekday=0, start="08:00", end="10:00")
    )
    assert err.code == "OVERLAPPING_BLOCK" and "Harbor Main" in err.message
    ok = create_schedule_block(
        w.ctx,
        w.admin,
        w.org_id,
        **saturday_block(w, clinic_id=w.phoenix_id, weekday=0, start="10:00", end="12:00"),
    )
    assert ok.id


def test_the_practitioner_must_be_assigned_to_the_clinic_for_the_whole_validity(
    world: AdminWorld,
) -> None:
    w = world
    with w.db.transaction() as s:
        from data.models import Clinic, Organization

        org = s.get(Organization, w.org_id)
        clinic = s.get(Clinic, w.clinic_id)
        newcomer = make_practitioner(s, org, [], name="Dr. New").id
    err = refused(w, **saturday_block(w, practitioner_id=newcomer))
    assert (err.code, err.field) == ("NOT_ASSIGNED", "clinic")
    assert "Dr. New is not assigned to Harbor Main on Wed 18 Mar 2026" in err.message
    create_assignment(
        w.ctx,
        w.admin,
        w.org_id,
        practitioner_id=newcomer,
        clinic_id=clinic.id,
        active_from="2026-03-18",
        active_to="2026-06-30",
    )
    err = refused(w, **saturday_block(w, practitioner_id=newcomer))
    assert err.code == "NOT_ASSIGNED" and "on Wed 01 Jul 2026" in err.message
    create_schedule_block(
        w.ctx,
        w.admin,
        w.org_id,
        **saturday_block(w, practitioner_id=newcomer, valid_to="2026-06-30"),
    )


def test_an_inactive_practitioner_or_clinic_gets_no_new_blocks(world: AdminWorld) -> None:
    from domain.admin import set_clinic_active

    w = world
    set_clinic_active(w.ctx, w.admin, w.org_id, w.phoenix_id, False)
    err = refused(w, **saturday_block(w, clinic_id=w.phoenix_id))
    assert (err.code, err.field) == ("INACTIVE", "clinic")
    set_practitioner_active(w.ctx, w.admin, w.org_id, w.practitioner_id, False)
    err = refused(w, **saturday_block(w))
    assert (err.code, err.field) == ("INACTIVE", "practitioner")


def test_changing_hours_that_strands_a_booking_is_refused_with_the_list_until_confirmed(
    world: AdminWorld,
) -> None:
    w = world
    kept = w.book(local(MONDAY, time(9)))
    stranded = w.book(local(MONDAY, time(11, 30)))
    (block,) = [b for b in list_blocks(w.ctx, w.org_id) if b.weekday == 0]
    change = {
        "clinic_id": w.clinic_id,
        "weekday": 0,
        "start": "09:00",
        "end": "11:00",
        "slot_minutes": 30,
        "capacity": 1,
        "valid_from": None,
        "valid_to": None,
    }
    with pytest.raises(ConfirmationRequired) as caught:
        update_schedule_block(w.ctx, w.admin, w.org_id, block.id, **change)
    refusal = caught.value
    assert refusal.code == "CONFIRMATION_REQUIRED"
    assert refusal.appointment_ids == [stranded]
    (listed,) = refusal.affected
    assert listed.patient_name == "Maria Santos" and listed.when == "Mon 23 Mar 2026 11:30–12:00"
    assert w.events("SCHEDULE_CHANGED") == []  # refused: nothing written
    assert w.slot_times(MONDAY) == ["09:30", "10:00", "10:30", "11:00"]

    # A confirmation for another list does not do.
    with pytest.raises(ConfirmationRequired):
        update_schedule_block(
            w.ctx, w.admin, w.org_id, block.id, **change, confirmed_appointment_ids=[kept]
        )
    result = update_schedule_block(
        w.ctx, w.admin, w.org_id, block.id, **change, confirmed_appointment_ids=[stranded]
    )
    assert [a.id for a in result.affected] == [stranded]
    assert w.status_of(stranded) == "booked"  # nothing is cancelled
    # History: the block ran before today, so the change applies from today.
    assert any("apply from Wed 18 Mar 2026" in n for n in result.notes)
    with w.db.read() as s:
        old = s.get(Schedule, block.id)
        new = s.get(Schedule, result.id)
        assert old is not None and new is not None
        assert old.valid_to == date(2026, 3, 17) and old.end_time == time(12)
        assert new.valid_from == date(2026, 3, 18) and new.end_time == time(11)
    (event,) = w.events("SCHEDULE_CHANGED")
    assert event.priority == "high"
    assert event.payload["changes"]["end"] == {"before": "12:00", "after": "11:00"}
    assert event.payload["outside_schedule"]["ids"] == [stranded]
    assert event.payload["outside_schedule"]["appointments"][0]["patient"] == "Maria Santos"
    assert w.slot_times(MONDAY) == ["09:30", "10:00", "10:30"]


def test_a_block_not_yet_in_effect_is_changed_in_place(world: AdminWorld) -> None:
    w = world
    created = create_schedule_block(
        w.ctx, w.admin, w.org_id, **saturday_block(w, valid_from="2026-04-01")
    )
    result = update_schedule_block(
        w.ctx,
        w.admin,
        w.org_id,
        created.id,
        clinic_id=w.clinic_id,
        weekday=5,
        start="08:00",
        end="12:00",
        slot_minutes=20,
        capacity=2,
        valid_from="2026-04-01",
        valid_to=None,
    )
    assert result.id == created.id and result.notes == []
    (row,) = list_blocks(w.ctx, w.org_id, practitioner_id=w.practitioner_id)[-1:]
    assert (row.start, row.slot_minutes, row.capacity) == (time(8), 20, 2)


def test_ending_a_block_with_bookings_after_its_last_day_needs_confirmation(
    world: AdminWorld,
) -> None:
    w = world
    created = create_schedule_block(w.ctx, w.admin, w.org_id, **saturday_block(w))
    booked = w.book(local(NEXT_SATURDAY, time(10)))
    with pytest.raises(ConfirmationRequired) as caught:
        end_schedule_block(w.ctx, w.admin, w.org_id, created.id, last_day=SATURDAY)
    assert caught.value.appointment_ids == [booked]
    result = end_schedule_block(
        w.ctx, w.admin, w.org_id, created.id, last_day=SATURDAY, confirmed_appointment_ids=[booked]
    )
    assert result.message == (
        "Dr. Ana Lee: Saturday 09:00–12:00 at Harbor Main ends after Sat 21 Mar 2026."
    )
    assert w.slot_times(SATURDAY) and w.slot_times(NEXT_SATURDAY) == []
    assert w.status_of(booked) == "booked"
    err = refused(w, fn=end_schedule_block, schedule_id=created.id, last_day="2026-03-01")
    assert err.code == "PERIOD_IN_PAST"


def test_a_block_that_never_took_effect_is_removed_not_ended(world: AdminWorld) -> None:
    w = world
    created = create_schedule_block(
        w.ctx, w.admin, w.org_id, **saturday_block(w, valid_from="2026-04-04")
    )
    result = end_schedule_block(w.ctx, w.admin, w.org_id, created.id)
    assert "removed (it had not started yet)" in result.message
    with w.db.read() as s:
        assert s.get(Schedule, created.id) is None
    assert [e.event_type for e in w.events()][-1] == "SCHEDULE_DELETED"


def test_a_manager_may_look_but_not_change_and_other_organizations_ids_are_unknown(
    world: AdminWorld,
) -> None:
    w = world
    with pytest.raises(PermissionDenied):
        create_schedule_block(w.ctx, w.manager, w.org_id, **saturday_block(w))
    from domain.actor import Actor

    stranger = Actor(999, "Other Admin", "admin", w.org_id + 1000)
    with pytest.raises(PermissionDenied):
        create_schedule_block(w.ctx, stranger, w.org_id, **saturday_block(w))
    with w.db.transaction() as s:
        other_org = make_org(s)
        other_clinic = make_clinic(s, other_org)
        other = make_practitioner(s, other_org, [other_clinic])
        (foreign_block,) = make_schedule(s, other, other_clinic, weekdays=(0,))
        foreign = {"practitioner": other.id, "clinic": other_clinic.id, "block": foreign_block.id}
    err = refused(w, fn=end_schedule_block, schedule_id=foreign["block"])
    assert err.code == "NOT_FOUND"
    err = refused(w, **saturday_block(w, practitioner_id=foreign["practitioner"]))
    assert (err.code, err.field) == ("NOT_FOUND", "practitioner")
    err = refused(w, **saturday_block(w, clinic_id=foreign["clinic"]))
    assert (err.code, err.field) == ("NOT_FOUND", "clinic")


def test_the_week_grid_shows_each_days_blocks_and_exceptions(world: AdminWorld) -> None:
    from domain.admin import create_exception

    w = world
    create_schedule_block(w.ctx, w.admin, w.org_id, **saturday_block(w))
    create_exception(
        w.ctx,
        w.admin,
        w.org_id,
        reason="leave",
        practitioner_id=w.practitioner_id,
        start_date=THURSDAY,
        start_time="10:00",
        end_time="12:00",
    )
    plan = week_plan(w.ctx, w.org_id, date(2026, 3, 16), practitioner_id=w.practitioner_id)
    assert [len(plan.blocks[d]) for d in plan.days] == [1, 1, 1, 1, 1, 1, 0]
    ((leave, frm, to),) = plan.exceptions[THURSDAY]
    assert (frm, to) == (time(10), time(12)) and leave.label == "Leave of Dr. Ana Lee"
    by_clinic = week_plan(w.ctx, w.org_id, date(2026, 3, 16), clinic_id=w.phoenix_id)
    assert all(not by_clinic.blocks[d] for d in by_clinic.days)


def test_the_activity_feed_reads_each_administration_change(world: AdminWorld) -> None:
    from domain.activity import get_activity_feed
    from domain.admin import create_exception, update_organization_settings

    w = world
    made = create_schedule_block(w.ctx, w.admin, w.org_id, **saturday_block(w))
    update_schedule_block(
        w.ctx,
        w.admin,
        w.org_id,
        made.id,
        clinic_id=w.clinic_id,
        weekday=5,
        start="09:00",
        end="11:00",
        slot_minutes=30,
        capacity=1,
        valid_from=None,
        valid_to=None,
    )
    create_exception(
        w.ctx,
        w.admin,
        w.org_id,
        reason="leave",
        practitioner_id=w.practitioner_id,
        start_date=SATURDAY,
    )
    update_organization_settings(
        w.ctx, w.admin, w.org_id, buffer_minutes=10, min_notice_minutes=0, booking_horizon_days=365
    )
    lines = [e.summary for e in reversed(get_activity_feed(w.ctx, w.org_id))]
    assert lines == [
        "Alex Admin added Dr. Ana Lee's Saturday 09:00–12:00 block at Harbor Main",
        "Alex Admin changed Dr. Ana Lee's Saturday 09:00–12:00 block at Harbor Main: "
        "end 12:00 → 11:00",
        "Alex Admin recorded leave of Dr. Ana Lee Sat 21 Mar 2026, all day",
        "Alex Admin changed the settings: buffer (minutes) 0 → 10",
    ]
