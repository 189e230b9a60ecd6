"""covering indexes for the settlement report and MediPay earnings

The reports sum the cards of an organisation (optionally of a period of
export) and the payments of those cards; these indexes hold every column
those sums read, so the database answers from the index alone.

Revision ID: 0005c
Revises: 0004
Create Date: 2026-11-23 11:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005c"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REPORT_COLUMNS = ["organisation_id", "exported_at", "currency", "created_at", "clinic_id", "book_id", "consult_id",
                  "status", "patient_share", "refund_share", "medipay_admin_fee"]


def upgrade() -> None:
    with op.batch_alter_table("bill_cards", schema=None) as batch_op:
        batch_op.create_index("ix_bill_cards_report", REPORT_COLUMNS, unique=False)
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.create_index("ix_payments_report", ["bill_card_id", "method", "currency", "amount"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_index("ix_payments_report")
    with op.batch_alter_table("bill_cards", schema=None) as batch_op:
        batch_op.drop_index("ix_bill_cards_report")
