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


def sql_in(values: tuple[str, ...]) -> str:
    """Render a vocabulary as an SQL IN list for CHECK constraints."""
    return "(" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + ")"
