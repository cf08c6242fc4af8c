"""recurring appointment series

Revision ID: 5b1e0c9d7a31
Revises: 7dbf440fd226
Create Date: 2026-11-28 03:55:00.000000

A series is the rule (every N weeks at a local wall-clock time, a count or an end date);
its occurrences are ordinary appointments pointing at it through the nullable
``appointments.series_id``.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import data.types

revision: str = "5b1e0c9d7a31"
down_revision: str | None = "7dbf440fd226"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "appointment_series",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("practitioner_id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("appointment_type_id", sa.Integer(), nullable=False),
        sa.Column("interval_weeks", sa.SmallInteger(), nullable=False),
        sa.Column("first_date", sa.Date(), nullable=False),
        sa.Column("local_time", sa.Time(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("occurrence_count", sa.Integer(), nullable=True),
        sa.Column("until_date", sa.Date(), nullable=True),
        sa.Column("created_by_user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", data.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "interval_weeks BETWEEN 1 AND 52",
            name=op.f("ck_appointment_series_interval_range"),
        ),
        sa.CheckConstraint(
            "duration_minutes > 0", name=op.f("ck_appointment_series_duration_positive")
        ),
        sa.CheckConstraint(
            "(occurrence_count IS NULL) <> (until_date IS NULL)",
            name=op.f("ck_appointment_series_count_or_until"),
        ),
        sa.ForeignKeyConstraint(
            ["appointment_type_id"],
            ["appointment_types.id"],
            name=op.f("fk_appointment_series_appointment_type_id_appointment_types"),
        ),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinics.id"], name=op.f("fk_appointment_series_clinic_id_clinics")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_user_id"],
            ["users.id"],
            name=op.f("fk_appointment_series_created_by_user_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_appointment_series_organization_id_organizations"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_appointment_series_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["practitioner_id"],
            ["practitioners.id"],
            name=op.f("fk_appointment_series_practitioner_id_practitioners"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointment_series")),
    )
    with op.batch_alter_table("appointment_series", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_appointment_series_organization_id"), ["organization_id"], unique=False
        )
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("series_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_appointments_series_id"), ["series_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_appointments_series_id_appointment_series"),
            "appointment_series",
            ["series_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_appointments_series_id_appointment_series"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_appointments_series_id"))
        batch_op.drop_column("series_id")
    with op.batch_alter_table("appointment_series", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_appointment_series_organization_id"))
    op.drop_table("appointment_series")
