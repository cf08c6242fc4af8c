"""Our schedule as FHIR R4 resources (JSON-shaped dicts). Pure: no database.

Appointment status mapping (FHIR R4 has no "confirmed" or "in-progress" appointment):

====================  =========================================================
ours                  FHIR ``Appointment.status``
====================  =========================================================
pending               pending (requested, not yet accepted by the practice)
booked, confirmed     booked
arrived               arrived
in-progress           arrived (the visit is under way: in FHIR that is the
                      Encounter's status; R4's checked-in means "ready, the
                      encounter may begin", i.e. before it starts)
completed             fulfilled
no-show               noshow
cancelled             cancelled, with ``cancelationReason`` coded from
                      appointment-cancellation-reason: patient-initiated -> pat,
                      practice-initiated -> prov, emergency and other -> other
====================  =========================================================

Every Appointment also carries our own status, lossless, in the extension
``WORKFLOW_STATUS_URL`` (valueCode: pending, booked, confirmed, ...), so a client can tell
confirmed from booked and in-progress from arrived.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

FHIR_VERSION = "4.0.1"
# Our own code systems and extensions: URNs, since they are private to this application.
LOCAL = "urn:clinic-scheduling"
WORKFLOW_STATUS_URL = f"{LOCAL}:fhir:extension:appointment-workflow-status"
SEATS_URL = f"{LOCAL}:fhir:extension:slot-seats"
APPOINTMENT_ID_SYSTEM = f"{LOCAL}:appointment-id"
EXTERNAL_ID_SYSTEM = f"{LOCAL}:appointment-external-id"
APPOINTMENT_TYPE_SYSTEM = f"{LOCAL}:appointment-type"
CANCELLATION_CATEGORY_SYSTEM = f"{LOCAL}:cancellation-category"
CANCELLATION_REASON_SYSTEM = "http://terminology.hl7.org/CodeSystem/appointment-cancellation-reason"
APPOINTMENT_TYPE_V2_SYSTEM = "http://terminology.hl7.org/CodeSystem/v2-0276"

STATUS_TO_FHIR: dict[str, str] = {
    "pending": "pending",
    "booked": "booked",
    "confirmed": "booked",
    "arrived": "arrived",
    "in-progress": "arrived",
    "completed": "fulfilled",
    "cancelled": "cancelled",
    "no-show": "noshow",
}
# Every R4 AppointmentStatus code (a search may name any of them).
FHIR_APPOINTMENT_STATUSES: tuple[str, ...] = (
    "proposed",
    "pending",
    "booked",
    "arrived",
    "fulfilled",
    "cancelled",
    "noshow",
    "entered-in-error",
    "checked-in",
    "waitlist",
)
# FHIR code -> our statuses (codes we never produce match nothing).
FHIR_TO_STATUSES: dict[str, tuple[str, ...]] = {
    code: tuple(ours for ours, theirs in STATUS_TO_FHIR.items() if theirs == code)
    for code in FHIR_APPOINTMENT_STATUSES
}
CANCELLATION_REASONS: dict[str, tuple[str, str]] = {
    "patient-initiated": ("pat", "Patient"),
    "practice-initiated": ("prov", "Provider"),
    # Whose emergency is not recorded, so neither pat nor prov would be honest.
    "emergency": ("other", "Other"),
    "other": ("other", "Other"),
}
_CATEGORY_LABELS = {
    "patient-initiated": "Patient-initiated",
    "practice-initiated": "Practice-initiated",
    "emergency": "Emergency",
    "other": "Other",
}
# Our appointment type codes that have an HL7 v2 table 0276 equivalent.
V2_APPOINTMENT_TYPES: dict[str, tuple[str, str]] = {
    "follow-up": ("FOLLOWUP", "A follow up visit from a previous appointment"),
    "checkup": ("CHECKUP", "A routine check-up, such as an annual physical"),
    "emergency": ("EMERGENCY", "Emergency appointment"),
    "walk-in": ("WALKIN", "A previously unscheduled walk-in visit"),
}
# R4 SlotStatus codes.
SLOT_STATUSES: tuple[str, ...] = (
    "busy",
    "free",
    "busy-unavailable",
    "busy-tentative",
    "entered-in-error",
)
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


class FhirError(Exception):
    """A request the API refuses: HTTP ``status``, OperationOutcome issue ``code``, and
    ``diagnostics`` for the client's developer."""

    def __init__(self, status: int, code: str, diagnostics: str) -> None:
        super().__init__(diagnostics)
        self.status = status
        self.code = code
        self.diagnostics = diagnostics


def operation_outcome(code: str, diagnostics: str, severity: str = "error") -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": code, "diagnostics": diagnostics}],
    }


def instant(at: datetime, timezone: str | None = None) -> str:
    """A FHIR instant: seconds, with the offset of ``timezone`` (default UTC)."""
    return at.astimezone(ZoneInfo(timezone) if timezone else UTC).isoformat(timespec="seconds")


