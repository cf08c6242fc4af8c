"""The Today board: the day's appointments in the actor's reach, the one-click steps each
allows now, and the counts per status."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.appointment_views import get_today_appointments
from domain.appointments import cancel_appointment, update_appointment_status
from domain.calendar import get_today_board
from domain.permissions import PermissionDenied
from tests.integration.appointments.conftest import MONDAY, TUESDAY, World, at


def _day(world: World) -> dict[str, int]:
    """Four appointments on Monday (two practitioners), one on Tuesday."""
    ids = {
        "ada9": world.book(at(MONDAY, 9)).id,
        "ada10": world.book(at(MONDAY, 10), patient=world.patient_ids[1]).id,
        "grace11": world.book(
            at(MONDAY, 11), patient=world.patient_ids[2], practitioner_id=world.colleague_id
        ).id,
        "ada12": world.book(at(MONDAY, 12), patient=world.patient_ids[3]).id,
        "tuesday": world.book(at(TUESDAY, 9)).id,
    }
    return ids


def test_the_board_counts_statuses_and_offers_the_next_step(world: World) -> None:
    ids = _day(world)
    cancel_appointment(world.ctx, world.org_id, ids["ada12"], world.front_desk, "emergency")
    world.now = at(MONDAY, 9, 5)
    update_appointment_status(world.ctx, world.org_id, ids["ada9"], "arrived", world.front_desk)
    board = get_today_board(world.ctx, world.org_id, actor=world.front_desk)
    assert [r.appointment.id for r in board.rows] == [
        ids["ada9"],
        ids["ada10"],
        ids["grace11"],
        ids["ada12"],
    ]
    assert board.counts == {"arrived": 1, "booked": 2, "cancelled": 1}
    assert board.active == 3
    assert board.days == [MONDAY]
    quick = {r.appointment.id: r.quick for r in board.rows}
    assert quick[ids["ada9"]] == ("in-progress",)
    assert quick[ids["ada10"]] == ("arrived",)
    assert quick[ids["ada12"]] == ()
    more = {r.appointment.id: r.more for r in board.rows}
    # Booked: confirm, cancel; arrived: cancel; cancelled: nothing the front desk can undo.
    assert more[ids["ada10"]] and more[ids["ada9"]] and not more[ids["ada12"]]
    hidden = get_today_board(
        world.ctx, world.org_id, actor=world.front_desk, include_cancelled=False
    )
    assert ids["ada12"] not in [r.appointment.id for r in hidden.rows]
    assert hidden.counts == board.counts  # the counts still say one was cancelled


def test_a_manager_sees_the_day_but_gets_no_buttons(world: World) -> None:
    _day(world)
    board = get_today_board(world.ctx, world.org_id, actor=world.manager)
    assert len(board.rows) == 4
    assert all(r.quick == () and not r.more for r in board.rows)


def test_a_practitioners_login_sees_only_their_own_day(world: World) -> None:
    ids = _day(world)
    board = get_today_board(world.ctx, world.org_id, actor=world.practitioner)
    assert {r.appointment.practitioner_id for r in board.rows} == {world.practitioner_id}
    assert ids["grace11"] not in [r.appointment.id for r in board.rows]
    with pytest.raises(PermissionDenied):
        get_today_board(
            world.ctx, world.org_id, actor=world.practitioner, practitioner_id=world.colleague_id
        )
    # A coordinator books and cancels but has no Today view.
    with pytest.raises(PermissionDenied):
        get_today_appointments(world.ctx, world.org_id, actor=world.coordinator)


def test_another_organizations_user_is_refused(world: World) -> None:
    from domain.actor import Actor

    stranger = Actor(999, "Stranger", "admin", world.org_id + 1000, None)
    with pytest.raises(PermissionDenied):
        get_today_board(world.ctx, world.org_id, actor=stranger)


def test_an_empty_day_still_names_the_date(world: World) -> None:
    world.now = at(MONDAY, 8) + timedelta(days=2)
    board = get_today_board(world.ctx, world.org_id, actor=world.admin)
    assert board.rows == [] and board.counts == {} and board.active == 0
    assert board.days == [MONDAY + timedelta(days=2)]
