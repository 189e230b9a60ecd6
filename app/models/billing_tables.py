"""Bill cards, their lines and history, the payments registered on them, and books."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class BillCard(Base):
    """A *regningskort*: what one patient owes for one consultation."""

    __tablename__ = "bill_cards"
    __table_args__ = (
        UniqueConstraint("consult_id", "patient_ref", name="uq_bill_cards_consult_patient"),
        Index("ix_bill_cards_clinic_status", "clinic_id", "status"),
        # The REST list: an organisation's cards, newest first.
        Index("ix_bill_cards_org_created", "organisation_id", "created_at", "id"),
        # The reports' sums, answered from the index alone (app/backoffice/reports.py).
        Index("ix_bill_cards_report", "organisation_id", "exported_at", "currency", "created_at", "clinic_id",
              "book_id", "consult_id", "status", "patient_share", "refund_share", "medipay_admin_fee", "id"),
        # The same, keyed by id: the sum by payment type looks each payment's card up here.
        Index("ix_bill_cards_report_by_id", "id", "organisation_id", "exported_at", "created_at", "clinic_id",
              "book_id", "consult_id", "currency", "patient_share", "refund_share", "medipay_admin_fee"),
        # A period on created_at: every filtered and summed column, and the id the payments join on.
        Index("ix_bill_cards_report_created", "organisation_id", "created_at", "id", "exported_at", "clinic_id",
              "book_id", "consult_id", "currency", "patient_share", "refund_share", "medipay_admin_fee"),
        # The report's sums per currency of a whole organisation, read in currency order (no sort).
        Index("ix_bill_cards_org_currency", "organisation_id", "currency", "patient_share", "refund_share",
              "medipay_admin_fee"),
        # What a payment's (card, organisation) foreign key points at.
        Index("ux_bill_cards_id_organisation", "id", "organisation_id", unique=True),
        # An organisation's cards in id order with their sums: merged with the cards paid by one method.
        Index("ix_bill_cards_org_id_sums", "organisation_id", "id", "currency", "patient_share", "refund_share",
              "medipay_admin_fee"),
    )
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"))
    clinic_id: Mapped[str] = mapped_column(ForeignKey("clinics.id"))
    consult_id: Mapped[str | None] = mapped_column(ForeignKey("consults.id"))
    book_id: Mapped[str | None] = mapped_column(String(40))
    patient_ref: Mapped[str | None] = mapped_column(String(200))
    patient_name: Mapped[str] = mapped_column(String(200))
    patient_email: Mapped[str | None] = mapped_column(String(320))
    national_id: Mapped[str | None] = mapped_column(String(11))
    mobile: Mapped[str | None] = mapped_column(String(20))
    address: Mapped[dict[str, Any] | None]
    status: Mapped[str] = mapped_column(String(24))
    currency: Mapped[str] = mapped_column(String(3))
    patient_share: Mapped[int] = mapped_column(BigInteger, default=0)
    refund_share: Mapped[int] = mapped_column(BigInteger, default=0)
    admin_fee: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # MediPay's side of the card (``medipay`` in the API): the claim's state as
    # MediPay last reported it, why it failed, and what was exported.
    medipay_state: Mapped[str | None] = mapped_column(String(24))
    medipay_reason_code: Mapped[str | None] = mapped_column(String(40))
    medipay_message: Mapped[str | None] = mapped_column(String(500))
    medipay_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    medipay_admin_fee: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    exported_at: Mapped[datetime | None]
    exported_patient_share: Mapped[int | None] = mapped_column(BigInteger)
    # *Not exported* cards are tried again once a day from this moment.
    next_retry_at: Mapped[datetime | None]


class BillCardLine(Base):
    __tablename__ = "bill_card_lines"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    bill_card_id: Mapped[str] = mapped_column(ForeignKey("bill_cards.id"), index=True)
    payment_request_id: Mapped[str | None] = mapped_column(String(40), index=True)
    code: Mapped[str] = mapped_column(String(40))
    description: Mapped[str] = mapped_column(String(200))
    patient_amount: Mapped[int] = mapped_column(BigInteger)
    refund_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    voided_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class BillCardEvent(Base):
    """Every status change of a card, in order; never updated."""

    __tablename__ = "bill_card_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    bill_card_id: Mapped[str] = mapped_column(ForeignKey("bill_cards.id"), index=True)
    status_from: Mapped[str | None] = mapped_column(String(24))
    status_to: Mapped[str] = mapped_column(String(24))
    reason: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime]


class Payment(Base):
    """Money registered on a bill card. One row per real-world payment."""

    __tablename__ = "payments"
    __table_args__ = (
        UniqueConstraint("method", "reference", name="uq_payments_reference"),
        Index("ix_payments_report", "bill_card_id", "method", "currency", "amount"),
        # The report's sum by payment type, read in its own order; and the cards with a payment of one method.
        Index("ix_payments_method_report", "method", "currency", "bill_card_id", "amount"),
        # The settlement report of a whole organisation, from the payments alone (no join to the cards).
        Index("ix_payments_org_report", "organisation_id", "method", "currency", "amount"),
        # An organisation's cards with a payment of one method, in card order (the report's payment_type).
        Index("ix_payments_org_method_card", "organisation_id", "method", "bill_card_id"),
        # The card's organisation, copied: the database refuses a payment whose organisation is not its card's.
        ForeignKeyConstraint(["bill_card_id", "organisation_id"], ["bill_cards.id", "bill_cards.organisation_id"],
                             name="fk_payments_card_organisation"),
    )
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    bill_card_id: Mapped[str] = mapped_column(ForeignKey("bill_cards.id"), index=True)
    organisation_id: Mapped[str] = mapped_column(String(40))
    payment_request_id: Mapped[str | None] = mapped_column(String(40), index=True)
    method: Mapped[str] = mapped_column(String(24))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    reference: Mapped[str] = mapped_column(String(255))
    registered_at: Mapped[datetime]


class Book(Base):
    """An accounting book (*regnskap*) owned by one user; bill cards are kept in a book.

    MediPay takes a book's cards only when it is active, has a description and
    its export format is ``medipay`` (see ``app.billing.books``).
    """

    __tablename__ = "books"
    __table_args__ = (CheckConstraint("export_format IN ('none', 'medipay')", name="ck_books_export_format"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    owner_user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    description: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    export_format: Mapped[str] = mapped_column(String(16), default="none")
    created_at: Mapped[datetime]
