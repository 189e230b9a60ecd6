"""A card on file: the Stripe ids of a card saved in the waiting room (its Customer, SetupIntent and
PaymentMethod on the clinic's account), never card data.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04 09:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("stripe_customer_id", "setup_intent_id", "payment_method_id")


def upgrade() -> None:
    with op.batch_alter_table("payment_requests") as batch_op:
        for name in COLUMNS:
            batch_op.add_column(sa.Column(name, sa.String(length=255), nullable=True))


def downgrade() -> None:
    # As 0016: in place on SQLite, where a batch copy of a table other rows refer to is refused.
    if op.get_bind().dialect.name == "sqlite":
        for name in reversed(COLUMNS):
            op.execute(f"ALTER TABLE payment_requests DROP COLUMN {name}")
    else:
        with op.batch_alter_table("payment_requests") as batch_op:
            for name in reversed(COLUMNS):
                batch_op.drop_column(name)
