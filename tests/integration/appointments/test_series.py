"""Recurring series: preview with each occurrence's own validation result, booking the
chosen occurrences all or nothing, edit and cancel with scope, DST-proof wall-clock
times, permissions; on both stores."""

from __future__ import annotations

from datetime import date, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from data.models import (
    ActivityEvent,
    Appointment,
    AppointmentSeries,
    Notification,
    Organization,
    Practitioner,
)
from domain import activity
from domain.appointments import (
    SeriesBooking,
    book_series,
    cancel_series,
    get_appointment,
    get_series_overview,
    preview_series,
    update_series,
)
from domain.availability import get_practitioner_slots, invalidate_organization
from domain.errors import BookingError
from domain.permissions import PermissionDenied
from domain.series import Recurrence
from tests.factories import make_exception
from tests.integration.appointments.conftest import TZ, World, at

NY = ZoneInfo(TZ)
# Tuesdays around New York's spring-forward (Sunday 10 March 2030) and fall-back
# (Sunday 3 November 2030).
BEFORE_SPRING = date(2030, 2, 26)
BEFORE_FALL = date(2030, 10, 22)
SERIES_DAY = date(2030, 1, 15)  # a Tuesday, a week after "now"


def _args(world: World, first_day: date = SERIES_DAY, hour: int = 10, **kw: object) -> dict:
    args: dict = {
        "patient_id": world.patient_id,
        "practitioner_id": world.practitioner_id,
        "clinic_id": world.clinic_id,
        "first_start": at(first_day, hour),
        "appointment_type_id": world.type_id,
        "rule": Recurrence(interval_weeks=1, count=6),
        "actor": world.front_desk,
    }
    args.update(kw)
    return args


def _book_all(world: World, **kw: object) -> SeriesBooking:
    args = _args(world, **kw)
    preview = preview_series(world.ctx, world.org_id, **args)
    return book_series(world.ctx, world.org_id, chosen=[o.start for o in preview.bookable], **args)


def _count(world: World, model: type) -> int:
    with world.db.read() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def _local(view) -> tuple[date, time]:  # type: ignore[no-untyped-def]
    local = view.start_at.astimezone(NY)
    return local.date(), local.time()


# --------------------------------------------------------------------------- DST


@pytest.mark.parametrize("first_day", [BEFORE_SPRING, BEFORE_FALL], ids=["march", "november"])
def test_a_series_across_a_dst_change_keeps_its_local_wall_clock_time(
    world: World, first_day: date
) -> None:
    booked = _book_all(world, first_day=first_day, rule=Recurrence(interval_weeks=1, count=4))

    assert [_local(v) for v in booked.booked] == [
        (first_day + timedelta(weeks=k), time(10)) for k in range(4)
    ]
    # The UTC instants do move by the hour the clocks change.
    offsets = {v.start_at.astimezone(NY).utcoffset() for v in booked.booked}
    assert offsets == {timedelta(hours=-5), timedelta(hours=-4)}


def test_every_two_weeks_until_a_date(world: World) -> None:
    rule = Recurrence(interval_weeks=2, until=date(2030, 2, 26))
    preview = preview_series(world.ctx, world.org_id, **_args(world, rule=rule))

    assert [o.start.astimezone(NY).date() for o in preview.occurrences] == [
        date(2030, 1, 15),
        date(2030, 1, 29),
        date(2030, 2, 12),
        date(2030, 2, 26),
    ]
    assert all(o.ok for o in preview.occurrences)


def test_the_series_stops_at_the_booking_horizon(world: World) -> None:
    with world.db.transaction() as s:
        s.get_one(Organization, world.org_id).booking_horizon_days = 30
    invalidate_organization(world.ctx, world.org_id)
    preview = preview_series(
        world.ctx, world.org_id, **_args(world, rule=Recurrence(interval_weeks=1, count=10))
    )

    last = world.now.astimezone(NY).date() + timedelta(days=30)
    assert preview.cut_at_horizon == last
    assert [o.start.astimezone(NY).date() for o in preview.occurrences] == [
        SERIES_DAY + timedelta(weeks=k) for k in range(4)
    ]


# --------------------------------------------------------------------------- preview


