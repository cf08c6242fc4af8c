"""Closed vocabularies shared by the database CHECKs and the domain.

Plain constants, no SQLAlchemy: the pure domain code may import them.
"""

from __future__ import annotations

APPOINTMENT_STATUSES: tuple[str, ...] = (
    "pending",
    "booked",
    "confirmed",
    "arrived",
    "in-progress",
    "completed",
    "cancelled",
    "no-show",
)
# Every status except "cancelled" keeps the practitioner's time taken (a no-show still
# used the slot; a completed visit happened there).
TIME_HOLDING_STATUSES: tuple[str, ...] = tuple(s for s in APPOINTMENT_STATUSES if s != "cancelled")

CANCELLATION_CATEGORIES: tuple[str, ...] = (
    "patient-initiated",
    "practice-initiated",
    "emergency",
    "other",
)

EXCEPTION_REASONS: tuple[str, ...] = ("leave", "holiday", "clinic-closure", "other")

EVENT_PRIORITIES: tuple[str, ...] = ("low", "normal", "high")

RECIPIENT_KINDS: tuple[str, ...] = ("user", "practitioner", "patient", "role")

ROLES: tuple[str, ...] = ("admin", "manager", "coordinator", "front-desk", "practitioner")

ENCOUNTER_STATUSES: tuple[str, ...] = ("in-progress", "finished", "cancelled")

GENDERS: tuple[str, ...] = ("F", "M", "O", "U")

# A reminder's life: claimed by a runner ("sending"), then sent, skipped (cancelled, moved,
# superseded by a closer reminder, nobody to reach), failed (retried later) or abandoned
# (failed for good).
REMINDER_STATUSES: tuple[str, ...] = ("sending", "sent", "failed", "skipped", "abandoned")
REMINDER_CHANNELS: tuple[str, ...] = ("email", "in-app")

# What an API token may do; read-only for now (the FHIR API has no writes).
API_TOKEN_SCOPES: tuple[str, ...] = ("read",)

# A waitlist entry waits, holds an open offer, was booked from an offer, or was removed;
# each offer it got is open until booked, declined or expired.
WAITLIST_STATUSES: tuple[str, ...] = ("waiting", "offered", "booked", "removed")
WAITLIST_OFFER_STATUSES: tuple[str, ...] = ("open", "booked", "declined", "expired")
# Preferred times of day (clinic-local); a custom "from-to" range is stored beside them.
DAY_PARTS: tuple[str, ...] = ("morning", "afternoon", "evening")


def sql_in(values: tuple[str, ...]) -> str:
    """Render a vocabulary as an SQL IN list for CHECK constraints."""
    return "(" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + ")"


# Free-text limits, in characters. Services refuse longer input with a message that names
# the field and the limit (domain.text.clean_text); columns are at least this wide.
MAX_NAME_LENGTH = 200  # a full or display name: users, practitioners, clinics
MAX_NAME_PART_LENGTH = 100  # a patient's given or family name
MAX_EMAIL_LENGTH = 254  # RFC 5321 path limit
MAX_PHONE_LENGTH = 50
MAX_NOTES_LENGTH = 4_000  # appointment notes
MAX_REASON_LENGTH = 1_000  # cancellation reason, status-change comment
MAX_SEARCH_LENGTH = 100  # a search box query
MIN_PASSWORD_LENGTH = 10
# Long enough for any passphrase, short enough that hashing cannot be used to burn CPU.
MAX_PASSWORD_LENGTH = 256
