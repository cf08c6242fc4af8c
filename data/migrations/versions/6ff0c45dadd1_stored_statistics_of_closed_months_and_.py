"""stored statistics of closed months and days

Revision ID: 6ff0c45dadd1
Revises: d95409e0ce38
Create Date: 2026-11-28 07:39:14.128140

Stored statistics rows of closed months and days (data/stats_summaries.py). Both tables
start empty: the rows are built on demand by the statistics queries that need them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import data.types

revision: str = "6ff0c45dadd1"
down_revision: str | None = "d95409e0ce38"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stats_summary_parts",
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.Column("built_at", data.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "last_day >= first_day", name=op.f("ck_stats_summary_parts_days_in_order")
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_stats_summary_parts_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint(
            "organization_id", "first_day", "last_day", name=op.f("pk_stats_summary_parts")
        ),
    )
    op.create_table(
        "stats_summary_rows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.Column("grp", sa.SmallInteger(), nullable=False),
        sa.Column("practitioner_id", sa.Integer(), nullable=True),
        sa.Column("clinic_id", sa.Integer(), nullable=True),
        sa.Column("type_id", sa.Integer(), nullable=True),
        sa.Column("category", sa.String(length=32), nullable=True),
        sa.Column("week", sa.Integer(), nullable=True),
        sa.Column("weekday", sa.SmallInteger(), nullable=True),
        sa.Column("hour", sa.SmallInteger(), nullable=True),
        sa.Column("date_only", sa.Boolean(), nullable=True),
        sa.Column("lead_bucket", sa.SmallInteger(), nullable=True),
        sa.Column("reminder_sent", sa.Boolean(), nullable=True),
        sa.Column("age_group", sa.SmallInteger(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_stats_summary_rows_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stats_summary_rows")),
    )
    with op.batch_alter_table("stats_summary_rows", schema=None) as batch_op:
        batch_op.create_index(
            "ix_stats_summary_rows_org_first_day", ["organization_id", "first_day"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("stats_summary_rows", schema=None) as batch_op:
        batch_op.drop_index("ix_stats_summary_rows_org_first_day")

    op.drop_table("stats_summary_rows")
    op.drop_table("stats_summary_parts")
