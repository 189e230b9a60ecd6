"""Receipts and credit notes, numbered per organisation; the seller's legal details on clinics.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 16:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("clinics") as batch:
        batch.add_column(sa.Column("legal_name", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("registration_number", sa.String(length=32), nullable=True))
    with op.batch_alter_table("payment_requests") as batch:
        batch.add_column(sa.Column("receipt_reference", sa.String(length=24), nullable=True))
        batch.add_column(sa.Column("receipt_token", sa.String(length=64), nullable=True))
    with op.batch_alter_table("refunds") as batch:
        batch.add_column(sa.Column("credit_note_reference", sa.String(length=24), nullable=True))
        batch.add_column(sa.Column("credit_note_token", sa.String(length=64), nullable=True))
    op.create_table(
        "receipt_counters",
        sa.Column("organisation_id", sa.String(length=40), nullable=False),
        sa.Column("last_number", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["organisation_id"], ["organisations.id"]),
        sa.PrimaryKeyConstraint("organisation_id"),
    )
    op.create_table(
        "receipts",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("organisation_id", sa.String(length=40), nullable=False),
        sa.Column("clinic_id", sa.String(length=40), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=24), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("payment_request_id", sa.String(length=40), nullable=False),
        sa.Column("refund_id", sa.String(length=40), nullable=True),
        sa.Column("original_receipt_id", sa.String(length=40), nullable=True),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("seller_name", sa.String(length=200), nullable=False),
        sa.Column("seller_registration_number", sa.String(length=32), nullable=True),
        sa.Column("seller_country", sa.String(length=2), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("issued_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("amount > 0", name="ck_receipts_amount_positive"),
        sa.CheckConstraint("kind IN ('receipt', 'credit_note')", name="ck_receipts_kind"),
        sa.ForeignKeyConstraint(["clinic_id"], ["clinics.id"]),
        sa.ForeignKeyConstraint(["organisation_id"], ["organisations.id"]),
        sa.ForeignKeyConstraint(["original_receipt_id"], ["receipts.id"]),
        sa.ForeignKeyConstraint(["payment_request_id"], ["payment_requests.id"]),
        sa.ForeignKeyConstraint(["refund_id"], ["refunds.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("organisation_id", "number", name="uq_receipts_number"),
        sa.UniqueConstraint("refund_id"),
        sa.UniqueConstraint("token"),
    )
    op.create_index("ix_receipts_clinic_id", "receipts", ["clinic_id"], unique=False)
    op.create_index("ix_receipts_payment_request_id", "receipts", ["payment_request_id"], unique=False)
    # An issued receipt is kept as it was: no update, no delete (like the ledger and the audit trail).
    if op.get_bind().dialect.name == "postgresql":
        # ledger_append_only() comes with migration 0001.
        op.execute(
            "CREATE TRIGGER receipts_append_only BEFORE UPDATE OR DELETE ON receipts "
            "FOR EACH ROW EXECUTE FUNCTION ledger_append_only()"
        )
    else:
        for verb in ("update", "delete"):
            op.execute(
                f"CREATE TRIGGER receipts_no_{verb} BEFORE {verb.upper()} ON receipts "
                "BEGIN SELECT RAISE(ABORT, 'receipts: an issued receipt is never changed'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS receipts_append_only ON receipts")
    else:
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS receipts_no_{verb}")
    op.drop_index("ix_receipts_payment_request_id", table_name="receipts")
    op.drop_index("ix_receipts_clinic_id", table_name="receipts")
    op.drop_table("receipts")
    op.drop_table("receipt_counters")
    with op.batch_alter_table("refunds") as batch:
        batch.drop_column("credit_note_token")
        batch.drop_column("credit_note_reference")
    with op.batch_alter_table("payment_requests") as batch:
        batch.drop_column("receipt_token")
        batch.drop_column("receipt_reference")
    with op.batch_alter_table("clinics") as batch:
        batch.drop_column("registration_number")
        batch.drop_column("legal_name")
