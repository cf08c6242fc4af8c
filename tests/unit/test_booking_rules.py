"""The one booking rule: what availability offers and what booking accepts.

Named cases first (each code, each decision documented in domain/booking_rules.py), then
the properties that tie availability and booking together over random days.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from domain.booking_rules import (
    BEYOND_HORIZON,
    BUFFER,
    CONFLICT,
    EXCEPTION,
    IN_PAST,
    INSIDE_MIN_NOTICE,
    INVALID_DURATION,
    OUTSIDE_SCHEDULE,
    WRONG_TYPE_FOR_BLOCK,
    BookingRequest,
    check_booking,
)
from tests.unit.rule_builders import (
    MONDAY,
    NY,
    PHOENIX,
    at,
    block,
    booking,
    check,
    leave,
    offered_times,
    offers,
    plan,
)


def test_a_free_day_offers_every_slot_and_booking_any_of_them_is_accepted() -> None:
    day = plan([block(start=(9, 0), end=(11, 0))])
    assert offered_times(day) == ["09:00", "09:30", "10:00", "10:30"]
    assert all(o[3] == 1 for o in offers(day))
    assert check(day, at(MONDAY, 10, 30)) is None


def test_a_booked_slot_is_hidden_and_booking_it_again_names_the_appointment() -> None:
    taken = booking(at(MONDAY, 9, 30), id=4411)
    day = plan([block(start=(9, 0), end=(11, 0))], [taken])
    assert offered_times(day) == ["09:00", "10:00", "10:30"]
    violation = check(day, at(MONDAY, 9, 30))
    assert violation is not None and violation.code == CONFLICT
    assert "#4411" in violation.message and "09:30" in violation.message
    assert violation.details["appointment_id"] == 4411


def test_an_appointment_spanning_two_slots_takes_both() -> None:
    day = plan([block(start=(9, 0), end=(11, 0))], [booking(at(MONDAY, 9, 0), minutes=60)])
    assert offered_times(day) == ["10:00", "10:30"]
    assert check(day, at(MONDAY, 9, 30)).code == CONFLICT  # type: ignore[union-attr]


def test_a_long_request_needs_every_slot_it_covers_free() -> None:
    day = plan([block(start=(9, 0), end=(11, 0))], [booking(at(MONDAY, 10, 0))])
    # 09:00-10:00 fits; 09:30-10:30 and 10:00-11:00 hit the booking; 10:30 runs past 11:00.
    assert offered_times(day, duration=60) == ["09:00"]
    assert check(day, at(MONDAY, 9, 0), 60) is None
    assert check(day, at(MONDAY, 9, 30), 60).code == CONFLICT  # type: ignore[union-attr]
    assert check(day, at(MONDAY, 10, 30), 60).code == OUTSIDE_SCHEDULE  # type: ignore[union-attr]


def test_group_slot_with_capacity_8_and_7_bookings_has_one_seat_left() -> None:
    group = block(start=(17, 30), end=(19, 0), minutes=90, capacity=8, appointment_type_id=2)
    seats = [booking(at(MONDAY, 17, 30), minutes=90) for _ in range(7)]
    day = plan([group], seats)
    (slot,) = offers(day)
    assert slot[2:4] == (8, 1)
    assert check(day, at(MONDAY, 17, 30), 90, appointment_type_id=2) is None


def test_group_slot_with_capacity_8_and_8_bookings_is_gone_and_refused_as_full() -> None:
    group = block(start=(17, 30), end=(19, 0), minutes=90, capacity=8, appointment_type_id=2)
    seats = [booking(at(MONDAY, 17, 30), minutes=90) for _ in range(8)]
    day = plan([group], seats)
    assert offers(day) == []
    violation = check(day, at(MONDAY, 17, 30), 90, appointment_type_id=2)
    assert violation is not None and violation.code == CONFLICT
    assert "8 of 8 seats" in violation.message
    assert len(violation.details["appointment_ids"]) == 8


def test_cancelled_and_other_statuses_decide_whether_a_booking_holds_time() -> None:
    blocks = [block(start=(9, 0), end=(10, 0))]
    for status in ("pending", "booked", "confirmed", "arrived", "in-progress", "completed"):
        assert offered_times(plan(blocks, [booking(at(MONDAY, 9, 0), status=status)])) == ["09:30"]
    assert offered_times(plan(blocks, [booking(at(MONDAY, 9, 0), status="no-show")])) == ["09:30"]
    cancelled = plan(blocks, [booking(at(MONDAY, 9, 0), status="cancelled")])
    assert offered_times(cancelled) == ["09:00", "09:30"]


def test_an_appointment_at_another_clinic_blocks_the_practitioner_here() -> None:
    elsewhere = booking(at(MONDAY, 9, 0), clinic_id=2, id=5)
    day = plan([block(start=(9, 0), end=(10, 0))], [elsewhere])
    assert offered_times(day) == ["09:30"]
    violation = check(day, at(MONDAY, 9, 0))
    assert violation is not None and "at Downtown Clinic" in violation.message


def test_another_practitioners_appointment_changes_nothing() -> None:
    other = booking(at(MONDAY, 9, 0), practitioner_id=2)
    day = plan([block(start=(9, 0), end=(10, 0))], [other])
    assert offered_times(day) == ["09:00", "09:30"]


# --------------------------------------------------------------------------- buffer


def test_buffer_moves_the_next_offer_to_945_after_a_9_to_930_appointment() -> None:
    day = plan([block(start=(9, 0), end=(11, 0))], [booking(at(MONDAY, 9, 0))], buffer=15)
    # 09:30 is inside the buffer; the offer moves within its slot to 09:45; 10:00 as usual.
    assert offered_times(day) == ["09:45", "10:00", "10:30"]
    moved = offers(day)[0]
    assert moved[1] - moved[0] == 30 * 60


def test_booking_inside_the_buffer_is_refused_with_the_earliest_start() -> None:
    day = plan([block(start=(9, 0), end=(11, 0))], [booking(at(MONDAY, 9, 0), id=12)], buffer=15)
    violation = check(day, at(MONDAY, 9, 30))
    assert violation is not None and violation.code == BUFFER
    assert "#12" in violation.message and "15 minutes" in violation.message
    assert "09:45" in violation.message
    assert violation.details["earliest_start"] == at(MONDAY, 9, 45)
    assert check(day, at(MONDAY, 9, 40)).code == BUFFER  # type: ignore[union-attr]
    assert check(day, at(MONDAY, 9, 45)) is None  # off the grid, but the rules hold


def test_buffer_applies_before_an_appointment_too() -> None:
    day = plan([block(start=(9, 0), end=(11, 0))], [booking(at(MONDAY, 10, 0))], buffer=15)
    # 09:30-10:00 would end 0 minutes before the 10:00 appointment.
    assert offered_times(day) == ["09:00"]
    violation = check(day, at(MONDAY, 9, 30))
    assert violation is not None and violation.code == BUFFER
    assert "must end by 09:45" in violation.message
    assert check(day, at(MONDAY, 9, 15)) is None


def test_buffer_does_not_separate_the_seats_of_a_group_slot() -> None:
    blocks = [
        block(start=(9, 0), end=(10, 0), id=1),
        block(start=(10, 0), end=(11, 0), minutes=60, capacity=3, id=2),
    ]
    seats = [booking(at(MONDAY, 10, 0), minutes=60) for _ in range(2)]
    day = plan(blocks, seats, buffer=15)
    # One seat left in the group slot; the individual 09:30 slot is not pushed away by
    # the group seats (they are not individual appointments).
    assert offered_times(day) == ["09:00", "09:30", "10:00"]
    assert offers(day)[-1][2:4] == (3, 1)


def test_buffer_between_individual_appointments_of_different_clinics() -> None:
    day = plan(
        [block(start=(9, 0), end=(11, 0))],
        [booking(at(MONDAY, 9, 0), clinic_id=2)],
        buffer=15,
    )
    assert offered_times(day) == ["09:45", "10:00", "10:30"]


# --------------------------------------------------------------------------- exceptions


def test_an_exception_covering_half_a_day_removes_only_that_half() -> None:
    morning_off = leave(at(MONDAY, 0, 0), at(MONDAY, 13, 0), note="Dentist")
    day = plan(
        [block(start=(9, 0), end=(12, 0), id=1), block(start=(13, 0), end=(15, 0), id=2)],
        exceptions=[morning_off],
    )
    assert offered_times(day) == ["13:00", "13:30", "14:00", "14:30"]
    violation = check(day, at(MONDAY, 10, 0))
    assert violation is not None and violation.code == EXCEPTION
    assert "Dr. Ana Lee is unavailable" in violation.message and "Dentist" in violation.message
    assert violation.details["exception_id"] == morning_off.id


def test_an_exception_removes_every_slot_it_touches() -> None:
    day = plan(
        [block(start=(9, 0), end=(11, 0))], exceptions=[leave(at(MONDAY, 9, 45), at(MONDAY, 10, 5))]
    )
    assert offered_times(day) == ["09:00", "10:30"]


def test_clinic_closure_applies_to_everyone_at_that_clinic_only() -> None:
    closure = leave(
        at(MONDAY, 0, 0),
        at(MONDAY, 23, 59),
        practitioner_id=None,
        clinic_id=1,
        reason="clinic-closure",
        note="Building maintenance",
    )
    blocks = [
        block(start=(9, 0), end=(10, 0), id=1),
        block(start=(9, 0), end=(10, 0), id=2, clinic_id=2),
    ]
    day = plan(blocks, exceptions=[closure])
    assert offered_times(day, 1) == []
    assert offered_times(day, 2) == ["09:00", "09:30"]
    violation = check(day, at(MONDAY, 9, 0))
    assert violation is not None
    assert violation.message.startswith("Harbor Main Clinic is closed")
    assert "clinic closure: Building maintenance" in violation.message


def test_organization_wide_holiday_closes_every_clinic() -> None:
    holiday = leave(
        at(MONDAY, 0, 0),
        at(MONDAY, 23, 0),
        practitioner_id=None,
        reason="holiday",
        note="Founders' Day",
    )
    blocks = [block(id=1), block(id=2, clinic_id=2)]
    day = plan(blocks, exceptions=[holiday])
    assert offered_times(day, 1) == [] and offered_times(day, 2) == []
    assert check(day, at(MONDAY, 9, 0)).message.startswith("All clinics are closed")  # type: ignore[union-attr]


def test_leave_at_one_clinic_and_other_peoples_leave() -> None:
    only_downtown = leave(at(MONDAY, 0, 0), at(MONDAY, 23, 0), clinic_id=2)
    someone_else = leave(at(MONDAY, 0, 0), at(MONDAY, 23, 0), practitioner_id=2)
    blocks = [
        block(start=(9, 0), end=(10, 0), id=1),
        block(start=(11, 0), end=(12, 0), id=2, clinic_id=2),
    ]
    day = plan(blocks, exceptions=[only_downtown, someone_else])
    assert offered_times(day, 1) == ["09:00", "09:30"]
    assert offered_times(day, 2) == []


# --------------------------------------------------------------------------- schedule


def test_a_schedule_valid_only_from_next_week_offers_nothing_this_week() -> None:
    next_week = MONDAY + timedelta(days=7)
    future_block = block(valid_from=next_week)
    assert offers(plan([future_block])) == []
    assert offers(plan([future_block], day=next_week))
    violation = check(plan([future_block]), at(MONDAY, 9, 0))
    assert violation is not None and violation.code == OUTSIDE_SCHEDULE
    assert "has no hours at Harbor Main Clinic on Mon 16 Mar 2026" in violation.message


def test_outside_schedule_names_the_hours_of_that_day() -> None:
    day = plan([block(start=(9, 0), end=(12, 0), id=1), block(start=(13, 0), end=(17, 0), id=2)])
    violation = check(day, at(MONDAY, 12, 0))
    assert violation is not None and violation.code == OUTSIDE_SCHEDULE
    assert "from 09:00 to 12:00 and from 13:00 to 17:00" in violation.message
    assert violation.details["schedule_hours"] == [("09:00", "12:00"), ("13:00", "17:00")]
    # Running past the end of a block is outside the hours too.
    assert check(day, at(MONDAY, 11, 30), 60).code == OUTSIDE_SCHEDULE  # type: ignore[union-attr]


def test_adjacent_blocks_join_up_for_a_long_appointment() -> None:
    day = plan([block(start=(9, 0), end=(10, 0), id=1), block(start=(10, 0), end=(11, 0), id=2)])
    assert check(day, at(MONDAY, 9, 30), 60) is None


def test_a_block_for_one_type_refuses_the_others() -> None:
    group = block(start=(17, 30), end=(19, 0), minutes=90, capacity=8, appointment_type_id=2)
    day = plan([block(start=(9, 0), end=(10, 0), id=5), group])
    violation = check(day, at(MONDAY, 17, 30), 90, appointment_type_id=1)
    assert violation is not None and violation.code == WRONG_TYPE_FOR_BLOCK
    assert "reserved for Group therapy" in violation.message and "Follow-up" in violation.message
    assert offered_times(day, appointment_type_id=2) == ["09:00", "09:30", "17:30"]
    assert offered_times(day, appointment_type_id=1) == ["09:00", "09:30"]
    assert offers(day)[-1][4] == 2  # the offer says which type the block takes


def test_slots_are_in_the_clinics_zone() -> None:
    day = plan([block(start=(9, 0), end=(10, 0))], zones={1: PHOENIX})
    assert offered_times(day) == ["09:00", "09:30"]
    assert offers(day)[0][0] == int(at(MONDAY, 9, 0, PHOENIX).timestamp())


# --------------------------------------------------------------------------- time


def test_past_slots_are_neither_offered_nor_bookable() -> None:
    day = plan([block(start=(9, 0), end=(11, 0))])
    now = at(MONDAY, 9, 40)
    assert offered_times(day, now=now) == ["10:00", "10:30"]
    violation = check(day, at(MONDAY, 9, 30), now=now)
    assert violation is not None and violation.code == IN_PAST
    assert "has already passed" in violation.message


def test_minimum_notice_hides_slots_starting_too_soon() -> None:
    day = plan([block(start=(9, 0), end=(12, 0))], notice=120)
    now = at(MONDAY, 8, 10)
    assert offered_times(day, now=now) == ["10:30", "11:00", "11:30"]
    violation = check(day, at(MONDAY, 10, 0), now=now)
    assert violation is not None and violation.code == INSIDE_MIN_NOTICE
    assert "at least 2 hours' notice" in violation.message and "10:10" in violation.message


def test_slots_beyond_the_booking_horizon_are_not_offered() -> None:
    day = plan([block(start=(9, 0), end=(10, 0))], horizon=30)
    now = at(MONDAY - timedelta(days=31), 12, 0)
    assert offers(day, now=now) == []
    violation = check(day, at(MONDAY, 9, 0), now=now)
    assert violation is not None and violation.code == BEYOND_HORIZON
    assert "open 30 days ahead" in violation.message and "Sun 15 Mar 2026" in violation.message
    assert offers(day, now=now + timedelta(days=1))


@pytest.mark.parametrize("minutes", [0, -30, 12 * 60 + 1])
def test_a_duration_out_of_range_is_refused(minutes: int) -> None:
    violation = check(plan([block()]), at(MONDAY, 9, 0), minutes)
    assert violation is not None and violation.code == INVALID_DURATION


def test_rescheduling_an_appointment_onto_its_own_time_is_allowed() -> None:
    mine = booking(at(MONDAY, 9, 0), id=99)
    blocks = [block(start=(9, 0), end=(11, 0))]
    assert check(plan(blocks, [mine]), at(MONDAY, 9, 0)).code == CONFLICT  # type: ignore[union-attr]
    assert check(plan(blocks, [mine], exclude=99), at(MONDAY, 9, 0), exclude=99) is None


def test_the_rule_refuses_a_day_built_for_someone_else() -> None:
    request = BookingRequest(2, 1, at(MONDAY, 9, 0), 30, 1)
    with pytest.raises(ValueError):
        check_booking(plan([block()]), request, None)


def test_time_zones_are_required() -> None:
    with pytest.raises(ValueError):
        check(plan([block()]), datetime(2026, 3, 16, 9, 0))


def test_messages_use_the_clinics_local_time() -> None:
    day = plan([block(start=(9, 0), end=(10, 0))], [booking(at(MONDAY, 9, 0, NY))])
    violation = check(day, at(MONDAY, 9, 0))
    assert violation is not None and "Mon 16 Mar 2026 09:00" in violation.message


def test_slot_capacity_tells_individual_from_group_appointments() -> None:
    group = block(start=(17, 30), end=(19, 0), minutes=90, capacity=8, appointment_type_id=2)
    day = plan([block(start=(9, 0), end=(10, 0), id=5), group])
    assert day.slot_capacity(1, at(MONDAY, 9, 0), at(MONDAY, 9, 30)) == 1
    assert day.slot_capacity(1, at(MONDAY, 17, 30), at(MONDAY, 19, 0)) == 8
    assert day.slot_capacity(1, at(MONDAY, 12, 0), at(MONDAY, 12, 30)) == 0
    assert day.slot_capacity(2, at(MONDAY, 9, 0), at(MONDAY, 9, 30)) == 0
    cells = day.clinics[1].cells
    assert cells[0].capacity == cells[0][2] == 1  # fields by name or by position
