"""Small builders for hand-made test data. Each returns the flushed ORM object.

Defaults describe one ordinary clinic day: an organization in New York, a clinic, a
practitioner working Monday-Friday 09:00-17:00 in 30-minute slots, a patient.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from data.models import (
    Appointment,
    AppointmentType,
    Clinic,
    ClinicAssignment,
    Organization,
    Patient,
    Practitioner,
    Schedule,
    ScheduleException,
    User,
)

_counter = iter(range(1, 10_000_000))

# Password of every user made by ``make_user`` unless told otherwise.
TEST_PASSWORD = "correct horse battery"
_known_hash: str | None = None


def known_password_hash() -> str:
    """Argon2 is slow on purpose: hash the test password once per run."""
    global _known_hash
    if _known_hash is None:
        from domain.auth import hash_password

        _known_hash = hash_password(TEST_PASSWORD)
    return _known_hash


def _n() -> int:
    return next(_counter)


def make_org(s: Session, **kw: Any) -> Organization:
    org = Organization(
        **{
            "name": f"Org {_n()}",
            "timezone": "America/New_York",
            "buffer_minutes": 0,
            "min_notice_minutes": 0,
            "booking_horizon_days": 365,
            "settings": {
                "notify_practitioner": True,
                "notify_patient": True,
                "notify_coordinators": False,
            },
            **kw,
        }
    )
    s.add(org)
    s.flush()
    return org


def make_clinic(s: Session, org: Organization, **kw: Any) -> Clinic:
    clinic = Clinic(
        **{
            "organization_id": org.id,
            "name": f"Clinic {_n()}",
            "timezone": org.timezone,
            "address": "1 Test St",
            "active": True,
            **kw,
        }
    )
    s.add(clinic)
    s.flush()
    return clinic


def make_type(
    s: Session, org: Organization, code: str = "follow-up", minutes: int = 30, **kw: Any
) -> AppointmentType:
    t = AppointmentType(
        **{
            "organization_id": org.id,
            "code": code,
            "name": code.replace("-", " ").capitalize(),
            "default_duration_minutes": minutes,
            "encounter_type": code,
            "is_group": False,
            "active": True,
            **kw,
        }
    )
    s.add(t)
    s.flush()
    return t


def make_practitioner(
    s: Session,
    org: Organization,
    clinics: list[Clinic] | None = None,
    active_from: date = date(2000, 1, 1),
    **kw: Any,
) -> Practitioner:
    p = Practitioner(
        **{
            "organization_id": org.id,
            "name": f"Dr. Test {_n()}",
            "specialty": "Family Medicine",
            "active": True,
            **kw,
        }
    )
    s.add(p)
    s.flush()
    for c in clinics or []:
        s.add(ClinicAssignment(practitioner_id=p.id, clinic_id=c.id, active_from=active_from))
    s.flush()
    return p


def make_schedule(
    s: Session,
    practitioner: Practitioner,
    clinic: Clinic,
    weekdays: tuple[int, ...] = (0, 1, 2, 3, 4),
    start: time = time(9),
    end: time = time(17),
    slot_minutes: int = 30,
    capacity: int = 1,
    valid_from: date = date(2000, 1, 1),
    valid_to: date | None = None,
    **kw: Any,
) -> list[Schedule]:
    rows = [
        Schedule(
            practitioner_id=practitioner.id,
            clinic_id=clinic.id,
            weekday=wd,
            start_time=start,
            end_time=end,
            slot_minutes=slot_minutes,
            capacity=capacity,
            valid_from=valid_from,
            valid_to=valid_to,
            **kw,
        )
        for wd in weekdays
    ]
    s.add_all(rows)
    s.flush()
    return rows


def make_exception(
    s: Session,
    org: Organization,
    start_at: datetime,
    end_at: datetime,
    practitioner: Practitioner | None = None,
    clinic: Clinic | None = None,
    reason: str = "leave",
) -> ScheduleException:
    e = ScheduleException(
        organization_id=org.id,
        practitioner_id=practitioner.id if practitioner else None,
        clinic_id=clinic.id if clinic else None,
        start_at=start_at,
        end_at=end_at,
        reason=reason,
    )
    s.add(e)
    s.flush()
    return e


def make_patient(s: Session, org: Organization, **kw: Any) -> Patient:
    n = _n()
    p = Patient(
        **{
            "organization_id": org.id,
            "given_name": "Pat",
            "family_name": f"Ient{n}",
            "birth_date": date(1980, 1, 1),
            "gender": "F",
            **kw,
        }
    )
    s.add(p)
    s.flush()
    return p


def make_user(s: Session, org: Organization, role: str = "front-desk", **kw: Any) -> User:
    """A user who signs in with ``TEST_PASSWORD``."""
    n = _n()
    u = User(
        **{
            "organization_id": org.id,
            "name": f"User {n}",
            "email": f"user{n}@example.org",
            "role": role,
            "password_hash": known_password_hash(),
            "session_version": 1,
            **kw,
        }
    )
    s.add(u)
    s.flush()
    return u


def make_staff(
    s: Session, org: Organization, practitioner: Practitioner, domain: str
) -> dict[str, User]:
    """One user per role, e-mail ``<role>@<domain>``; the practitioner user is
    ``practitioner``."""
    from data.vocabulary import ROLES

    return {
        role: make_user(
            s,
            org,
            role,
            email=f"{role}@{domain}",
            name=f"{role.title()} of {org.name}",
            practitioner_id=practitioner.id if role == "practitioner" else None,
        )
        for role in ROLES
    }


def local(d: date, t: time, tz: str = "America/New_York") -> datetime:
    """An aware UTC instant for a clinic-local wall-clock time."""
    return datetime.combine(d, t, ZoneInfo(tz)).astimezone(UTC)


def make_appointment(
    s: Session,
    patient: Patient,
    practitioner: Practitioner,
    clinic: Clinic,
    appointment_type: AppointmentType,
    start_at: datetime,
    minutes: int = 30,
    status: str = "booked",
    **kw: Any,
) -> Appointment:
    a = Appointment(
        organization_id=patient.organization_id,
        patient_id=patient.id,
        practitioner_id=practitioner.id,
        clinic_id=clinic.id,
        appointment_type_id=appointment_type.id,
        start_at=start_at,
        end_at=start_at + timedelta(minutes=minutes),
        duration_minutes=minutes,
        status=status,
        booked_at=kw.pop("booked_at", start_at - timedelta(days=3)),
        **kw,
    )
    s.add(a)
    s.flush()
    return a


def next_weekday(after: date, weekday: int) -> date:
    """The first date strictly after ``after`` falling on ``weekday`` (Monday = 0)."""
    days = (weekday - after.weekday()) % 7 or 7
    return after + timedelta(days=days)
