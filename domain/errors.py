"""The one exception type the appointment services raise for anything a user can fix.

``code`` is stable (pages and tests match on it), ``message`` is a sentence a receptionist
understands, ``field`` names the form field it concerns so a page can show the message next
to it (None when it concerns the whole form).
"""

from __future__ import annotations

from typing import Any

# Form fields a BookingError can point at.
FIELDS = (
    "patient",
    "practitioner",
    "clinic",
    "start",
    "duration",
    "appointment_type",
    "notes",
    "status",
    "reason",
    "cancellation_category",
    "encounter",
    "repeat",
    "scope",
)


class BookingError(Exception):
    def __init__(self, code: str, message: str, field: str | None = None, **details: Any) -> None:
        super().__init__(message)
        if field is not None and field not in FIELDS:
            raise ValueError(f"unknown form field {field!r}")
        self.code = code
        self.message = message
        self.field = field
        # Machine-readable extras, e.g. allowed_statuses or conflicting_appointment_id.
        self.details = details

    def __repr__(self) -> str:
        return f"BookingError({self.code!r}, {self.message!r}, field={self.field!r})"


def clean_field(value: str | None, field: str, max_length: int) -> str | None:
    """Free text (notes, reasons) by the shared rules of ``domain.text``, refused as a
    BookingError on the form field it came from."""
    from domain.text import TextError, clean_text

    try:
        return clean_text(value, field=field, max_length=max_length, multiline=True)
    except TextError as exc:
        raise BookingError("INVALID_TEXT", exc.message, field) from exc
