"""Row locks that make booking decisions race-free.

A booking reads the practitioner's day, decides, then inserts: two such transactions
running side by side would both see the last seat free (the check-then-insert race). So
every transaction that can make a practitioner's time more taken (create, reschedule,
reinstate) first locks, in this order, the practitioner rows involved (ascending id) and
then the patient row. Holding the practitioner lock serializes the capacity, conflict and
buffer checks per practitioner; holding the patient lock makes the "one patient cannot be
in two rooms" check race-free across practitioners. One global order (practitioners by id,
then the single patient) means two bookings never wait on each other in a cycle.

- PostgreSQL: ``SELECT ... FOR NO KEY UPDATE`` on those rows. NO KEY keeps foreign-key
  checks from other writers (which take KEY SHARE on the practitioner or patient, e.g. an
  encounter insert) from waiting on a booking. Under READ COMMITTED each later statement
  of the transaction sees what the previous lock holder committed.
- SQLite: the FOR clause is not rendered; the caller's ``transaction(write_lock=True)``
  (BEGIN IMMEDIATE) already holds the database's single write lock, which serializes
  every booking.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from data.models import Appointment, Patient, Practitioner


def lock_practitioners(
    session: Session, organization_id: int, practitioner_ids: Iterable[int]
) -> dict[int, Practitioner]:
    """Lock and return the organization's practitioners among ``practitioner_ids``;
    ids of other organizations are neither locked nor returned."""
    ids = sorted({int(i) for i in practitioner_ids})
    if not ids:
        return {}
    rows = session.scalars(
        select(Practitioner)
        .where(Practitioner.id.in_(ids), Practitioner.organization_id == organization_id)
        .order_by(Practitioner.id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    ).all()
    return {p.id: p for p in rows}


def lock_patient(session: Session, organization_id: int, patient_id: int) -> Patient | None:
    """Lock and return the patient when it belongs to the organization. Call after
    ``lock_practitioners`` (the lock order above)."""
    return session.scalars(
        select(Patient)
        .where(Patient.id == patient_id, Patient.organization_id == organization_id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    ).one_or_none()


def lock_appointment(
    session: Session, organization_id: int, appointment_id: int
) -> Appointment | None:
    """Lock and return (freshly read) the organization's appointment: concurrent status
    changes of one appointment queue up instead of overwriting each other. Taken after
    any practitioner and patient locks."""
    return session.scalars(
        select(Appointment)
        .where(Appointment.id == appointment_id, Appointment.organization_id == organization_id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    ).one_or_none()
