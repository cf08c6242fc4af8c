"""The role matrix says what issue 8 promised each role, and record scope holds."""

from __future__ import annotations

import pytest

from components.auth import PUBLIC, SIGNED_IN, normalize_access
from domain.actor import Actor
from domain.permissions import (
    ROLE_PERMISSIONS,
    Permission,
    PermissionDenied,
    require,
    require_practitioner_scope,
    require_status_change,
    role_has,
)

P = Permission


def actor(role: str, practitioner_id: int | None = None) -> Actor:
    return Actor(
        user_id=7, name="Someone", role=role, organization_id=1, practitioner_id=practitioner_id
    )


def test_managers_read_everything_and_change_nothing() -> None:
    manager = ROLE_PERMISSIONS["manager"]
    assert {P.VIEW_ANALYTICS, P.VIEW_CALENDAR, P.ALL_PRACTITIONERS, P.VIEW_SETTINGS} <= manager
    assert not manager & {P.BOOK, P.RESCHEDULE, P.CANCEL, P.CHANGE_STATUS, P.MANAGE_SETTINGS}


def test_coordinators_find_slots_book_reschedule_and_cancel_but_do_not_check_in() -> None:
    coordinator = ROLE_PERMISSIONS["coordinator"]
    assert {P.VIEW_AVAILABILITY, P.BOOK, P.RESCHEDULE, P.CANCEL} <= coordinator
    assert P.CHANGE_STATUS not in coordinator and P.VIEW_ANALYTICS not in coordinator


def test_front_desk_books_runs_today_and_changes_statuses_but_sees_no_analytics() -> None:
    desk = ROLE_PERMISSIONS["front-desk"]
    assert {P.BOOK, P.VIEW_TODAY, P.CHANGE_STATUS, P.CANCEL} <= desk
    assert not desk & {P.VIEW_ANALYTICS, P.RESCHEDULE, P.VIEW_SETTINGS}


def test_practitioners_see_their_calendar_and_today_and_nothing_organization_wide() -> None:
    assert ROLE_PERMISSIONS["practitioner"] == {P.VIEW_TODAY, P.VIEW_CALENDAR, P.CHANGE_STATUS}


def test_administrators_hold_every_permission_including_settings() -> None:
    assert ROLE_PERMISSIONS["admin"] == set(Permission)
    assert [r for r in ROLE_PERMISSIONS if role_has(r, P.MANAGE_SETTINGS)] == ["admin", "system"]


def test_an_unknown_role_may_do_nothing() -> None:
    with pytest.raises(PermissionDenied):
        require(actor("intern"), P.VIEW_TODAY)


def test_a_practitioner_is_held_to_their_own_appointments() -> None:
    doctor = actor("practitioner", practitioner_id=12)
    assert require_practitioner_scope(doctor, None) == 12
    assert require_practitioner_scope(doctor, 12) == 12
    with pytest.raises(PermissionDenied, match="your own appointments"):
        require_practitioner_scope(doctor, 13)
    with pytest.raises(PermissionDenied, match="not linked"):
        require_practitioner_scope(actor("practitioner"), None)
    assert require_practitioner_scope(actor("manager"), 13) == 13
    assert require_practitioner_scope(actor("front-desk"), None) is None


def test_status_changes_need_the_right_permission_and_scope() -> None:
    doctor = actor("practitioner", practitioner_id=12)
    require_status_change(doctor, "in-progress", 12)
    with pytest.raises(PermissionDenied):
        require_status_change(doctor, "arrived", 13)
    with pytest.raises(PermissionDenied):
        require_status_change(doctor, "cancelled", 12)
    require_status_change(actor("front-desk"), "cancelled", 13)
    require_status_change(actor("coordinator"), "cancelled", 13)
    with pytest.raises(PermissionDenied):
        require_status_change(actor("coordinator"), "arrived", 13)
    require_status_change(Actor.system(organization_id=1), "no-show", 13)


def test_access_declarations_are_checked_when_the_page_module_loads() -> None:
    assert normalize_access(P.VIEW_TODAY) == ("view_today",)
    assert normalize_access((P.CANCEL, "change_status")) == ("cancel", "change_status")
    assert normalize_access(PUBLIC) == ("public",)
    assert normalize_access(SIGNED_IN) == ("signed_in",)
    with pytest.raises(ValueError, match="unknown permission 'view_analytic'"):
        normalize_access("view_analytic")
    with pytest.raises(ValueError):
        normalize_access(())
