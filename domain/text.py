"""Free-text input rules shared by every service that stores what a user typed.

Text is stored as typed: HTML, SQL fragments, emoji and any script are data, and the pages
render them inert (Dash escapes text; no page renders user text as HTML or Markdown).
Refused, with a message naming the field: text over the field's documented limit
(``data.vocabulary.MAX_*_LENGTH``), NUL characters and invalid Unicode (no database can
store them), and line breaks or other control characters in single-line fields.
"""

from __future__ import annotations

import unicodedata


class TextError(ValueError):
    """Input text the service refuses; ``message`` is meant for the person who typed it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _has_lone_surrogate(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def clean_text(
    value: str | None,
    *,
    field: str,
    max_length: int,
    required: bool = False,
    multiline: bool = False,
) -> str | None:
    """Validate one text field and return what to store (None for empty optional text).

    Single-line fields are trimmed of surrounding whitespace; multi-line text (notes,
    reasons) is kept exactly as typed, surrounding whitespace included.
    """
    label = field[:1].upper() + field[1:]
    if value is not None and not isinstance(value, str):
        raise TextError(field, f"{label} must be text.")
    text = value if multiline or value is None else value.strip()
    if not text or (multiline and not text.strip()):
        if required:
            raise TextError(field, f"{label} is required.")
        return None
    if "\x00" in text or _has_lone_surrogate(text):
        raise TextError(field, f"{label} contains characters that cannot be stored.")
    if not multiline and any(unicodedata.category(ch) == "Cc" for ch in text):
        raise TextError(field, f"{label} must be a single line without control characters.")
    if len(text) > max_length:
        raise TextError(
            field,
            f"{label} is too long: {len(text):,} characters; the limit is {max_length:,}.",
        )
    return text
