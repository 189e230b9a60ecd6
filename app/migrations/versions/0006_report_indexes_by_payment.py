"""indexes for the settlement report's sums driven from the payments

The sum by payment type reads every payment of the matching cards. Driven
from the cards it cost one payments lookup per card; driven from the
payments (``ix_payments_method_report``, in method and currency order, so the
grouping needs no sort) it costs one lookup per payment into
``ix_bill_cards_report_by_id``, which holds every column the report filters
and sums on, keyed by the card's id. The same two indexes answer
``payment_type``: the cards with a payment of that method are a range of
``ix_payments_method_report``, each looked up by id.

A period on ``created_at`` (the report's default) was a range of
``ix_bill_cards_org_created`` with a table lookup per card for the other
filters and sums; ``ix_bill_cards_report_created`` holds them all, and the
id the payments are joined on. ``ix_bill_cards_report`` (a period of
exports) gains that id too, for the same join and for the page's keys.

On SQLite the planner needs the tables' statistics (``sqlite_stat1``) to
prefer these plans over walking every card of the organisation, so the
migration runs ``ANALYZE`` on both tables; on an empty database that writes
nothing and the app's ``PRAGMA optimize`` gathers them later (``app/db.py``).

Revision ID: 0006
Revises: 0005c
Create Date: 2026-11-23 13:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SUMMED = ["currency", "patient_share", "refund_share", "medipay_admin_fee"]
BY_ID_COLUMNS = ["id", "organisation_id", "exported_at", "created_at", "clinic_id", "book_id", "consult_id", *SUMMED]
# ix_bill_cards_report as 0005c made it; this migration adds the id at its end.
REPORT_COLUMNS = ["organisation_id", "exported_at", "currency", "created_at", "clinic_id", "book_id", "consult_id",
                  "status", "patient_share", "refund_share", "medipay_admin_fee"]
CREATED_COLUMNS = ["organisation_id", "created_at", "id", "exported_at", "clinic_id", "book_id", "consult_id", *SUMMED]


def upgrade() -> None:
    with op.batch_alter_table("bill_cards", schema=None) as batch_op:
        batch_op.drop_index("ix_bill_cards_report")
        batch_op.create_index("ix_bill_cards_report", [*REPORT_COLUMNS, "id"], unique=False)
        batch_op.create_index("ix_bill_cards_report_by_id", BY_ID_COLUMNS, unique=False)
        batch_op.create_index("ix_bill_cards_report_created", CREATED_COLUMNS, unique=False)
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.create_index("ix_payments_method_report", ["method", "currency", "bill_card_id", "amount"],
                              unique=False)
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ANALYZE bill_cards")
        op.execute("ANALYZE payments")


def downgrade() -> None:
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_index("ix_payments_method_report")
    with op.batch_alter_table("bill_cards", schema=None) as batch_op:
        batch_op.drop_index("ix_bill_cards_report_created")
        batch_op.drop_index("ix_bill_cards_report_by_id")
        batch_op.drop_index("ix_bill_cards_report")
        batch_op.create_index("ix_bill_cards_report", REPORT_COLUMNS, unique=False)
