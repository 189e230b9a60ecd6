"""the organisation on each payment, so the settlement report needs no join

The settlement report of a whole organisation summed its payments by type
through a join of every payment to its card (800,000 payments of 1,000,000
cards: most of the report's time). Each payment now carries its card's
``organisation_id``, backfilled here from the card. A foreign key on
``(bill_card_id, organisation_id)`` to the card's ``(id, organisation_id)``
(a unique index on the cards) makes the database refuse a payment without it
or with another organisation's, whatever code writes it.

``ix_bill_cards_org_currency`` gives the cards' own sums of a whole
organisation in currency order, so grouping them needs no sort (on SQLite a
temporary B-tree of every card).

``payments`` is append-only (triggers refuse UPDATE and DELETE, see 0001);
the guard is lifted for the backfill only and put back as it was.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 16:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REPORT_COLUMNS = ["organisation_id", "method", "currency", "amount"]
CURRENCY_COLUMNS = ["organisation_id", "currency", "patient_share", "refund_share", "medipay_admin_fee"]


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _lift_guard() -> None:
    if _postgres():
        op.execute("DROP TRIGGER IF EXISTS payments_append_only ON payments")
    else:
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS payments_no_{verb}")


def _restore_guard() -> None:
    if _postgres():
        op.execute("""CREATE TRIGGER payments_append_only BEFORE UPDATE OR DELETE ON payments
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only()""")
    else:
        for verb in ("update", "delete"):
            op.execute(f"""CREATE TRIGGER payments_no_{verb} BEFORE {verb.upper()} ON payments
    BEGIN SELECT RAISE(ABORT, 'ledger: payments is append-only'); END""")


def upgrade() -> None:
    _lift_guard()
    op.create_index("ux_bill_cards_id_organisation", "bill_cards", ["id", "organisation_id"], unique=True)
    op.create_index("ix_bill_cards_org_currency", "bill_cards", CURRENCY_COLUMNS, unique=False)
    op.add_column("payments", sa.Column("organisation_id", sa.String(length=40), nullable=True))
    op.execute("UPDATE payments SET organisation_id = "
               "(SELECT bill_cards.organisation_id FROM bill_cards WHERE bill_cards.id = payments.bill_card_id)")
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.alter_column("organisation_id", existing_type=sa.String(length=40), nullable=False)
        batch_op.create_foreign_key("fk_payments_card_organisation", "bill_cards",
                                    ["bill_card_id", "organisation_id"], ["id", "organisation_id"])
        batch_op.create_index("ix_payments_org_report", REPORT_COLUMNS, unique=False)
    _restore_guard()
    if not _postgres():
        op.execute("ANALYZE payments")
        op.execute("ANALYZE bill_cards")


def downgrade() -> None:
    _lift_guard()
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_index("ix_payments_org_report")
        batch_op.drop_constraint("fk_payments_card_organisation", type_="foreignkey")
        batch_op.drop_column("organisation_id")
    op.drop_index("ix_bill_cards_org_currency", table_name="bill_cards")
    op.drop_index("ux_bill_cards_id_organisation", table_name="bill_cards")
    _restore_guard()
