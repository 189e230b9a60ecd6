"""Receipts and credit notes: the sales documents of in-call payments, numbered per organisation."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class ReceiptCounter(Base):
    """The last number an organisation gave a receipt or credit note.

    Taken under a row lock in the transaction that settles the payment (or
    posts the refund), so a number is used once, and a rolled-back settlement
    gives its number back with it: no gaps, no reuse.
    """

    __tablename__ = "receipt_counters"
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), primary_key=True)
    last_number: Mapped[int] = mapped_column(Integer, default=0)


class Receipt(Base):
    """One sales document, as issued; never changed afterwards.

    ``kind`` is ``receipt`` (a payment) or ``credit_note`` (a refund, pointing
    at the receipt it corrects). The seller's details are copied at issue, so
    a later change to the clinic's settings does not rewrite a document that
    must be kept as it was (bokføringsforskriften § 5-1: five years).
    ``token`` is the unguessable key of its public link; it names nobody.
    """

    __tablename__ = "receipts"
    __table_args__ = (
        UniqueConstraint("organisation_id", "number", name="uq_receipts_number"),
        CheckConstraint("amount > 0", name="ck_receipts_amount_positive"),
        CheckConstraint("kind IN ('receipt', 'credit_note')", name="ck_receipts_kind"),
    )
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"))
    clinic_id: Mapped[str] = mapped_column(ForeignKey("clinics.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    reference: Mapped[str] = mapped_column(String(24))
    kind: Mapped[str] = mapped_column(String(16))
    payment_request_id: Mapped[str] = mapped_column(ForeignKey("payment_requests.id"), index=True)
    refund_id: Mapped[str | None] = mapped_column(ForeignKey("refunds.id"), unique=True)
    original_receipt_id: Mapped[str | None] = mapped_column(ForeignKey("receipts.id"))
    token: Mapped[str] = mapped_column(String(64), unique=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    description: Mapped[str] = mapped_column(String(200))
    method: Mapped[str] = mapped_column(String(16))
    seller_name: Mapped[str] = mapped_column(String(200))
    seller_registration_number: Mapped[str | None] = mapped_column(String(32))
    seller_country: Mapped[str | None] = mapped_column(String(2))
    language: Mapped[str] = mapped_column(String(8))
    issued_at: Mapped[datetime]
