"""reminders, calendar feeds and api tokens

Revision ID: a8c2edb2ec5a
Revises: 4c475a44b7ec
Create Date: 2026-11-28 01:36:36.799691

Timed reminders (one row per claimed reminder, unique per appointment, offset and the
start it was computed for), practitioners' private iCalendar feeds and the FHIR API's
bearer tokens (both stored as SHA-256 hashes only).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import data.types

revision: str = "a8c2edb2ec5a"
down_revision: str | None = "4c475a44b7ec"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.String(length=20), nullable=False),
        sa.Column("created_at", data.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("expires_at", data.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", data.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", data.types.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("scope IN ('read')", name=op.f("ck_api_tokens_scope_known")),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_api_tokens_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_api_tokens_organization_id"), ["organization_id"], unique=False
        )

    op.create_table(
        "calendar_feeds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("practitioner_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", data.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("revoked_at", data.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", data.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_calendar_feeds_organization_id_organizations"),
        ),
        sa.ForeignKeyConstraint(
            ["practitioner_id"],
            ["practitioners.id"],
            name=op.f("fk_calendar_feeds_practitioner_id_practitioners"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_feeds")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_calendar_feeds_token_hash")),
    )
    with op.batch_alter_table("calendar_feeds", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_calendar_feeds_organization_id"), ["organization_id"], unique=False
        )
        batch_op.create_index(
            "uq_calendar_feeds_live_practitioner",
            ["practitioner_id"],
            unique=True,
            postgresql_where=sa.text("revoked_at IS NULL"),
            sqlite_where=sa.text("revoked_at IS NULL"),
        )

    op.create_table(
        "appointment_reminders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("appointment_id", sa.Integer(), nullable=False),
        sa.Column("offset_minutes", sa.Integer(), nullable=False),
        sa.Column("start_at", data.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("due_at", data.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("claimed_by", sa.String(length=120), nullable=True),
        sa.Column("claimed_at", data.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("next_attempt_at", data.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("sent_at", data.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("created_at", data.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "channel IS NULL OR channel IN ('email', 'in-app')",
            name=op.f("ck_appointment_reminders_channel_known"),
        ),
        sa.CheckConstraint(
            "status IN ('sending', 'sent', 'failed', 'skipped', 'abandoned')",
            name=op.f("ck_appointment_reminders_status_known"),
        ),
        sa.CheckConstraint(
            "attempts >= 0", name=op.f("ck_appointment_reminders_attempts_nonnegative")
        ),
        sa.CheckConstraint(
            "offset_minutes > 0", name=op.f("ck_appointment_reminders_offset_positive")
        ),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            name=op.f("fk_appointment_reminders_appointment_id_appointments"),
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_appointment_reminders_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointment_reminders")),
        sa.UniqueConstraint(
            "appointment_id",
            "offset_minutes",
            "start_at",
            name=op.f("uq_appointment_reminders_appointment_id_offset_minutes_start_at"),
        ),
    )
    with op.batch_alter_table("appointment_reminders", schema=None) as batch_op:
        batch_op.create_index(
            "ix_appointment_reminders_org_status", ["organization_id", "status"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("appointment_reminders", schema=None) as batch_op:
        batch_op.drop_index("ix_appointment_reminders_org_status")

    op.drop_table("appointment_reminders")
    with op.batch_alter_table("calendar_feeds", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_calendar_feeds_live_practitioner",
            postgresql_where=sa.text("revoked_at IS NULL"),
            sqlite_where=sa.text("revoked_at IS NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_calendar_feeds_organization_id"))

    op.drop_table("calendar_feeds")
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_tokens_organization_id"))

    op.drop_table("api_tokens")