def _ref(kind: str, ident: int | str, display: str | None = None) -> dict[str, Any]:
    ref: dict[str, Any] = {"reference": f"{kind}/{ident}"}
    if display:
        ref["display"] = display
    return ref


# --------------------------------------------------------------------------- Appointment


@dataclass(frozen=True)
class AppointmentRow:
    id: int
    version: int
    updated_at: datetime
    booked_at: datetime
    status: str
    start_at: datetime
    end_at: datetime
    duration_minutes: int
    date_only: bool
    cancellation_category: str | None
    cancellation_reason: str | None
    external_id: str | None
    patient_id: int
    patient_name: str
    practitioner_id: int
    practitioner_name: str
    clinic_id: int
    clinic_name: str
    clinic_timezone: str
    type_code: str
    type_name: str


def cancelation_reason(category: str | None, reason: str | None) -> dict[str, Any]:
    """The CodeableConcept of a cancellation: the HL7 code, our category, the reason as
    text. Imported history without a category has the text only."""
    concept: dict[str, Any] = {}
    if category in CANCELLATION_REASONS:
        code, display = CANCELLATION_REASONS[category]
        concept["coding"] = [
            {"system": CANCELLATION_REASON_SYSTEM, "code": code, "display": display},
            {
                "system": CANCELLATION_CATEGORY_SYSTEM,
                "code": category,
                "display": _CATEGORY_LABELS[category],
            },
        ]
    label = _CATEGORY_LABELS.get(category or "", "Reason not recorded")
    concept["text"] = f"{label}: {reason}" if reason else label
    return concept


def appointment_resource(a: AppointmentRow) -> dict[str, Any]:
    tz = a.clinic_timezone
    resource: dict[str, Any] = {
        "resourceType": "Appointment",
        "id": str(a.id),
        "meta": {"versionId": str(a.version), "lastUpdated": instant(a.updated_at)},
        "extension": [{"url": WORKFLOW_STATUS_URL, "valueCode": a.status}],
        "identifier": [{"system": APPOINTMENT_ID_SYSTEM, "value": str(a.id)}],
        "status": STATUS_TO_FHIR[a.status],
    }
    if a.external_id:
        resource["identifier"].append({"system": EXTERNAL_ID_SYSTEM, "value": a.external_id})
    if a.status == "cancelled":
        resource["cancelationReason"] = cancelation_reason(
            a.cancellation_category, a.cancellation_reason
        )
    resource["serviceType"] = [
        {
            "coding": [
                {"system": APPOINTMENT_TYPE_SYSTEM, "code": a.type_code, "display": a.type_name}
            ],
            "text": a.type_name,
        }
    ]
    if a.type_code in V2_APPOINTMENT_TYPES:
        code, display = V2_APPOINTMENT_TYPES[a.type_code]
        resource["appointmentType"] = {
            "coding": [{"system": APPOINTMENT_TYPE_V2_SYSTEM, "code": code, "display": display}],
            "text": a.type_name,
        }
    resource["description"] = f"{a.type_name} with {a.practitioner_name} at {a.clinic_name}"
    resource["start"] = instant(a.start_at, tz)
    resource["end"] = instant(a.end_at, tz)
    resource["minutesDuration"] = a.duration_minutes
    resource["created"] = instant(a.booked_at, tz)
    if a.date_only:
        resource["comment"] = "Imported history: only the day is known, not the time."
    practice = "needs-action" if a.status == "pending" else "accepted"
    resource["participant"] = [
        {
            "actor": _ref("Patient", a.patient_id, a.patient_name),
            "required": "required",
            "status": "accepted",
        },
        {
            "actor": _ref("Practitioner", a.practitioner_id, a.practitioner_name),
            "required": "required",
            "status": practice,
        },
        {
            "actor": _ref("Location", a.clinic_id, a.clinic_name),
            "required": "required",
            "status": practice,
        },
    ]
    return resource


# --------------------------------------------------------------------------- Schedule


def schedule_id(practitioner_id: int, clinic_id: int) -> str:
    """A Schedule is one practitioner at one clinic."""
    return f"{practitioner_id}-{clinic_id}"


@dataclass(frozen=True)
class ScheduleRow:
    practitioner_id: int
    practitioner_name: str
    specialty: str
    clinic_id: int
    clinic_name: str
    clinic_timezone: str
    active: bool
    # The weekly hours in force from today: (weekday, start, end), local times.
    hours: tuple[tuple[int, time, time], ...]

    @property
    def id(self) -> str:
        return schedule_id(self.practitioner_id, self.clinic_id)


def weekly_hours(hours: Iterable[tuple[int, time, time]]) -> str:
    """'Mon 09:00–12:00, 13:00–17:00; Tue 09:00–17:00' (weekdays in order)."""
    by_day: dict[int, list[tuple[time, time]]] = {}
    for weekday, start, end in sorted(set(hours)):
        by_day.setdefault(weekday, []).append((start, end))
    return "; ".join(
        f"{WEEKDAYS[d]} " + ", ".join(f"{a:%H:%M}–{b:%H:%M}" for a, b in spans)
        for d, spans in sorted(by_day.items())
    )


