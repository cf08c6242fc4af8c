"""statistics summaries of closed months

Revision ID: ae4ab7cc7640
Revises: d95409e0ce38
Create Date: 2026-11-28 07:08:10.448370

Stored statistics rows of closed months (data/stats_summaries.py). Both tables start
empty: the rows are built on demand by the first statistics query that needs them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import data.types

revision: str = "ae4ab7cc7640"
down_revision: str | None = "d95409e0ce38"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stats_summary_months",
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("built_at", data.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_stats_summary_months_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("organization_id", "month", name=op.f("pk_stats_summary_months")),
    )
    op.create_table(
        "stats_summary_rows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("grp", sa.SmallInteger(), nullable=False),
        sa.Column("practitioner_id", sa.Integer(), nullable=True),
        sa.Column("clinic_id", sa.Integer(), nullable=True),
        sa.Column("type_id", sa.Integer(), nullable=True),
        sa.Column("category", sa.String(length=32), nullable=True),
        sa.Column("lh", sa.Integer(), nullable=True),
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
            "ix_stats_summary_rows_org_month", ["organization_id", "month"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("stats_summary_rows", schema=None) as batch_op:
        batch_op.drop_index("ix_stats_summary_rows_org_month")

    op.drop_table("stats_summary_rows")
    op.drop_table("stats_summary_months")