def test_the_preview_marks_a_conflicting_week_with_its_specific_refusal(world: World) -> None:
    other = world.book(at(SERIES_DAY + timedelta(weeks=2), 10), patient=world.patient_ids[1])
    world.book(at(SERIES_DAY + timedelta(weeks=4), 10), patient=world.patient_ids[2])

    preview = preview_series(world.ctx, world.org_id, **_args(world))

    codes = [o.code for o in preview.occurrences]
    assert codes == [None, None, "CONFLICT", None, "CONFLICT", None]
    third = preview.occurrences[2]
    assert not third.ok and third.number == 3
    assert "already" in (third.message or "").lower()
    assert other.id  # the conflicting booking is untouched
    # A preview writes nothing.
    assert _count(world, AppointmentSeries) == 0
    assert _count(world, Appointment) == 2


def test_the_preview_names_a_leave_day_and_a_patient_double_booking(world: World) -> None:
    leave_day = SERIES_DAY + timedelta(weeks=1)
    with world.db.transaction() as s:
        make_exception(
            s,
            s.get_one(Organization, world.org_id),
            at(leave_day, 0),
            at(leave_day + timedelta(days=1), 0),
            practitioner=s.get_one(Practitioner, world.practitioner_id),
        )
    invalidate_organization(world.ctx, world.org_id)
    # The patient sees a colleague at that time in week 4.
    world.book(at(SERIES_DAY + timedelta(weeks=3), 10), practitioner_id=world.colleague_id)

    preview = preview_series(world.ctx, world.org_id, **_args(world))

    assert [o.code for o in preview.occurrences] == [
        None,
        "EXCEPTION",
        None,
        "PATIENT_OVERLAP",
        None,
        None,
    ]


def test_a_refusal_about_the_whole_series_is_raised_not_repeated(world: World) -> None:
    with pytest.raises(BookingError) as info:
        preview_series(world.ctx, world.org_id, **_args(world, patient_id=999_999))
    assert info.value.code == "PATIENT_NOT_FOUND"
    with pytest.raises(BookingError) as info:
        preview_series(
            world.ctx, world.org_id, **_args(world, rule=Recurrence(interval_weeks=0, count=3))
        )
    assert info.value.code == "INVALID_SERIES"


# --------------------------------------------------------------------------- booking


def test_booking_books_only_the_chosen_occurrences_linked_to_their_series(world: World) -> None:
    world.book(at(SERIES_DAY + timedelta(weeks=2), 10), patient=world.patient_ids[1])
    args = _args(world)
    preview = preview_series(world.ctx, world.org_id, **args)
    chosen = [o.start for o in preview.bookable if o.number != 6]

    result = book_series(world.ctx, world.org_id, chosen=chosen, notes="Physio block", **args)

    assert [v.start_at for v in result.booked] == chosen
    assert len(result.booked) == 4
    assert {v.series_id for v in result.booked} == {result.series_id}
    assert all(v.status == "booked" and v.notes == "Physio block" for v in result.booked)
    assert [d.astimezone(NY).date() for d in result.skipped] == [
        SERIES_DAY + timedelta(weeks=2),
        SERIES_DAY + timedelta(weeks=5),
    ]
    with world.db.read() as s:
        series = s.get_one(AppointmentSeries, result.series_id)
        assert (series.interval_weeks, series.occurrence_count, series.local_time) == (
            1,
            6,
            time(10),
        )
        created = s.scalars(
            select(ActivityEvent).where(ActivityEvent.event_type == "APPOINTMENT_CREATED")
        ).all()
        assert sum(1 for e in created if e.payload.get("series_id") == result.series_id) == 4
        (event,) = s.scalars(
            select(ActivityEvent).where(ActivityEvent.event_type == activity.EVENT_SERIES_CREATED)
        ).all()
        assert event.payload["appointment_ids"] == [v.id for v in result.booked]
        # One message per recipient for the series, not one per occurrence.
        notes = s.scalars(select(Notification).where(Notification.event_id == event.id)).all()
        assert {n.title for n in notes} == {"New appointment series", "Appointments booked"}
    overview = get_series_overview(world.ctx, world.org_id, result.series_id)
    assert overview.position(result.booked[2].id) == 3


def test_booked_occurrences_leave_the_open_times_at_once(world: World) -> None:
    day = SERIES_DAY + timedelta(weeks=3)
    offered = get_practitioner_slots(world.ctx, world.org_id, world.practitioner_id, day)
    assert at(day, 10) in {s.start for s in offered}

    _book_all(world)

    offered = get_practitioner_slots(world.ctx, world.org_id, world.practitioner_id, day)
    assert at(day, 10) not in {s.start for s in offered}


