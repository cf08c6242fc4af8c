"""One line per administration event for the activity feed (``domain.activity`` asks here
for the event types it does not know). Reads only the payload, which names everything,
so the line still reads right after a rename."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from domain.admin.exceptions import describe, span_text
from domain.admin.rules import WEEKDAYS

ADMIN_EVENT_TYPES = frozenset(
    {
        "CLINIC_CREATED",
        "CLINIC_CHANGED",
        "CLINIC_DEACTIVATED",
        "CLINIC_REACTIVATED",
        "PRACTITIONER_CREATED",
        "PRACTITIONER_CHANGED",
        "PRACTITIONER_DEACTIVATED",
        "PRACTITIONER_REACTIVATED",
        "ASSIGNMENT_CREATED",
        "ASSIGNMENT_CHANGED",
        "ASSIGNMENT_DELETED",
        "SCHEDULE_CREATED",
        "SCHEDULE_CHANGED",
        "SCHEDULE_ENDED",
        "SCHEDULE_DELETED",
        "SCHEDULES_IMPORTED",
        "EXCEPTION_CREATED",
        "EXCEPTION_DELETED",
        "SETTINGS_CHANGED",
    }
)

_LABELS = {
    "name": "name",
    "timezone": "time zone",
    "address": "address",
    "specialty": "specialty",
    "active_from": "from",
    "active_to": "until",
    "clinic_id": "clinic",
    "weekday": "weekday",
    "start": "start",
    "end": "end",
    "slot_minutes": "slot length",
    "capacity": "capacity",
    "valid_from": "valid from",
    "valid_to": "valid to",
    "appointment_type_id": "appointment type",
    "buffer_minutes": "buffer (minutes)",
    "min_notice_minutes": "minimum notice (minutes)",
    "booking_horizon_days": "booking horizon (days)",
    "notify_practitioner": "notify practitioners",
    "notify_patient": "notify patients",
    "notify_coordinators": "notify coordinators of cancellations",
}


def _value(key: str, value: Any) -> str:
    if value is None:
        return "none" if key != "active_to" and key != "valid_to" else "open-ended"
    if key == "weekday" and isinstance(value, int) and 0 <= value <= 6:
        return WEEKDAYS[value]
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, str) and len(value) == 10 and value[4] == "-":
        try:
            return date.fromisoformat(value).strftime("%d %b %Y")
        except ValueError:
            return value
    return str(value).replace("\n", ", ")


def _changes(payload: dict[str, Any]) -> str:
    changes = payload.get("changes") or {}
    bits = [
        f"{_LABELS.get(k, k)} {_value(k, v.get('before'))} → {_value(k, v.get('after'))}"
        for k, v in changes.items()
        if isinstance(v, dict)
    ]
    return "; ".join(bits) or "no visible change"


def _block(p: dict[str, Any]) -> str:
    weekday = p.get("weekday")
    day = WEEKDAYS[weekday] if isinstance(weekday, int) and 0 <= weekday <= 6 else "weekly"
    hours = f" {p['start']}–{p['end']}" if p.get("start") and p.get("end") else ""
    who, where = p.get("practitioner", "a practitioner"), p.get("clinic", "a clinic")
    return f"{who}'s {day}{hours} block at {where}"


def _count(p: dict[str, Any], key: str, what: str) -> str:
    listed = p.get(key) or {}
    n = int(listed.get("count", 0)) if isinstance(listed, dict) else len(listed)
    return f" ({n} {what}{'s' if n != 1 else ''})" if n else ""


def describe_admin_event(event_type: str, payload: dict[str, Any], actor: str) -> str | None:
    """The feed's line, or None for an event type that is not an administration one."""
    p = payload
    name = p.get("name", "")
    match event_type:
        case "CLINIC_CREATED":
            return f"{actor} added the clinic {name} ({p.get('timezone')})"
        case "CLINIC_CHANGED":
            return f"{actor} changed the clinic {name}: {_changes(p)}" + _count(
                p, "outside_schedule", "booking left outside the schedule"
            )
        case "CLINIC_DEACTIVATED":
            return f"{actor} deactivated the clinic {name}" + _count(
                p, "upcoming_appointments", "booking still there"
            )
        case "CLINIC_REACTIVATED":
            return f"{actor} reactivated the clinic {name}"
        case "PRACTITIONER_CREATED":
            return f"{actor} added {name} ({p.get('specialty')})"
        case "PRACTITIONER_CHANGED":
            return f"{actor} changed {name}: {_changes(p)}"
        case "PRACTITIONER_DEACTIVATED":
            return f"{actor} deactivated {name}" + _count(
                p, "upcoming_appointments", "booking still held"
            )
        case "PRACTITIONER_REACTIVATED":
            return f"{actor} reactivated {name}"
        case "ASSIGNMENT_CREATED":
            return f"{actor} assigned {p.get('practitioner')} to {p.get('clinic')}: {_changes(p)}"
        case "ASSIGNMENT_CHANGED":
            return (
                f"{actor} changed the assignment of {p.get('practitioner')} to "
                f"{p.get('clinic')}: {_changes(p)}"
            )
        case "ASSIGNMENT_DELETED":
            return f"{actor} removed the assignment of {p.get('practitioner')} to {p.get('clinic')}"
        case "SCHEDULE_CREATED":
            return f"{actor} added {_block(p)}"
        case "SCHEDULE_CHANGED":
            return f"{actor} changed {_block(p)}: {_changes(p)}" + _count(
                p, "outside_schedule", "booking left outside the schedule"
            )
        case "SCHEDULE_ENDED":
            return f"{actor} ended {_block(p)}: {_changes(p)}" + _count(
                p, "outside_schedule", "booking left outside the schedule"
            )
        case "SCHEDULE_DELETED":
            return f"{actor} removed {_block(p)} before it started"
        case "SCHEDULES_IMPORTED":
            n = len(p.get("schedule_ids") or [])
            source = f" from {p['file']}" if p.get("file") else ""
            return f"{actor} imported {n} weekly block{'s' if n != 1 else ''}{source}"
        case "EXCEPTION_CREATED" | "EXCEPTION_DELETED":
            label = describe(p.get("reason", "other"), p.get("practitioner"), p.get("clinic"))
            span = ""
            if p.get("start") and p.get("end"):
                span = " " + span_text(
                    datetime.fromisoformat(p["start"]),
                    datetime.fromisoformat(p["end"]),
                    p.get("timezone") or "UTC",
                )
            if event_type == "EXCEPTION_DELETED":
                return f"{actor} withdrew {label[:1].lower()}{label[1:]}{span}"
            return f"{actor} recorded {label[:1].lower()}{label[1:]}{span}" + _count(
                p, "colliding", "colliding booking"
            )
        case "SETTINGS_CHANGED":
            return f"{actor} changed the settings: {_changes(p)}"
    return None
