"""Organization settings: buffer, minimum notice, booking horizon, hold and waitlist offer
lengths, notification switches.

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
from domain.holds import hold_length
from domain.waitlist import offer_minutes

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


_KEEP: Any = object()  # an argument left out: the setting keeps its value


def update_organization_settings(
    ctx: AppContext,
    actor: Actor,
    organization_id: int,
    *,
    buffer_minutes: object = _KEEP,
    min_notice_minutes: object = _KEEP,
    booking_horizon_days: object = _KEEP,
    hold_minutes: object = _KEEP,
    waitlist_offer_minutes: object = _KEEP,
    notifications: Mapping[str, object] | None = None,
) -> AdminResult:
    """Save the scheduling rules, how long a booking-form hold and a waitlist offer keep
    their seat, and the notification switches (``notifications``: the switches to set,
    by key of ``NOTIFICATION_SWITCHES``). A setting left out keeps its value; one given
    is checked (None, a fraction or one out of range is refused naming the field)."""
    authorize(actor, organization_id)
    given = {
        "buffer_minutes": buffer_minutes,
        "min_notice_minutes": min_notice_minutes,
        "booking_horizon_days": booking_horizon_days,
        "hold_minutes": hold_minutes,
        "waitlist_offer_minutes": waitlist_offer_minutes,
    }
    values = {name: check_setting(name, v) for name, v in given.items() if v is not _KEEP}
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
            "hold_minutes": hold_length(current),
            "waitlist_offer_minutes": offer_minutes(current),
            **{k: current.get(k) for k in NOTIFICATION_SWITCHES},
        }
        after = {**before, **values, **switches}
        diff = changes(before, after)
        if not diff:
            raise AdminError(NO_CHANGE, "Nothing was changed.")
        org.buffer_minutes = after["buffer_minutes"]
        org.min_notice_minutes = after["min_notice_minutes"]
        org.booking_horizon_days = after["booking_horizon_days"]
        # A new dict: the JSON column only notices a replaced value.
        org.settings = {
            **current,
            **switches,
            **{k: after[k] for k in ("hold_minutes", "waitlist_offer_minutes")},
        }
        record(s, actor, organization_id, "SETTINGS_CHANGED", {"changes": diff}, ctx.clock())
    invalidate_organization(ctx, organization_id)
    return AdminResult(organization_id, "Settings saved. Availability uses them from now on.")
