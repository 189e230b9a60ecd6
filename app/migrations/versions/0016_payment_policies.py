"""Payment policies before and after the call: the clinic's default, each patient's policy in a
consult, when the patient joined, and payment requests of other kinds than in-call (a payment
before joining, a card hold captured after the call, a no-show fee).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04 05:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.models

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _policy_columns() -> list[sa.Column]:
    return [
        sa.Column("payment_policy", sa.String(length=16), server_default="in_call", nullable=False),
        sa.Column("policy_amount", sa.BigInteger(), nullable=True),
        sa.Column("policy_description", sa.String(length=200), nullable=True),
        sa.Column("no_show_fee", sa.BigInteger(), nullable=True),
    ]


def upgrade() -> None:
    with op.batch_alter_table("clinics") as batch_op:
        for column in _policy_columns():
            batch_op.add_column(column)
    with op.batch_alter_table("consult_patients") as batch_op:
        for column in _policy_columns():
            batch_op.add_column(column)
        batch_op.add_column(sa.Column("gate_request_id", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("joined_at", app.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("no_show_at", app.models.UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table("payment_requests") as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=12), server_default="in_call", nullable=False))
        batch_op.add_column(sa.Column("hold_amount", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("authorised_at", app.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("capture_before", app.models.UTCDateTime(timezone=True), nullable=True))


DROPPED = {
    "payment_requests": ("capture_before", "authorised_at", "hold_amount", "kind"),
    "consult_patients": ("no_show_at", "joined_at", "gate_request_id",
                         "no_show_fee", "policy_description", "policy_amount", "payment_policy"),
    "clinics": ("no_show_fee", "policy_description", "policy_amount", "payment_policy"),
}


def downgrade() -> None:
    # On SQLite the columns are dropped in place: a batch copy would drop and recreate tables that
    # other tables' rows refer to, which the enforced foreign keys refuse once there is data.
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table, columns in DROPPED.items():
        if sqlite:
            for name in columns:
                op.execute(f"ALTER TABLE {table} DROP COLUMN {name}")
        else:
            with op.batch_alter_table(table) as batch_op:
                for name in columns:
                    batch_op.drop_column(name)