def test_a_conflict_appearing_after_the_preview_books_nothing_and_names_the_occurrence(
    world: World,
) -> None:
    args = _args(world)
    preview = preview_series(world.ctx, world.org_id, **args)
    assert len(preview.bookable) == 6
    # Someone takes week 4 between the preview and the booking.
    world.book(at(SERIES_DAY + timedelta(weeks=3), 10), patient=world.patient_ids[2])

    with pytest.raises(BookingError) as info:
        book_series(world.ctx, world.org_id, chosen=[o.start for o in preview.bookable], **args)

    assert info.value.code == "CONFLICT"
    assert info.value.details["occurrence"] == 4
    assert info.value.message.startswith("Appointment 4 of the series (Tue 05 Feb")
    assert _count(world, AppointmentSeries) == 0
    assert _count(world, Appointment) == 1  # only the other patient's
    assert _count(world, Notification) == 2  # only that booking's


def test_a_start_that_is_not_an_occurrence_is_refused(world: World) -> None:
    args = _args(world)
    with pytest.raises(BookingError) as info:
        book_series(world.ctx, world.org_id, chosen=[at(SERIES_DAY, 11)], **args)
    assert info.value.code == "NOT_IN_SERIES"
    with pytest.raises(BookingError) as info:
        book_series(world.ctx, world.org_id, chosen=[], **args)
    assert info.value.code == "NOTHING_CHOSEN"


# --------------------------------------------------------------------------- scopes


def _statuses(world: World, ids: list[int]) -> list[str]:
    return [get_appointment(world.ctx, world.org_id, i).status for i in ids]


def test_cancel_this_one_then_this_and_following_then_all(world: World) -> None:
    ids = [v.id for v in _book_all(world).booked]

    only = cancel_series(world.ctx, world.org_id, ids[1], "this", world.front_desk, "other")
    assert [v.id for v in only.changed] == [ids[1]]
    assert _statuses(world, ids) == ["booked", "cancelled", *["booked"] * 4]

    following = cancel_series(
        world.ctx, world.org_id, ids[3], "following", world.front_desk, "patient-initiated"
    )
    assert [v.id for v in following.changed] == ids[3:]
    assert _statuses(world, ids) == ["booked", "cancelled", "booked", *["cancelled"] * 3]

    everything = cancel_series(
        world.ctx, world.org_id, ids[0], "all", world.front_desk, "practice-initiated"
    )
    assert [v.id for v in everything.changed] == [ids[0], ids[2]]
    assert {v.id for v, _why in everything.left_alone} == {ids[1], ids[3], ids[4], ids[5]}
    assert {why for _v, why in everything.left_alone} == {"already cancelled"}
    assert _statuses(world, ids) == ["cancelled"] * 6
    with world.db.read() as s:
        events = s.scalars(
            select(ActivityEvent).where(ActivityEvent.event_type == activity.EVENT_SERIES_CANCELLED)
        ).all()
        assert [e.payload["scope"] for e in events] == ["following", "all"]


def test_a_scope_leaves_past_occurrences_alone_and_says_so(world: World) -> None:
    ids = [v.id for v in _book_all(world).booked]
    world.now = at(SERIES_DAY + timedelta(weeks=1), 12)  # the first two are past

    result = cancel_series(world.ctx, world.org_id, ids[3], "all", world.coordinator, "other")

    assert [v.id for v in result.changed] == ids[2:]
    assert [(v.id, why) for v, why in result.left_alone] == [
        (ids[0], "already past"),
        (ids[1], "already past"),
    ]
    assert _statuses(world, ids[:2]) == ["booked", "booked"]


def test_edit_all_moves_each_occurrence_to_the_new_local_time_across_dst(world: World) -> None:
    booked = _book_all(world, first_day=BEFORE_SPRING, rule=Recurrence(interval_weeks=1, count=4))
    ids = [v.id for v in booked.booked]
    cancel_series(world.ctx, world.org_id, ids[0], "this", world.front_desk, "other")

    result = update_series(
        world.ctx,
        world.org_id,
        ids[1],
        "all",
        world.coordinator,
        local_time=time(14, 30),
        duration_minutes=60,
        notes="Moved to afternoons",
    )

    assert [v.id for v in result.changed] == ids[1:]
    assert [(v.id, why) for v, why in result.left_alone] == [(ids[0], "already cancelled")]
    for k, v in enumerate(result.changed, 1):
        assert _local(v) == (BEFORE_SPRING + timedelta(weeks=k), time(14, 30))
        assert v.duration_minutes == 60 and v.notes == "Moved to afternoons"
    assert _local(get_appointment(world.ctx, world.org_id, ids[0]))[1] == time(10)


