"""appointment clinic-local facts for statistics

Revision ID: 5b1c0ca1f4c7
Revises: 5b1e0c9d7a31
Create Date: 2026-11-28 03:55:00.000000

Adds local_date, local_hour and lead_days (see data/local_facts.py) and fills them for
every existing appointment: one set-based UPDATE on PostgreSQL, batches through the same
derivation the writers use on SQLite. Then makes local_date and lead_days NOT NULL (a
writer that forgot them would otherwise drop rows out of the statistics silently) and
indexes the local date for the statistics' period filter.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from data.local_facts import refresh_local_facts

revision: str = "5b1c0ca1f4c7"
down_revision: str | None = "5b1e0c9d7a31"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("local_date", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("local_hour", sa.SmallInteger(), nullable=True))
        batch_op.add_column(sa.Column("lead_days", sa.Integer(), nullable=True))
    refresh_local_facts(op.get_bind())
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.alter_column("local_date", existing_type=sa.Date(), nullable=False)
        batch_op.alter_column("lead_days", existing_type=sa.Integer(), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.drop_column("lead_days")
        batch_op.drop_column("local_hour")
        batch_op.drop_column("local_date")
