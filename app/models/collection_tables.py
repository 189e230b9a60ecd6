"""MediPay: a book's account, the export outbox, and what MediPay said."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class MediPayAccount(Base):
    """*Export settings > MediPay*: the PayEx credentials of one book.

    The password is encrypted at rest (``app.collection.secret_box``); ``status`` is
    ``active`` only after MediPay accepted the credentials (the green check).
    """

    __tablename__ = "medipay_accounts"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    book_id: Mapped[str] = mapped_column(ForeignKey("books.id"), unique=True)
    username: Mapped[str] = mapped_column(String(200))
    password_encrypted: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="unverified")
    verified_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class MediPayExport(Base):
    """The outbox: one row per attempt to hand a bill card to MediPay.

    A row is written in the same transaction that queues the card, then sent
    by a worker that holds a lease on it. The claim id at MediPay is the bill
    card's id, so re-sending after a crash or a timeout cannot make a second
    claim. At most one row per card is unfinished (``pending``/``sending``).
    """

    __tablename__ = "medipay_exports"
    __table_args__ = (
        Index("ix_medipay_exports_due", "status", "available_at"),
        Index(
            "uq_medipay_exports_one_open",
            "bill_card_id",
            unique=True,
            sqlite_where=text("status IN ('pending', 'sending')"),
            postgresql_where=text("status IN ('pending', 'sending')"),
        ),
    )
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    bill_card_id: Mapped[str] = mapped_column(ForeignKey("bill_cards.id"), index=True)
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"))
    book_id: Mapped[str | None] = mapped_column(String(40))
    # ``checkout`` (SMS with the Checkout link) or ``invoice`` (exported as an invoice).
    mode: Mapped[str] = mapped_column(String(16))
    # Why it was queued: ``hourly``, ``send_to_payment``, ``retry``, ``from_call``.
    trigger: Mapped[str] = mapped_column(String(24))
    # pending → sending → sent | refused (checks or 422) | failed (gave up)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    available_at: Mapped[datetime]
    lease_owner: Mapped[str | None] = mapped_column(String(80))
    lease_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]


class MediPayEvent(Base):
    """Each MediPay callback id handled once; the primary key is the guard."""

    __tablename__ = "medipay_events"
    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    claim_id: Mapped[str] = mapped_column(String(64), index=True)
    type: Mapped[str] = mapped_column(String(40))
    received_at: Mapped[datetime]