def schedule_resource(
    row: ScheduleRow, horizon: tuple[datetime, datetime] | None
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Schedule",
        "id": row.id,
        "active": row.active,
        "specialty": [{"text": row.specialty}],
        "actor": [
            _ref("Practitioner", row.practitioner_id, row.practitioner_name),
            _ref("Location", row.clinic_id, row.clinic_name),
        ],
    }
    if horizon is not None and row.active:
        resource["planningHorizon"] = {
            "start": instant(horizon[0], row.clinic_timezone),
            "end": instant(horizon[1], row.clinic_timezone),
        }
    hours = weekly_hours(row.hours)
    resource["comment"] = (
        f"{row.practitioner_name} at {row.clinic_name}: "
        + (hours if hours else "no weekly hours from today")
        + f" ({row.clinic_timezone})"
    )
    return resource


# --------------------------------------------------------------------------- Slot


@dataclass(frozen=True)
class SlotRow:
    practitioner_id: int
    clinic_id: int
    start_at: datetime
    end_at: datetime
    status: str  # one of SLOT_STATUSES
    capacity: int
    seats_left: int
    timezone: str
    # When the schedule block only takes one appointment type: (code, name).
    appointment_type: tuple[str, str] | None = None

    @property
    def id(self) -> str:
        return slot_id(self.practitioner_id, self.clinic_id, self.start_at, self.end_at)


def slot_id(practitioner_id: int, clinic_id: int, start: datetime, end: datetime) -> str:
    """'12-3-202603181400-30': practitioner, clinic, UTC start, minutes. Stable as long as
    the schedule is, and enough to recompute the slot."""
    minutes = int((end - start).total_seconds() // 60)
    return f"{practitioner_id}-{clinic_id}-{start.astimezone(UTC):%Y%m%d%H%M}-{minutes}"


def slot_resource(row: SlotRow) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Slot",
        "id": row.id,
        "schedule": {"reference": f"Schedule/{schedule_id(row.practitioner_id, row.clinic_id)}"},
        "status": row.status,
        "start": instant(row.start_at, row.timezone),
        "end": instant(row.end_at, row.timezone),
    }
    if row.appointment_type is not None:
        code, name = row.appointment_type
        resource["serviceType"] = [
            {"coding": [{"system": APPOINTMENT_TYPE_SYSTEM, "code": code, "display": name}]}
        ]
    if row.capacity > 1:
        resource["extension"] = [
            {
                "url": SEATS_URL,
                "extension": [
                    {"url": "capacity", "valueInteger": row.capacity},
                    {"url": "free", "valueInteger": max(row.seats_left, 0)},
                ],
            }
        ]
        resource["comment"] = f"{max(row.seats_left, 0)} of {row.capacity} seats free"
    return resource


# --------------------------------------------------------------------------- Bundle


def bundle(
    base: str,
    entries: Sequence[dict[str, Any]],
    *,
    self_url: str,
    next_url: str | None,
    total: int | None,
    timestamp: datetime,
) -> dict[str, Any]:
    """A searchset Bundle of ``entries`` (resources) with self and next links."""
    result: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "timestamp": instant(timestamp),
    }
    if total is not None:
        result["total"] = total
    result["link"] = [{"relation": "self", "url": self_url}]
    if next_url:
        result["link"].append({"relation": "next", "url": next_url})
    result["entry"] = [
        {
            "fullUrl": f"{base}/{r['resourceType']}/{r['id']}",
            "resource": r,
            "search": {"mode": "match"},
        }
        for r in entries
    ]
    return result


# --------------------------------------------------------------------------- metadata


@dataclass(frozen=True)
class SearchParam:
    name: str
    type: str
    documentation: str


def capability_statement(
    base: str, published: datetime, search_params: dict[str, tuple[SearchParam, ...]]
) -> dict[str, Any]:
    """What this server does: read and search-type on three resources, JSON only, bearer
    tokens."""
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": instant(published),
        "publisher": "Clinic scheduling",
        "kind": "instance",
        "software": {"name": "Clinic scheduling FHIR read API"},
        "implementation": {"description": "Read-only scheduling API", "url": base},
        "fhirVersion": FHIR_VERSION,
        "format": ["application/fhir+json", "json"],
        "rest": [
            {
                "mode": "server",
                "security": {
                    "description": (
                        "Send an API token (created with `appointments create-api-token`) "
                        "as 'Authorization: Bearer <token>'. A token reads one "
                        "organization's data only."
                    )
                },
                "resource": [
                    {
                        "type": kind,
                        "interaction": [{"code": "read"}, {"code": "search-type"}],
                        "searchParam": [
                            {"name": p.name, "type": p.type, "documentation": p.documentation}
                            for p in params
                        ],
                    }
                    for kind, params in search_params.items()
                ],
            }
        ],
    }
