"""The ledger: accounts, transactions and legs (see ``app/ledger/journal.py``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class LedgerAccount(Base):
    __tablename__ = "ledger_accounts"
    __table_args__ = (UniqueConstraint("clinic_id", "code", "currency", name="uq_ledger_accounts"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    clinic_id: Mapped[str] = mapped_column(ForeignKey("clinics.id"))
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    currency: Mapped[str] = mapped_column(String(3))


class LedgerTransaction(Base):
    __tablename__ = "ledger_transactions"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    clinic_id: Mapped[str] = mapped_column(ForeignKey("clinics.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    reference: Mapped[str] = mapped_column(String(255), unique=True)
    description: Mapped[str] = mapped_column(String(200))
    bill_card_id: Mapped[str | None] = mapped_column(String(40), index=True)
    created_at: Mapped[datetime]


class LedgerLeg(Base):
    __tablename__ = "ledger_legs"
    __table_args__ = (CheckConstraint("amount <> 0", name="ck_ledger_legs_nonzero"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    # Deferred: the legs are written first and the transaction row last, so the
    # balance trigger on the transaction sees every leg (see the migration).
    transaction_id: Mapped[str] = mapped_column(
        ForeignKey("ledger_transactions.id", deferrable=True, initially="DEFERRED"), index=True
    )
    account_id: Mapped[str] = mapped_column(ForeignKey("ledger_accounts.id"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
