"""The one exception type the administration services raise for anything an admin can fix.

Like ``domain.errors.BookingError`` for appointments: ``code`` is stable (pages and tests
match on it), ``message`` is a sentence a clinic manager understands, ``field`` names the
form field the message belongs next to (None: the whole form).

``ConfirmationRequired`` is the refusal of a change that would leave future bookings
outside every schedule (or in a closed clinic, with an inactive practitioner): it lists
them, and the same call with ``confirmed_appointment_ids`` covering every listed id goes
through. Nothing is ever cancelled by an administration change.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from domain.admin.affected import AffectedAppointment

# Form fields an AdminError can point at (the pages key their feedback by these names).
FIELDS = (
    "name",
    "timezone",
    "address",
    "specialty",
    "practitioner",
    "clinic",
    "weekday",
    "start",
    "end",
    "slot_minutes",
    "capacity",
    "valid_from",
    "valid_to",
    "appointment_type",
    "active_from",
    "active_to",
    "reason",
    "note",
    "buffer_minutes",
    "min_notice_minutes",
    "booking_horizon_days",
    "hold_minutes",
    "waitlist_offer_minutes",
    "notifications",
    "file",
)

# Codes, one per rule (README "Administration" lists them with their sentences).
NOT_FOUND = "NOT_FOUND"
INVALID_TEXT = "INVALID_TEXT"
NAME_TAKEN = "NAME_TAKEN"
UNKNOWN_TIMEZONE = "UNKNOWN_TIMEZONE"
INACTIVE = "INACTIVE"
INVALID_WEEKDAY = "INVALID_WEEKDAY"
INVALID_TIME = "INVALID_TIME"
END_NOT_AFTER_START = "END_NOT_AFTER_START"
INVALID_SLOT_LENGTH = "INVALID_SLOT_LENGTH"
SLOT_LONGER_THAN_BLOCK = "SLOT_LONGER_THAN_BLOCK"
SLOT_REMAINDER = "SLOT_REMAINDER"
INVALID_CAPACITY = "INVALID_CAPACITY"
INVALID_DATE = "INVALID_DATE"
INVALID_PERIOD = "INVALID_PERIOD"
PERIOD_IN_PAST = "PERIOD_IN_PAST"
OVERLAPPING_BLOCK = "OVERLAPPING_BLOCK"
NOT_ASSIGNED = "NOT_ASSIGNED"
ASSIGNMENT_OVERLAP = "ASSIGNMENT_OVERLAP"
IN_USE = "IN_USE"
INVALID_REASON = "INVALID_REASON"
PRACTITIONER_REQUIRED = "PRACTITIONER_REQUIRED"
CLINIC_REQUIRED = "CLINIC_REQUIRED"
RANGE_TOO_LONG = "RANGE_TOO_LONG"
INVALID_SETTING = "INVALID_SETTING"
NO_CHANGE = "NO_CHANGE"
CONFIRMATION_REQUIRED = "CONFIRMATION_REQUIRED"
INVALID_FILE = "INVALID_FILE"
INVALID_ROWS = "INVALID_ROWS"


class AdminError(Exception):
    def __init__(self, code: str, message: str, field: str | None = None, **details: Any) -> None:
        super().__init__(message)
        if field is not None and field not in FIELDS:
            raise ValueError(f"unknown form field {field!r}")
        self.code = code
        self.message = message
        self.field = field
        self.details = details

    def __repr__(self) -> str:
        return f"AdminError({self.code!r}, {self.message!r}, field={self.field!r})"


class ConfirmationRequired(AdminError):
    """The change would strand future bookings: ``affected`` lists them (by start)."""

    def __init__(self, message: str, affected: Sequence[AffectedAppointment]) -> None:
        super().__init__(CONFIRMATION_REQUIRED, message, None)
        self.affected = list(affected)

    @property
    def appointment_ids(self) -> list[int]:
        return [a.id for a in self.affected]
