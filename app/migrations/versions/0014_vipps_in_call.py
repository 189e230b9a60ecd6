"""Payment requests say how the patient pays (card or Vipps) and keep their Vipps payment's references.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.models

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("payment_requests") as batch_op:
        batch_op.add_column(sa.Column("method", sa.String(length=8), server_default="card", nullable=False))
        batch_op.add_column(sa.Column("vipps_reference", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("vipps_psp_reference", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("vipps_flow", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("vipps_state", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("vipps_msn", sa.String(length=16), nullable=True))
        batch_op.add_column(
            sa.Column("vipps_receipt_sent_at", app.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_unique_constraint("uq_payment_requests_vipps_reference", ["vipps_reference"])
    with op.batch_alter_table("refunds") as batch_op:
        batch_op.add_column(sa.Column("vipps_psp_reference", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("refunds") as batch_op:
        batch_op.drop_column("vipps_psp_reference")
    with op.batch_alter_table("payment_requests") as batch_op:
        batch_op.drop_constraint("uq_payment_requests_vipps_reference", type_="unique")
        batch_op.drop_column("vipps_receipt_sent_at")
        batch_op.drop_column("vipps_msn")
        batch_op.drop_column("vipps_state")
        batch_op.drop_column("vipps_flow")
        batch_op.drop_column("vipps_psp_reference")
        batch_op.drop_column("vipps_reference")
        batch_op.drop_column("method")
