"""Schedule administration: clinics, practitioners, clinic assignments, weekly schedule
blocks, exceptions (leave, holidays, closures), organization settings and the schedule
CSV import.

Every change is one transaction with its activity event (``activity_events``, no
appointment, payload with before/after, actor from the ``Actor``), needs
``manage_settings`` in the actor's own organization, and invalidates the cached
availability after its commit so the next offer already reflects it. Refusals are
``AdminError`` (stable ``code``, a sentence, the form ``field``); a change that would leave
upcoming bookings outside every schedule raises ``ConfirmationRequired`` listing them and
goes through only when every listed appointment id is passed back as confirmed. Nothing
an administration change does ever cancels a booking.
"""

from domain.admin.affected import AffectedAppointment
from domain.admin.clinics import create_clinic, set_clinic_active, update_clinic
from domain.admin.errors import AdminError, ConfirmationRequired
from domain.admin.exceptions import (
    create_exception,
    delete_exception,
    exception_collisions,
    exception_zone,
)
from domain.admin.org_settings import NOTIFICATION_SWITCHES, update_organization_settings
from domain.admin.practitioners import (
    create_assignment,
    create_practitioner,
    delete_assignment,
    set_practitioner_active,
    update_assignment,
    update_practitioner,
)
from domain.admin.results import AdminResult
from domain.admin.schedule_import import ImportReport, import_schedules
from domain.admin.schedules import (
    create_schedule_block,
    end_schedule_block,
    update_schedule_block,
)

__all__ = [
    "NOTIFICATION_SWITCHES",
    "AdminError",
    "AdminResult",
    "AffectedAppointment",
    "ConfirmationRequired",
    "ImportReport",
    "create_assignment",
    "create_clinic",
    "create_exception",
    "create_practitioner",
    "create_schedule_block",
    "delete_assignment",
    "delete_exception",
    "end_schedule_block",
    "exception_collisions",
    "exception_zone",
    "import_schedules",
    "set_clinic_active",
    "set_practitioner_active",
    "update_assignment",
    "update_clinic",
    "update_organization_settings",
    "update_practitioner",
    "update_schedule_block",
]
