"""indexes for the settlement report filtered by payment type

``payment_type`` keeps the cards with a payment of that method. Its set of
cards was a range of ``ix_payments_method_report`` over every organisation;
``ix_payments_org_method_card`` gives the organisation's alone, in card order.
In that order the set is merged with ``ix_bill_cards_org_id_sums`` (an
organisation's cards by id, with the columns the report sums) for the cards'
own sums, and with ``ix_payments_report`` (by card) for the sum by payment
type, reading only the organisation's ranges. Before, PostgreSQL hashed every
card of the table against the set in parallel workers (1.8–2.0 s at 1,000,000
cards).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 23:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CARD_COLUMNS = ["organisation_id", "id", "currency", "patient_share", "refund_share", "medipay_admin_fee"]
PAYMENT_COLUMNS = ["organisation_id", "method", "bill_card_id"]


def upgrade() -> None:
    with op.batch_alter_table("bill_cards", schema=None) as batch_op:
        batch_op.create_index("ix_bill_cards_org_id_sums", CARD_COLUMNS, unique=False)
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.create_index("ix_payments_org_method_card", PAYMENT_COLUMNS, unique=False)
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ANALYZE bill_cards")
        op.execute("ANALYZE payments")


def downgrade() -> None:
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_index("ix_payments_org_method_card")
    with op.batch_alter_table("bill_cards", schema=None) as batch_op:
        batch_op.drop_index("ix_bill_cards_org_id_sums")
