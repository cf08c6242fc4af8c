"""patient name search indexes

Revision ID: 7dbf440fd226
Revises: a8c2edb2ec5a
Create Date: 2026-11-28 01:37:43.174901

PostgreSQL only: the booking form's type-ahead matches a lower-cased name prefix
(``lower(family_name) COLLATE "C" LIKE 'smi%'``), which a btree can serve only in byte
order. SQLite scans; its organizations are small.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "7dbf440fd226"
down_revision: str | None = "a8c2edb2ec5a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PARTS = ("family_name", "given_name")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for part in PARTS:
        op.execute(
            f"CREATE INDEX ix_patients_org_{part}_search "
            f'ON patients (organization_id, (lower({part}) COLLATE "C"))'
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for part in PARTS:
        op.execute(f"DROP INDEX ix_patients_org_{part}_search")
