"""books, MediPay accounts and export outbox

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 11:01:57.423918
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.models

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "job_leases",
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("owner", sa.String(length=80), nullable=True),
        sa.Column("lease_until", app.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_started_at", app.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_finished_at", app.models.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "medipay_events",
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("claim_id", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("received_at", app.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("medipay_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_medipay_events_claim_id"), ["claim_id"], unique=False)

    op.create_table(
        "books",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("organisation_id", sa.String(length=40), nullable=False),
        sa.Column("owner_user_id", sa.String(length=40), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("export_format", sa.String(length=16), nullable=False),
        sa.Column("created_at", app.models.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("export_format IN ('none', 'medipay')", name="ck_books_export_format"),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
        ),
        sa.ForeignKeyConstraint(
            ["owner_user_id"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("books", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_books_organisation_id"), ["organisation_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_books_owner_user_id"), ["owner_user_id"], unique=False)

    op.create_table(
        "medipay_accounts",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("organisation_id", sa.String(length=40), nullable=False),
        sa.Column("book_id", sa.String(length=40), nullable=False),
        sa.Column("username", sa.String(length=200), nullable=False),
        sa.Column("password_encrypted", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("verified_at", app.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("created_at", app.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["book_id"],
            ["books.id"],
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("book_id"),
    )
    with op.batch_alter_table("medipay_accounts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_medipay_accounts_organisation_id"), ["organisation_id"], unique=False)

    op.create_table(
        "medipay_exports",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("bill_card_id", sa.String(length=40), nullable=False),
        sa.Column("organisation_id", sa.String(length=40), nullable=False),
        sa.Column("book_id", sa.String(length=40), nullable=True),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("trigger", sa.String(length=24), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("available_at", app.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("lease_owner", sa.String(length=80), nullable=True),
        sa.Column("lease_until", app.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("created_at", app.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", app.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["bill_card_id"],
            ["bill_cards.id"],
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("medipay_exports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_medipay_exports_bill_card_id"), ["bill_card_id"], unique=False)
        batch_op.create_index("ix_medipay_exports_due", ["status", "available_at"], unique=False)
        batch_op.create_index(
            "uq_medipay_exports_one_open",
            ["bill_card_id"],
            unique=True,
            sqlite_where=sa.text("status IN ('pending', 'sending')"),
            postgresql_where=sa.text("status IN ('pending', 'sending')"),
        )

    with op.batch_alter_table("bill_cards", schema=None) as batch_op:
        batch_op.add_column(sa.Column("medipay_state", sa.String(length=24), nullable=True))
        batch_op.add_column(sa.Column("medipay_reason_code", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("medipay_message", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("medipay_version", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("medipay_admin_fee", sa.BigInteger(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("exported_at", app.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("exported_patient_share", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("next_retry_at", app.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_bill_cards_org_created", ["organisation_id", "created_at", "id"], unique=False)

    with op.batch_alter_table("clinics", schema=None) as batch_op:
        batch_op.add_column(sa.Column("manual_office", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("clinics", schema=None) as batch_op:
        batch_op.drop_column("manual_office")

    with op.batch_alter_table("bill_cards", schema=None) as batch_op:
        batch_op.drop_index("ix_bill_cards_org_created")
        batch_op.drop_column("next_retry_at")
        batch_op.drop_column("exported_patient_share")
        batch_op.drop_column("exported_at")
        batch_op.drop_column("medipay_admin_fee")
        batch_op.drop_column("medipay_version")
        batch_op.drop_column("medipay_message")
        batch_op.drop_column("medipay_reason_code")
        batch_op.drop_column("medipay_state")

    with op.batch_alter_table("medipay_exports", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_medipay_exports_one_open",
            sqlite_where=sa.text("status IN ('pending', 'sending')"),
            postgresql_where=sa.text("status IN ('pending', 'sending')"),
        )
        batch_op.drop_index("ix_medipay_exports_due")
        batch_op.drop_index(batch_op.f("ix_medipay_exports_bill_card_id"))

    op.drop_table("medipay_exports")
    with op.batch_alter_table("medipay_accounts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_medipay_accounts_organisation_id"))

    op.drop_table("medipay_accounts")
    with op.batch_alter_table("books", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_books_owner_user_id"))
        batch_op.drop_index(batch_op.f("ix_books_organisation_id"))

    op.drop_table("books")
    with op.batch_alter_table("medipay_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_medipay_events_claim_id"))

    op.drop_table("medipay_events")
    op.drop_table("job_leases")
