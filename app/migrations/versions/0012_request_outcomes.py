"""Payment requests say why a checkout did not end in a payment, and where an unpaid amount went.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 16:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.models

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("payment_requests") as batch_op:
        batch_op.add_column(sa.Column("problem", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("problem_detail", sa.String(length=60), nullable=True))
        batch_op.add_column(sa.Column("problem_at", app.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("onward", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("payment_requests") as batch_op:
        batch_op.drop_column("onward")
        batch_op.drop_column("problem_at")
        batch_op.drop_column("problem_detail")
        batch_op.drop_column("problem")
