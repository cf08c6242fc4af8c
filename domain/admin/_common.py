"""What every administration service does the same way: who may, the audit row, locks."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from data import locks
from data.models import ActivityEvent, Clinic, Organization, Practitioner
from domain.activity import notify, record_event, role_recipient
from domain.actor import Actor
from domain.admin.errors import NOT_FOUND, AdminError
from domain.permissions import Permission, PermissionDenied, require

if TYPE_CHECKING:
    from domain.admin.affected import AffectedAppointment

COORDINATOR_ROLE = "coordinator"
# A notification names this many bookings; the change's event keeps every id.
MAX_NOTIFIED = 10


def authorize(actor: Actor, organization_id: int) -> None:
    """Changing the organization's set-up needs ``manage_settings`` in that organization."""
    require(actor, Permission.MANAGE_SETTINGS)
    if not actor.is_system and actor.organization_id != organization_id:
        raise PermissionDenied("You can only change your own organization.")


def record(
    session: Session,
    actor: Actor,
    organization_id: int,
    event_type: str,
    payload: dict[str, Any],
    at: datetime,
    *,
    priority: str = "normal",
    to_reschedule: Sequence[AffectedAppointment] = (),
    subject: str = "",
) -> ActivityEvent:
    """The change's audit row (no appointment), in the change's own transaction. When
    the change leaves bookings to reschedule (``to_reschedule``), the coordinators, who
    rebook patients, are told which: "<subject>: <patient>, <when> with ... at ..."."""
    event = record_event(
        session,
        organization_id=organization_id,
        event_type=event_type,
        appointment_id=None,
        payload=payload,
        actor=actor,
        at=at,
        priority="high" if to_reschedule else priority,
    )
    if to_reschedule:
        n = len(to_reschedule)
        listed = "; ".join(
            f"{a.patient_name}, {a.when} with {a.practitioner_name} at {a.clinic_name}"
            for a in to_reschedule[:MAX_NOTIFIED]
        )
        more = f"; and {n - MAX_NOTIFIED} more" if n > MAX_NOTIFIED else ""
        notify(
            session,
            event,
            [role_recipient(COORDINATOR_ROLE)],
            f"{n} appointment{'s' if n != 1 else ''} to reschedule",
            f"{subject}: {listed}{more}.",
        )
    return event


def lock_practitioners(
    session: Session, organization_id: int, practitioner_ids: Iterable[int]
) -> None:
    """Take the booking service's per-practitioner locks (``data.locks``), so a booking
    racing a schedule change waits and then reads the new schedule."""
    locks.lock_practitioners(session, organization_id, practitioner_ids)


def get_organization_row(session: Session, organization_id: int) -> Organization:
    org = session.get(Organization, organization_id)
    if org is None:
        raise AdminError(NOT_FOUND, "This organization no longer exists.")
    return org


def get_clinic(session: Session, organization_id: int, clinic_id: object) -> Clinic:
    clinic = (
        session.get(Clinic, clinic_id) if isinstance(clinic_id, int) and clinic_id > 0 else None
    )
    if clinic is None or clinic.organization_id != organization_id:
        raise AdminError(NOT_FOUND, "Choose a clinic of this organization.", "clinic")
    return clinic


def get_practitioner(
    session: Session, organization_id: int, practitioner_id: object
) -> Practitioner:
    prac = (
        session.get(Practitioner, practitioner_id)
        if isinstance(practitioner_id, int) and practitioner_id > 0
        else None
    )
    if prac is None or prac.organization_id != organization_id or prac.is_placeholder:
        raise AdminError(NOT_FOUND, "Choose a practitioner of this organization.", "practitioner")
    return prac


def local_today(zone: str, now: datetime) -> date:
    return now.astimezone(ZoneInfo(zone)).date()


def changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """{field: {before, after}} for the fields that differ (JSON-ready values)."""
    return {
        k: {"before": _json(before.get(k)), "after": _json(after.get(k))}
        for k in after
        if before.get(k) != after.get(k)
    }


def _json(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value
