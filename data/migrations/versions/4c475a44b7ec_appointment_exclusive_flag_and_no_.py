"""appointment exclusive flag and no-overlap constraint

Revision ID: 4c475a44b7ec
Revises: 68170ff36b1a
Create Date: 2026-11-28 00:27:06.664614

Rows that exist before this revision keep exclusive = false: they are not checked by the
constraint (an old overlap, e.g. in imported history, must not make the upgrade fail, and
no table rewrite is needed on large stores). Bookings made through the service set it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "4c475a44b7ec"
down_revision: str | None = "68170ff36b1a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("exclusive", sa.Boolean(), server_default="0", nullable=False)
        )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        op.execute(
            "ALTER TABLE appointments ADD CONSTRAINT ex_appointments_practitioner_time "
            "EXCLUDE USING gist (practitioner_id WITH =, tstzrange(start_at, end_at) WITH &&) "
            "WHERE (exclusive AND status <> 'cancelled')"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE appointments DROP CONSTRAINT ex_appointments_practitioner_time")
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.drop_column("exclusive")
