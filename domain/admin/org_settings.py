"""Organization settings: buffer, minimum notice, booking horizon, notification switches.

Each change is one transaction with its SETTINGS_CHANGED event (before and after of
every changed setting) and invalidates the organization's cached availability, so the
next offer already uses the new rule. Existing appointments are kept as they are: a
longer buffer or notice only applies to bookings made from now on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from domain.actor import Actor
from domain.admin._common import authorize, changes, get_organization_row, record
from domain.admin.errors import INVALID_SETTING, NO_CHANGE, AdminError
from domain.admin.results import AdminResult
from domain.admin.rules import check_setting
from domain.availability import invalidate_organization
from domain.context import AppContext

# The switches the notification writers read (organizations.settings JSON), with what
# each one means for the people concerned.
NOTIFICATION_SWITCHES: dict[str, str] = {
    "notify_practitioner": "The practitioner is told about new, moved and cancelled visits",
    "notify_patient": "The patient is told about new, moved and cancelled visits",
    "notify_coordinators": "Coordinators are told about cancellations",
}
DEFAULT_NOTIFICATIONS = {
    "notify_practitioner": True,
    "notify_patient": True,
    "notify_coordinators": False,
}


def update_organization_settings(
    ctx: AppContext,
    actor: Actor,
    organization_id: int,
    *,
    buffer_minutes: object,
    min_notice_minutes: object,
    booking_horizon_days: object,
    notifications: Mapping[str, object] | None = None,
) -> AdminResult:
    """Save the scheduling rules and notification switches (``notifications``: the
    switches to set, by key of ``NOTIFICATION_SWITCHES``; others keep their value)."""
    authorize(actor, organization_id)
    values = {
        "buffer_minutes": check_setting("buffer_minutes", buffer_minutes),
        "min_notice_minutes": check_setting("min_notice_minutes", min_notice_minutes),
        "booking_horizon_days": check_setting("booking_horizon_days", booking_horizon_days),
    }
    switches: dict[str, bool] = {}
    for key, value in (notifications or {}).items():
        if key not in NOTIFICATION_SWITCHES or not isinstance(value, bool):
            raise AdminError(
                INVALID_SETTING, f"Unknown notification setting {key!r}.", "notifications"
            )
        switches[key] = value
    with ctx.db.transaction() as s:
        org = get_organization_row(s, organization_id)
        current = {**DEFAULT_NOTIFICATIONS, **(org.settings or {})}
        before: dict[str, Any] = {
            "buffer_minutes": org.buffer_minutes,
            "min_notice_minutes": org.min_notice_minutes,
            "booking_horizon_days": org.booking_horizon_days,
            **{k: current.get(k) for k in NOTIFICATION_SWITCHES},
        }
        after = {**before, **values, **switches}
        diff = changes(before, after)
        if not diff:
            raise AdminError(NO_CHANGE, "Nothing was changed.")
        org.buffer_minutes = values["buffer_minutes"]
        org.min_notice_minutes = values["min_notice_minutes"]
        org.booking_horizon_days = values["booking_horizon_days"]
        # A new dict: the JSON column only notices a replaced value.
        org.settings = {**current, **switches}
        record(s, actor, organization_id, "SETTINGS_CHANGED", {"changes": diff}, ctx.clock())
    invalidate_organization(ctx, organization_id)
    return AdminResult(organization_id, "Settings saved. Availability uses them from now on.")
