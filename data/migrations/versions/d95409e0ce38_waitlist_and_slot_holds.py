"""waitlist and slot holds

Revision ID: d95409e0ce38
Revises: 5b1e0c9d7a31
Create Date: 2026-11-28 03:46:27.504885

The waitlist (entries in order of joining, each freed seat offered to one entry at a
time) and short slot holds (a seat kept while a booking form is open, or for an open
waitlist offer). Statuses are closed vocabularies with CHECKs; at most one open offer per
entry (partial unique index, on both stores).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import data.types

revision: str = "d95409e0ce38"
down_revision: str | None = "5b1c0ca1f4c7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "waitlist_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("practitioner_id", sa.Integer(), nullable=True),
        sa.Column("specialty", sa.String(length=100), nullable=True),
        sa.Column("clinic_id", sa.Integer(), nullable=True),
        sa.Column("appointment_type_id", sa.Integer(), nullable=False),
        sa.Column("earliest_date", sa.Date(), nullable=False),
        sa.Column("latest_date", sa.Date(), nullable=False),
        sa.Column("day_parts", sa.String(length=40), nullable=True),
        sa.Column("time_from", sa.Time(), nullable=True),
        sa.Column("time_to", sa.Time(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("appointment_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", data.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", data.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('waiting', 'offered', 'booked', 'removed')",
            name=op.f("ck_waitlist_entries_status_known"),
        ),
        sa.CheckConstraint(
            "(time_from IS NULL AND time_to IS NULL) OR (time_from IS NOT NULL AND time_to IS NOT NULL AND time_to > time_from)",
            name=op.f("ck_waitlist_entries_time_range_order"),
        ),
        sa.CheckConstraint(
            "latest_date >= earliest_date", name=op.f("ck_waitlist_entries_window_order")
        ),
        sa.CheckConstraint(
            "practitioner_id IS NOT NULL OR specialty IS NOT NULL",
            name=op.f("ck_waitlist_entries_wanted_present"),
        ),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            name=op.f("fk_waitlist_entries_appointment_id_appointments"),
        ),
        sa.ForeignKeyConstraint(
            ["appointment_type_id"],
            ["appointment_types.id"],
            name=op.f("fk_waitlist_entries_appointment_type_id_appointment_types"),
        ),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinics.id"], name=op.f("fk_waitlist_entries_clinic_id_clinics")
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_waitlist_entries_organization_id_organizations"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_waitlist_entries_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["practitioner_id"],
            ["practitioners.id"],
            name=op.f("fk_waitlist_entries_practitioner_id_practitioners"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_waitlist_entries")),
    )
    with op.batch_alter_table("waitlist_entries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_waitlist_entries_org_status_created",
            ["organization_id", "status", "created_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_waitlist_entries_patient_id"), ["patient_id"], unique=False
        )

    op.create_table(
        "waitlist_offers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("practitioner_id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("start_at", data.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("end_at", data.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("offered_at", data.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", data.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("appointment_id", sa.Integer(), nullable=True),
        sa.Column("closed_at", data.types.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('open', 'booked', 'declined', 'expired')",
            name=op.f("ck_waitlist_offers_status_known"),
        ),
        sa.CheckConstraint("end_at > start_at", name=op.f("ck_waitlist_offers_end_after_start")),
        sa.CheckConstraint(
            "expires_at > offered_at", name=op.f("ck_waitlist_offers_expires_after_offer")
        ),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            name=op.f("fk_waitlist_offers_appointment_id_appointments"),
        ),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinics.id"], name=op.f("fk_waitlist_offers_clinic_id_clinics")
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["waitlist_entries.id"],
            name=op.f("fk_waitlist_offers_entry_id_waitlist_entries"),
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_waitlist_offers_organization_id_organizations"),
        ),
        sa.ForeignKeyConstraint(
            ["practitioner_id"],
            ["practitioners.id"],
            name=op.f("fk_waitlist_offers_practitioner_id_practitioners"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_waitlist_offers")),
    )
    with op.batch_alter_table("waitlist_offers", schema=None) as batch_op:
        batch_op.create_index(
            "ix_waitlist_offers_org_status", ["organization_id", "status"], unique=False
        )
        batch_op.create_index(
            "uq_waitlist_offers_open_entry",
            ["entry_id"],
            unique=True,
            postgresql_where=sa.text("status = 'open'"),
            sqlite_where=sa.text("status = 'open'"),
        )

    op.create_table(
        "slot_holds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("practitioner_id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("start_at", data.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("end_at", data.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", data.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("waitlist_offer_id", sa.Integer(), nullable=True),
        sa.Column("created_at", data.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("end_at > start_at", name=op.f("ck_slot_holds_end_after_start")),
        sa.CheckConstraint(
            "user_id IS NOT NULL OR waitlist_offer_id IS NOT NULL",
            name=op.f("ck_slot_holds_holder_present"),
        ),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinics.id"], name=op.f("fk_slot_holds_clinic_id_clinics")
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_slot_holds_organization_id_organizations"),
        ),
        sa.ForeignKeyConstraint(
            ["practitioner_id"],
            ["practitioners.id"],
            name=op.f("fk_slot_holds_practitioner_id_practitioners"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_slot_holds_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["waitlist_offer_id"],
            ["waitlist_offers.id"],
            name=op.f("fk_slot_holds_waitlist_offer_id_waitlist_offers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slot_holds")),
    )
    with op.batch_alter_table("slot_holds", schema=None) as batch_op:
        batch_op.create_index(
            "ix_slot_holds_org_expires", ["organization_id", "expires_at"], unique=False
        )
        batch_op.create_index(
            "ix_slot_holds_practitioner_start", ["practitioner_id", "start_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_slot_holds_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("slot_holds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_slot_holds_user_id"))
        batch_op.drop_index("ix_slot_holds_practitioner_start")
        batch_op.drop_index("ix_slot_holds_org_expires")

    op.drop_table("slot_holds")
    with op.batch_alter_table("waitlist_offers", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_waitlist_offers_open_entry",
            postgresql_where=sa.text("status = 'open'"),
            sqlite_where=sa.text("status = 'open'"),
        )
        batch_op.drop_index("ix_waitlist_offers_org_status")

    op.drop_table("waitlist_offers")
    with op.batch_alter_table("waitlist_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_waitlist_entries_patient_id"))
        batch_op.drop_index("ix_waitlist_entries_org_status_created")

    op.drop_table("waitlist_entries")