def test_edit_this_and_following_leaves_the_earlier_ones(world: World) -> None:
    ids = [v.id for v in _book_all(world).booked]

    result = update_series(
        world.ctx, world.org_id, ids[2], "following", world.coordinator, local_time=time(9)
    )

    assert [v.id for v in result.changed] == ids[2:]
    hours = [_local(get_appointment(world.ctx, world.org_id, i))[1] for i in ids]
    assert hours == [time(10), time(10), *[time(9)] * 4]


def test_edit_this_one_changes_only_it(world: World) -> None:
    ids = [v.id for v in _book_all(world).booked]

    update_series(world.ctx, world.org_id, ids[4], "this", world.coordinator, local_time=time(16))

    hours = [_local(get_appointment(world.ctx, world.org_id, i))[1] for i in ids]
    assert hours == [*[time(10)] * 4, time(16), time(10)]


def test_an_edit_that_conflicts_anywhere_changes_nothing_and_names_the_occurrence(
    world: World,
) -> None:
    ids = [v.id for v in _book_all(world).booked]
    world.book(at(SERIES_DAY + timedelta(weeks=4), 15), patient=world.patient_ids[1])

    with pytest.raises(BookingError) as info:
        update_series(
            world.ctx, world.org_id, ids[0], "all", world.coordinator, local_time=time(15)
        )

    assert info.value.code == "CONFLICT"
    assert info.value.details["occurrence"] == 5
    assert "Appointment 5 of the series" in info.value.message
    hours = [_local(get_appointment(world.ctx, world.org_id, i))[1] for i in ids]
    assert hours == [time(10)] * 6


def test_a_single_appointment_has_no_series_scope(world: World) -> None:
    single = world.book(at(SERIES_DAY, 10))
    with pytest.raises(BookingError) as info:
        cancel_series(world.ctx, world.org_id, single.id, "all", world.front_desk, "other")
    assert info.value.code == "NOT_IN_SERIES"


# --------------------------------------------------------------------------- permissions


@pytest.mark.parametrize("who", ["manager", "practitioner"])
def test_only_roles_that_book_may_preview_or_book_a_series(world: World, who: str) -> None:
    actor = getattr(world, who)
    with pytest.raises(PermissionDenied):
        preview_series(world.ctx, world.org_id, **_args(world, actor=actor))
    with pytest.raises(PermissionDenied):
        book_series(
            world.ctx, world.org_id, chosen=[at(SERIES_DAY, 10)], **_args(world, actor=actor)
        )
    assert _count(world, Appointment) == 0


def test_scoped_changes_need_the_same_permissions_as_single_ones(world: World) -> None:
    ids = [v.id for v in _book_all(world, actor=world.coordinator).booked]
    with pytest.raises(PermissionDenied):
        cancel_series(world.ctx, world.org_id, ids[0], "all", world.manager, "other")
    with pytest.raises(PermissionDenied):  # front desk may not move appointments
        update_series(world.ctx, world.org_id, ids[0], "all", world.front_desk, local_time=time(11))
    # ... but may edit their notes.
    result = update_series(world.ctx, world.org_id, ids[0], "all", world.front_desk, notes="x")
    assert len(result.changed) == 6


def test_the_time_the_booking_form_holds_is_the_series_first_not_a_clash(world: World) -> None:
    """Opening the form on a slot holds it for the clerk; their series takes that seat."""
    from data.models import SlotHold
    from domain.holds import hold_slot

    args = _args(world)
    hold_slot(
        world.ctx,
        world.org_id,
        world.front_desk,
        practitioner_id=world.practitioner_id,
        clinic_id=world.clinic_id,
        start=args["first_start"],
        duration_minutes=30,
    )
    preview = preview_series(world.ctx, world.org_id, **args)
    assert [o.ok for o in preview.occurrences] == [True] * 6
    result = book_series(
        world.ctx, world.org_id, chosen=[o.start for o in preview.bookable], **args
    )
    assert len(result.booked) == 6
    assert _count(world, SlotHold) == 0  # the hold became the first appointment
    # Someone else's hold on a later week is still a clash for the clerk.
    other = _args(world, first_day=SERIES_DAY + timedelta(weeks=10))
    hold_slot(
        world.ctx,
        world.org_id,
        world.coordinator,
        practitioner_id=world.practitioner_id,
        clinic_id=world.clinic_id,
        start=other["first_start"] + timedelta(weeks=2),
        duration_minutes=30,
    )
    checks = preview_series(world.ctx, world.org_id, **other).occurrences
    assert [o.ok for o in checks] == [True, True, False, True, True, True]
