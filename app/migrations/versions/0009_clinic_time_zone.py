"""One IANA time zone per clinic, Europe/Oslo for the clinics there are.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 16:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("clinics") as batch:
        batch.add_column(sa.Column("time_zone", sa.String(length=64), server_default="Europe/Oslo", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("clinics") as batch:
        batch.drop_column("time_zone")
