"""Guard rails: a clinic's maximum per payment request and the amount above which the
clinician confirms; invitations that an admin revoked.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 16:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("clinics") as batch:
        batch.add_column(sa.Column("max_request_amount", sa.BigInteger(), nullable=False,
                                   server_default="5000000"))
        batch.add_column(sa.Column("confirm_above_amount", sa.BigInteger(), nullable=False,
                                   server_default="500000"))
    with op.batch_alter_table("invitations") as batch:
        batch.add_column(sa.Column("revoked_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("invitations") as batch:
        batch.drop_column("revoked_at")
    with op.batch_alter_table("clinics") as batch:
        batch.drop_column("confirm_above_amount")
        batch.drop_column("max_request_amount")
