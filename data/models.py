"""SQLAlchemy 2.x typed models: the schema of record.

Business rules live in ``domain/``; what the database itself must never accept (an unknown
status, a zero duration, a capacity of 0, an end before its start) is enforced here with
CHECK constraints so that no writer, ORM or raw SQL, can store it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any, ClassVar

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    Time,
    UniqueConstraint,
    event,
    func,
    inspect,
    text,
)
from sqlalchemy.dialects.postgresql import ExcludeConstraint
from sqlalchemy.engine import Connection
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from data.local_facts import set_local_facts
from data.types import JSONType, UTCDateTime
from data.vocabulary import (
    API_TOKEN_SCOPES,
    APPOINTMENT_STATUSES,
    CANCELLATION_CATEGORIES,
    ENCOUNTER_STATUSES,
    EVENT_PRIORITIES,
    EXCEPTION_REASONS,
    GENDERS,
    RECIPIENT_KINDS,
    REMINDER_CHANNELS,
    REMINDER_STATUSES,
    ROLES,
    WAITLIST_OFFER_STATUSES,
    WAITLIST_STATUSES,
    sql_in,
)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSONType,
    }


class Organization(Base):
    __tablename__ = "organizations"
    __table_args__ = (
        CheckConstraint("buffer_minutes >= 0 AND buffer_minutes <= 240", name="buffer_range"),
        CheckConstraint("min_notice_minutes >= 0", name="min_notice_nonnegative"),
        CheckConstraint("booking_horizon_days >= 1", name="horizon_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    timezone: Mapped[str] = mapped_column(String(64))
    buffer_minutes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    min_notice_minutes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    booking_horizon_days: Mapped[int] = mapped_column(Integer, default=90, server_default="90")
    # Notification switches, e.g. {"notify_practitioner": true, "notify_patient": true,
    # "notify_coordinators": false}; JSON so new channels need no migration.
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Clinic(Base):
    __tablename__ = "clinics"
    __table_args__ = (UniqueConstraint("organization_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    address: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")

    organization: Mapped[Organization] = relationship()


class Practitioner(Base):
    __tablename__ = "practitioners"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    specialty: Mapped[str] = mapped_column(String(100), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    # Marks the stand-in practitioner that imported history is attached to when the
    # source system did not record who saw the patient.
    is_placeholder: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")

    organization: Mapped[Organization] = relationship()


class ClinicAssignment(Base):
    __tablename__ = "clinic_assignments"
    __table_args__ = (
        UniqueConstraint("practitioner_id", "clinic_id", "active_from"),
        CheckConstraint("active_to IS NULL OR active_to >= active_from", name="period_order"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    practitioner_id: Mapped[int] = mapped_column(ForeignKey("practitioners.id"), index=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"), index=True)
    active_from: Mapped[date] = mapped_column(Date)
    active_to: Mapped[date | None] = mapped_column(Date)

    practitioner: Mapped[Practitioner] = relationship()
    clinic: Mapped[Clinic] = relationship()


class AppointmentType(Base):
    __tablename__ = "appointment_types"
    __table_args__ = (
        UniqueConstraint("organization_id", "code"),
        CheckConstraint("default_duration_minutes > 0", name="duration_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    code: Mapped[str] = mapped_column(String(50))
    name: Mapped[str] = mapped_column(String(100))
    default_duration_minutes: Mapped[int] = mapped_column(Integer)
    encounter_type: Mapped[str] = mapped_column(String(50))
    is_group: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")


class Schedule(Base):
    """A weekly block of a practitioner's time at a clinic, in the clinic's local time."""

    __tablename__ = "schedules"
    __table_args__ = (
        CheckConstraint("weekday >= 0 AND weekday <= 6", name="weekday_range"),
        CheckConstraint("end_time > start_time", name="end_after_start"),
        CheckConstraint("slot_minutes > 0", name="slot_positive"),
        CheckConstraint("capacity >= 1", name="capacity_positive"),
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="validity_order"),
        Index("ix_schedules_practitioner_weekday", "practitioner_id", "weekday"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    practitioner_id: Mapped[int] = mapped_column(ForeignKey("practitioners.id"))
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"), index=True)
    # Monday = 0 ... Sunday = 6, as Python's date.weekday().
    weekday: Mapped[int] = mapped_column(SmallInteger)
    start_time: Mapped[time] = mapped_column(Time)
    end_time: Mapped[time] = mapped_column(Time)
    slot_minutes: Mapped[int] = mapped_column(Integer)
    capacity: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # When set, the block only takes this type (e.g. a group-therapy block).
    appointment_type_id: Mapped[int | None] = mapped_column(ForeignKey("appointment_types.id"))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)

    practitioner: Mapped[Practitioner] = relationship()
    clinic: Mapped[Clinic] = relationship()


class ScheduleException(Base):
    """Time taken out of schedules: a practitioner's leave, a holiday or a clinic closure.

    practitioner_id NULL means every practitioner (of the clinic, or of the organization
    when clinic_id is NULL too).
    """

    __tablename__ = "schedule_exceptions"
    __table_args__ = (
        CheckConstraint("end_at > start_at", name="end_after_start"),
        CheckConstraint(f"reason IN {sql_in(EXCEPTION_REASONS)}", name="reason_known"),
        Index("ix_schedule_exceptions_org_start", "organization_id", "start_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    practitioner_id: Mapped[int | None] = mapped_column(ForeignKey("practitioners.id"), index=True)
    clinic_id: Mapped[int | None] = mapped_column(ForeignKey("clinics.id"), index=True)
    start_at: Mapped[datetime]
    end_at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# Expression indexes the migrations create on PostgreSQL only (revision 7dbf440fd226:
# case-insensitive name-prefix search for the booking form). SQLAlchemy cannot reflect
# expression indexes on SQLite nor round-trip their text on PostgreSQL, so they are not
# declared on the models; autogenerate and the schema test skip them by name
# (``data.migrate.include_object``), and a test checks that PostgreSQL has and uses them.
UNMODELLED_INDEXES: frozenset[str] = frozenset(
    {"ix_patients_org_family_name_search", "ix_patients_org_given_name_search"}
)


class Patient(Base):
    __tablename__ = "patients"
    __table_args__ = (
        UniqueConstraint("organization_id", "external_id"),
        CheckConstraint(f"gender IS NULL OR gender IN {sql_in(GENDERS)}", name="gender_known"),
        Index("ix_patients_org_family_given", "organization_id", "family_name", "given_name"),
        Index("ix_patients_org_birth_date", "organization_id", "birth_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    given_name: Mapped[str] = mapped_column(String(100))
    family_name: Mapped[str] = mapped_column(String(100))
    birth_date: Mapped[date | None] = mapped_column(Date)
    # True when birth_date was derived from an age (imported history), not recorded.
    birth_date_estimated: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    gender: Mapped[str | None] = mapped_column(String(1))
    phone: Mapped[str | None] = mapped_column(String(50))
    email: Mapped[str | None] = mapped_column(String(200))
    external_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}".strip()


class User(Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint(f"role IN {sql_in(ROLES)}", name="role_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    # Stored lower-cased; unique across organizations because it is the login name.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    role: Mapped[str] = mapped_column(String(32))
    password_hash: Mapped[str] = mapped_column(String(255))
    practitioner_id: Mapped[int | None] = mapped_column(ForeignKey("practitioners.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    # Copied into the session cookie at sign-in; bumping it (password change, deactivation,
    # "sign out everywhere") ends every session issued before.
    session_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]


class LoginFailure(Base):
    """One failed sign-in, for throttling when no Redis is configured.

    ``key`` is a SHA-256 of what is throttled (e-mail + client address, or the address
    alone), so the table holds no e-mail addresses. Rows older than the window are deleted.
    """

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_key_created", "key", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(index=True)


class AppointmentSeries(Base):
    """A recurring series: the rule its occurrences were generated from (every
    ``interval_weeks`` weeks at ``local_time`` in ``timezone``, ``occurrence_count`` times
    or until ``until_date``). Each occurrence is an ordinary appointment carrying
    ``series_id``; the rule is kept for the record and for the panel's wording."""

    __tablename__ = "appointment_series"
    __table_args__ = (
        CheckConstraint("interval_weeks BETWEEN 1 AND 52", name="interval_range"),
        CheckConstraint("duration_minutes > 0", name="duration_positive"),
        CheckConstraint(
            "(occurrence_count IS NULL) <> (until_date IS NULL)", name="count_or_until"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    practitioner_id: Mapped[int] = mapped_column(ForeignKey("practitioners.id"))
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    appointment_type_id: Mapped[int] = mapped_column(ForeignKey("appointment_types.id"))
    interval_weeks: Mapped[int] = mapped_column(SmallInteger)
    first_date: Mapped[date] = mapped_column(Date)
    local_time: Mapped[time] = mapped_column(Time)
    timezone: Mapped[str] = mapped_column(String(64))
    duration_minutes: Mapped[int] = mapped_column(Integer)
    occurrence_count: Mapped[int | None] = mapped_column(Integer)
    until_date: Mapped[date | None] = mapped_column(Date)
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Appointment(Base):
    __tablename__ = "appointments"
    __table_args__ = (
        CheckConstraint(f"status IN {sql_in(APPOINTMENT_STATUSES)}", name="status_known"),
        CheckConstraint("duration_minutes > 0", name="duration_positive"),
        CheckConstraint("end_at > start_at", name="end_after_start"),
        CheckConstraint(
            f"cancellation_category IS NULL OR cancellation_category IN "
            f"{sql_in(CANCELLATION_CATEGORIES)}",
            name="cancellation_category_known",
        ),
        CheckConstraint("version >= 1", name="version_positive"),
        UniqueConstraint("organization_id", "external_id"),
        Index("ix_appointments_practitioner_start", "practitioner_id", "start_at"),
        Index("ix_appointments_clinic_start", "clinic_id", "start_at"),
        Index("ix_appointments_patient_start", "patient_id", "start_at"),
        Index("ix_appointments_org_start", "organization_id", "start_at"),
        Index("ix_appointments_status", "status"),
        # Last line of defence against double booking on PostgreSQL (the booking service's
        # per-practitioner lock is the guarantee): two exclusive, non-cancelled
        # appointments of one practitioner never overlap. Group seats, capacity>1 blocks
        # and date-only imported history are not exclusive. Needs btree_gist for the
        # integer "=" in a GiST index; SQLite has no equivalent and relies on the lock.
        ExcludeConstraint(
            ("practitioner_id", "="),
            (func.tstzrange(text("start_at"), text("end_at")), "&&"),
            where=text("exclusive AND status <> 'cancelled'"),
            using="gist",
            name="ex_appointments_practitioner_time",
        ).ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    practitioner_id: Mapped[int] = mapped_column(ForeignKey("practitioners.id"))
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    appointment_type_id: Mapped[int] = mapped_column(ForeignKey("appointment_types.id"))
    start_at: Mapped[datetime]
    # Kept beside duration so overlap queries are plain indexed range comparisons;
    # always start_at + duration_minutes (set by the writers, checked by tests).
    end_at: Mapped[datetime]
    duration_minutes: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="booked")
    notes: Mapped[str | None] = mapped_column(Text)
    cancellation_category: Mapped[str | None] = mapped_column(String(32))
    cancellation_reason: Mapped[str | None] = mapped_column(Text)
    # When the booking was made (drives lead-time analytics); differs from created_at for
    # imported history, where created_at is the import time.
    booked_at: Mapped[datetime] = mapped_column(default=utcnow)
    reminder_sent: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # The source recorded only the day, not the time: start_at is local midnight and
    # hour-of-day analytics must leave these rows out.
    date_only: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # The appointment takes the practitioner's whole time (a capacity-1 slot): no other
    # exclusive appointment of theirs may overlap it (see the exclusion constraint).
    # False for group seats, capacity>1 blocks and imported history.
    exclusive: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # Clinic-local facts of start_at and booked_at for statistics, derived in one place
    # (data/local_facts.py) and set by every writer: local calendar date and hour (NULL
    # for date-only rows) of the start, and the lead time in local days.
    local_date: Mapped[date] = mapped_column(Date)
    local_hour: Mapped[int | None] = mapped_column(SmallInteger)
    lead_days: Mapped[int] = mapped_column(Integer)
    external_id: Mapped[str | None] = mapped_column(String(64))
    # The recurring series it was booked in, if any (an ordinary appointment otherwise).
    series_id: Mapped[int | None] = mapped_column(ForeignKey("appointment_series.id"), index=True)
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    __mapper_args__: ClassVar[dict[str, Any]] = {"version_id_col": version}

    patient: Mapped[Patient] = relationship()
    practitioner: Mapped[Practitioner] = relationship()
    clinic: Mapped[Clinic] = relationship()
    appointment_type: Mapped[AppointmentType] = relationship()


_FACT_SOURCES = ("start_at", "booked_at", "date_only", "clinic_id")


@event.listens_for(Appointment, "before_insert")
def _facts_on_insert(mapper: Any, connection: Connection, target: Appointment) -> None:
    set_local_facts(connection, target)


@event.listens_for(Appointment, "before_update")
def _facts_on_update(mapper: Any, connection: Connection, target: Appointment) -> None:
    # Only when what they derive from changed (a status change needs no clinic lookup).
    state = inspect(target)
    if any(state.attrs[name].history.has_changes() for name in _FACT_SOURCES):
        set_local_facts(connection, target)


class ActivityEvent(Base):
    """The audit trail: one row per change, never updated or deleted."""

    __tablename__ = "activity_events"
    __table_args__ = (
        CheckConstraint(f"priority IN {sql_in(EVENT_PRIORITIES)}", name="priority_known"),
        Index("ix_activity_events_org_created", "organization_id", "created_at"),
        Index("ix_activity_events_appointment_created", "appointment_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    event_type: Mapped[str] = mapped_column(String(64))
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointments.id"))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    priority: Mapped[str] = mapped_column(String(10), default="normal")
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Name as it was when acting, so history survives renames; "system" for jobs.
    actor_name: Mapped[str] = mapped_column(String(200), default="system")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Notification(Base):
    __tablename__ = "notifications"
    __table_args__ = (
        CheckConstraint(f"priority IN {sql_in(EVENT_PRIORITIES)}", name="priority_known"),
        CheckConstraint(f"recipient_kind IN {sql_in(RECIPIENT_KINDS)}", name="recipient_known"),
        CheckConstraint(
            "(recipient_kind = 'role' AND recipient_role IS NOT NULL)"
            " OR (recipient_kind <> 'role' AND recipient_id IS NOT NULL)",
            name="recipient_present",
        ),
        Index(
            "ix_notifications_recipient",
            "organization_id",
            "recipient_kind",
            "recipient_id",
            "read_at",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    event_id: Mapped[int | None] = mapped_column(ForeignKey("activity_events.id"), index=True)
    recipient_kind: Mapped[str] = mapped_column(String(20))
    recipient_id: Mapped[int | None] = mapped_column(Integer)
    recipient_role: Mapped[str | None] = mapped_column(String(32))
    priority: Mapped[str] = mapped_column(String(10), default="normal")
    channel: Mapped[str] = mapped_column(String(20), default="in-app")
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    read_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Encounter(Base):
    __tablename__ = "encounters"
    __table_args__ = (
        CheckConstraint(f"status IN {sql_in(ENCOUNTER_STATUSES)}", name="status_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointments.id"), unique=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    practitioner_id: Mapped[int] = mapped_column(ForeignKey("practitioners.id"))
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    encounter_date: Mapped[date] = mapped_column(Date)
    encounter_type: Mapped[str] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(20), default="in-progress")
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finalized_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AppointmentReminder(Base):
    """One timed reminder of one appointment, written when a runner claims it.

    The unique key (appointment, offset, start it was computed for) is what makes sending
    exactly-once: a runner sends only the rows its own INSERT created, so two runners can
    never both own one. A moved appointment has a new start, hence new keys (its new
    reminders), while rows computed for the old start are never sent again.
    """

    __tablename__ = "appointment_reminders"
    __table_args__ = (
        UniqueConstraint("appointment_id", "offset_minutes", "start_at"),
        CheckConstraint(f"status IN {sql_in(REMINDER_STATUSES)}", name="status_known"),
        CheckConstraint(
            f"channel IS NULL OR channel IN {sql_in(REMINDER_CHANNELS)}", name="channel_known"
        ),
        CheckConstraint("offset_minutes > 0", name="offset_positive"),
        CheckConstraint("attempts >= 0", name="attempts_nonnegative"),
        # The retry scan: failed rows whose next attempt is due, stale claims.
        Index("ix_appointment_reminders_org_status", "organization_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointments.id"))
    offset_minutes: Mapped[int] = mapped_column(Integer)
    # The appointment's start this reminder was computed for, and when it fell due.
    start_at: Mapped[datetime]
    due_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str | None] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Which runner holds the claim, since when (a claim older than the lease is taken
    # over: the runner died mid-send).
    claimed_by: Mapped[str | None] = mapped_column(String(120))
    claimed_at: Mapped[datetime | None]
    next_attempt_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    # Why it was skipped, or the last delivery error.
    detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CalendarFeed(Base):
    """A practitioner's private iCalendar feed. Only the SHA-256 of the token is kept: the
    URL is shown once, at issue. At most one live (unrevoked) feed per practitioner."""

    __tablename__ = "calendar_feeds"
    __table_args__ = (
        Index(
            "uq_calendar_feeds_live_practitioner",
            "practitioner_id",
            unique=True,
            postgresql_where=text("revoked_at IS NULL"),
            sqlite_where=text("revoked_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    practitioner_id: Mapped[int] = mapped_column(ForeignKey("practitioners.id"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200))
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


class ApiToken(Base):
    """A bearer token for the FHIR API, bound to one organization. Only the SHA-256 of
    the token is kept: it is shown once, when created."""

    __tablename__ = "api_tokens"
    __table_args__ = (CheckConstraint(f"scope IN {sql_in(API_TOKEN_SCOPES)}", name="scope_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scope: Mapped[str] = mapped_column(String(20), default="read")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


class WaitlistEntry(Base):
    """A patient waiting for a seat with a practitioner, or with anyone of a specialty
    (optionally at one clinic), on a local date between ``earliest_date`` and
    ``latest_date`` and, when given, at preferred times of day (``day_parts`` such as
    "morning,evening", or the local range ``time_from``-``time_to``). Entries are offered
    freed seats in the order they joined (``created_at``, then id)."""

    __tablename__ = "waitlist_entries"
    __table_args__ = (
        CheckConstraint(f"status IN {sql_in(WAITLIST_STATUSES)}", name="status_known"),
        CheckConstraint(
            "practitioner_id IS NOT NULL OR specialty IS NOT NULL", name="wanted_present"
        ),
        CheckConstraint("latest_date >= earliest_date", name="window_order"),
        CheckConstraint(
            "(time_from IS NULL AND time_to IS NULL)"
            " OR (time_from IS NOT NULL AND time_to IS NOT NULL AND time_to > time_from)",
            name="time_range_order",
        ),
        Index("ix_waitlist_entries_org_status_created", "organization_id", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    practitioner_id: Mapped[int | None] = mapped_column(ForeignKey("practitioners.id"))
    specialty: Mapped[str | None] = mapped_column(String(100))
    clinic_id: Mapped[int | None] = mapped_column(ForeignKey("clinics.id"))
    appointment_type_id: Mapped[int] = mapped_column(ForeignKey("appointment_types.id"))
    earliest_date: Mapped[date] = mapped_column(Date)
    latest_date: Mapped[date] = mapped_column(Date)
    day_parts: Mapped[str | None] = mapped_column(String(40))
    time_from: Mapped[time | None] = mapped_column(Time)
    time_to: Mapped[time | None] = mapped_column(Time)
    status: Mapped[str] = mapped_column(String(16), default="waiting")
    notes: Mapped[str | None] = mapped_column(Text)
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointments.id"))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class WaitlistOffer(Base):
    """One freed seat offered to one waitlist entry, open until it is booked, declined
    or expires (``expires_at``, judged by time when read). While open, a slot hold keeps
    the seat for the entry; an entry never gets the same seat offered twice."""

    __tablename__ = "waitlist_offers"
    __table_args__ = (
        CheckConstraint(f"status IN {sql_in(WAITLIST_OFFER_STATUSES)}", name="status_known"),
        CheckConstraint("end_at > start_at", name="end_after_start"),
        CheckConstraint("expires_at > offered_at", name="expires_after_offer"),
        # At most one open offer per entry.
        Index(
            "uq_waitlist_offers_open_entry",
            "entry_id",
            unique=True,
            postgresql_where=text("status = 'open'"),
            sqlite_where=text("status = 'open'"),
        ),
        Index("ix_waitlist_offers_org_status", "organization_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    entry_id: Mapped[int] = mapped_column(ForeignKey("waitlist_entries.id"))
    practitioner_id: Mapped[int] = mapped_column(ForeignKey("practitioners.id"))
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    start_at: Mapped[datetime]
    end_at: Mapped[datetime]
    offered_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default="open")
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointments.id"))
    closed_at: Mapped[datetime | None]


class SlotHold(Base):
    """One seat kept for a few minutes: by a staff member who opened the booking form on
    it (``user_id``), or for a waitlist offer (``waitlist_offer_id``). Availability and
    booking count a hold like a booked seat until ``expires_at`` (judged by time, so an
    expired row simply stops counting); the holder's own booking consumes it."""

    __tablename__ = "slot_holds"
    __table_args__ = (
        CheckConstraint("end_at > start_at", name="end_after_start"),
        CheckConstraint(
            "user_id IS NOT NULL OR waitlist_offer_id IS NOT NULL", name="holder_present"
        ),
        Index("ix_slot_holds_practitioner_start", "practitioner_id", "start_at"),
        Index("ix_slot_holds_org_expires", "organization_id", "expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    practitioner_id: Mapped[int] = mapped_column(ForeignKey("practitioners.id"))
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    start_at: Mapped[datetime]
    end_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    waitlist_offer_id: Mapped[int | None] = mapped_column(ForeignKey("waitlist_offers.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class StatsSummaryPart(Base):
    """A stretch of clinic-local dates of an organization, a whole calendar month or a
    single day, over after every clinic's last midnight, whose statistics rows are stored
    in ``stats_summary_rows``. The row exists exactly while those rows are current: every
    write to an appointment of one of its dates deletes both in the same transaction
    (``data/stats_summaries.py``); they are built again on demand."""

    __tablename__ = "stats_summary_parts"
    __table_args__ = (CheckConstraint("last_day >= first_day", name="days_in_order"),)

    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), primary_key=True)
    first_day: Mapped[date] = mapped_column(Date, primary_key=True)
    last_day: Mapped[date] = mapped_column(Date, primary_key=True)
    built_at: Mapped[datetime] = mapped_column(default=utcnow)


class StatsSummaryRow(Base):
    """One grouped row of the statistics statement (``data/stats_queries.py``) over one
    stored part: the columns of ``AGGREGATE_COLUMNS`` but ``past`` (always true for a day
    that is over). Ids are not foreign keys: these are counts, rebuilt from the
    appointments at any time."""

    __tablename__ = "stats_summary_rows"
    __table_args__ = (Index("ix_stats_summary_rows_org_first_day", "organization_id", "first_day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    first_day: Mapped[date] = mapped_column(Date)
    last_day: Mapped[date] = mapped_column(Date)
    grp: Mapped[int] = mapped_column(SmallInteger)
    practitioner_id: Mapped[int | None]
    clinic_id: Mapped[int | None]
    type_id: Mapped[int | None]
    category: Mapped[str | None] = mapped_column(String(32))
    week: Mapped[int | None] = mapped_column(Integer)
    weekday: Mapped[int | None] = mapped_column(SmallInteger)
    hour: Mapped[int | None] = mapped_column(SmallInteger)
    date_only: Mapped[bool | None]
    lead_bucket: Mapped[int | None] = mapped_column(SmallInteger)
    reminder_sent: Mapped[bool | None]
    age_group: Mapped[int | None] = mapped_column(SmallInteger)
    status: Mapped[str] = mapped_column(String(20))
    n: Mapped[int] = mapped_column(Integer)
    minutes: Mapped[int] = mapped_column(Integer)
