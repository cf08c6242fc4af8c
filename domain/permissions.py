"""Named permissions, the role -> permission matrix and record-level checks.

The matrix is the single source: the pages and callbacks declare which permission they need
(``components.auth``), services check record-level rules with the helpers below, and the
README table is generated from ``ROLE_PERMISSIONS`` (a test keeps them equal).

Record scope: a role without ``all_practitioners`` (the practitioner role) sees and acts on
the appointments of the one practitioner its account is linked to, and nothing else.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from data.vocabulary import ROLES
from domain.actor import SYSTEM_ROLE, Actor


class Permission(StrEnum):
    VIEW_AVAILABILITY = "view_availability"
    BOOK = "book"
    RESCHEDULE = "reschedule"
    CANCEL = "cancel"
    CHANGE_STATUS = "change_status"
    VIEW_TODAY = "view_today"
    VIEW_CALENDAR = "view_calendar"
    ALL_PRACTITIONERS = "all_practitioners"
    VIEW_ACTIVITY = "view_activity"
    VIEW_ANALYTICS = "view_analytics"
    VIEW_SETTINGS = "view_settings"
    MANAGE_SETTINGS = "manage_settings"
    MANAGE_USERS = "manage_users"


P = Permission

DESCRIPTIONS: dict[Permission, str] = {
    P.VIEW_AVAILABILITY: "see open slots and clinic availability",
    P.BOOK: "book appointments, search patients, the waitlist and its offers",
    P.RESCHEDULE: "move an appointment (time, practitioner, clinic, duration)",
    P.CANCEL: "cancel an appointment",
    P.CHANGE_STATUS: "confirm, check in, start, complete, mark no-show",
    P.VIEW_TODAY: "the Today view",
    P.VIEW_CALENDAR: "practitioner calendars (day and week)",
    P.ALL_PRACTITIONERS: "every practitioner's appointments (without it: only your own)",
    P.VIEW_ACTIVITY: "the organization's activity feed and appointment histories",
    P.VIEW_ANALYTICS: "no-show and utilization analytics",
    P.VIEW_SETTINGS: "read organization settings, the schedule set-up and staff accounts",
    P.MANAGE_SETTINGS: (
        "change organization settings (buffer, notice, horizon, notifications, reminders), "
        "clinics, practitioners, assignments, weekly schedules, leave and closures, API "
        "tokens, any practitioner's calendar link"
    ),
    P.MANAGE_USERS: "create, change and deactivate staff accounts",
}

_MANAGER = frozenset(
    {
        P.VIEW_AVAILABILITY,
        P.VIEW_TODAY,
        P.VIEW_CALENDAR,
        P.ALL_PRACTITIONERS,
        P.VIEW_ACTIVITY,
        P.VIEW_ANALYTICS,
        P.VIEW_SETTINGS,
    }
)
_COORDINATOR = frozenset(
    {
        P.VIEW_AVAILABILITY,
        P.BOOK,
        P.RESCHEDULE,
        P.CANCEL,
        P.VIEW_CALENDAR,
        P.ALL_PRACTITIONERS,
        P.VIEW_ACTIVITY,
    }
)
_FRONT_DESK = frozenset(
    {
        P.VIEW_AVAILABILITY,
        P.BOOK,
        P.CANCEL,
        P.CHANGE_STATUS,
        P.VIEW_TODAY,
        P.ALL_PRACTITIONERS,
        P.VIEW_ACTIVITY,
    }
)
# Scoped to their own appointments by the absence of ALL_PRACTITIONERS.
_PRACTITIONER = frozenset({P.VIEW_TODAY, P.VIEW_CALENDAR, P.CHANGE_STATUS})

ROLE_PERMISSIONS: dict[str, frozenset[Permission]] = {
    "admin": frozenset(Permission),
    "manager": _MANAGER,
    "coordinator": _COORDINATOR,
    "front-desk": _FRONT_DESK,
    "practitioner": _PRACTITIONER,
    # Jobs and imports act for the whole organization.
    SYSTEM_ROLE: frozenset(Permission),
}
assert set(ROLES) <= set(ROLE_PERMISSIONS), "every role needs a row in the matrix"

ROLE_LABELS: dict[str, str] = {
    "admin": "Administrator",
    "manager": "Manager",
    "coordinator": "Coordinator",
    "front-desk": "Front desk",
    "practitioner": "Practitioner",
    SYSTEM_ROLE: "System",
}


class PermissionDenied(Exception):
    """The actor may not do this. The message is safe to show to the user."""


def parse_permission(name: str) -> Permission:
    try:
        return Permission(name)
    except ValueError:
        known = ", ".join(p.value for p in Permission)
        raise ValueError(f"unknown permission {name!r}; known: {known}") from None


def role_has(role: str, permission: str) -> bool:
    return Permission(permission) in ROLE_PERMISSIONS.get(role, frozenset())


def allowed_any(role: str, permissions: Iterable[str]) -> bool:
    return any(role_has(role, p) for p in permissions)


def require(actor: Actor, *permissions: str) -> None:
    """Raise ``PermissionDenied`` unless the actor holds at least one of ``permissions``."""
    role = actor.role or "none"
    if not allowed_any(role, permissions):
        raise PermissionDenied(f"Your role ({ROLE_LABELS.get(role, role)}) does not allow this.")


def practitioner_scope(actor: Actor) -> int | None:
    """The one practitioner whose appointments the actor may see or change, or None when
    the actor may see every practitioner of the organization."""
    if actor.can(P.ALL_PRACTITIONERS):
        return None
    if actor.practitioner_id is None:
        raise PermissionDenied(
            "Your account is not linked to a practitioner; ask an administrator to link it."
        )
    return actor.practitioner_id


def require_practitioner_scope(actor: Actor, practitioner_id: int | None) -> int | None:
    """Check a requested practitioner filter against the actor's scope.

    Returns the filter to apply: the request itself for unrestricted actors (None = all),
    the actor's own practitioner for restricted ones. A restricted actor asking for
    another practitioner is refused.
    """
    scope = practitioner_scope(actor)
    if scope is None:
        return practitioner_id
    if practitioner_id is None or practitioner_id == scope:
        return scope
    raise PermissionDenied("You can only see and change your own appointments.")


def require_status_change(actor: Actor, new_status: str, practitioner_id: int) -> None:
    """May the actor move an appointment of ``practitioner_id`` to ``new_status``?

    Cancelling needs ``cancel``; every other status change needs ``change_status``; both
    are limited to the actor's practitioner scope.
    """
    require(actor, P.CANCEL if new_status == "cancelled" else P.CHANGE_STATUS)
    require_practitioner_scope(actor, practitioner_id)


def permission_matrix_markdown() -> str:
    """The README's role matrix, generated from ``ROLE_PERMISSIONS``."""
    roles = list(ROLES)
    header = "| permission | " + " | ".join(roles) + " | allows |"
    rule = "| --- |" + " :-: |" * len(roles) + " --- |"
    rows = [
        f"| `{p.value}` | "
        + " | ".join("✓" if p in ROLE_PERMISSIONS[r] else "" for r in roles)
        + f" | {DESCRIPTIONS[p]} |"
        for p in Permission
    ]
    return "\n".join([header, rule, *rows])
