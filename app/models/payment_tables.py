"""Payment requests in a call, Stripe's events applied once each, and refunds."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class PaymentRequest(Base):
    __tablename__ = "payment_requests"
    __table_args__ = (
        UniqueConstraint("consult_id", "idempotency_key", name="uq_payment_requests_idem"),
        CheckConstraint("amount > 0", name="ck_payment_requests_amount_positive"),
        CheckConstraint(
            "refunded_amount >= 0 AND refunded_amount <= amount",
            name="ck_payment_requests_refunded",
        ),
        Index("ix_payment_requests_status_expiry", "status", "checkout_expires_at"),
        UniqueConstraint("vipps_reference", name="uq_payment_requests_vipps_reference"),
    )
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    consult_id: Mapped[str] = mapped_column(ForeignKey("consults.id"), index=True)
    clinic_id: Mapped[str] = mapped_column(ForeignKey("clinics.id"))
    patient_id: Mapped[str] = mapped_column(String(200))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    description: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(24))
    idempotency_key: Mapped[str | None] = mapped_column(String(100))
    bill_card_id: Mapped[str] = mapped_column(ForeignKey("bill_cards.id"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    paid_at: Mapped[datetime | None]
    checkout_attempt: Mapped[int] = mapped_column(Integer, default=0)
    checkout_session_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    checkout_url: Mapped[str | None] = mapped_column(Text)
    checkout_expires_at: Mapped[datetime | None]
    payment_intent_id: Mapped[str | None] = mapped_column(String(255))
    stripe_account_id: Mapped[str | None] = mapped_column(String(64))
    refunded_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    failure_reason: Mapped[str | None] = mapped_column(String(200))
    application_fee_amount: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # The receipt's short reference and link key, copied from ``receipts`` so every view has them.
    receipt_reference: Mapped[str | None] = mapped_column(String(24))
    receipt_token: Mapped[str | None] = mapped_column(String(64))
    # Why the latest checkout has not ended in a payment (statuses.CheckoutProblem), the
    # card issuer's code, and when Stripe said so (an older event never overwrites a newer one).
    problem: Mapped[str | None] = mapped_column(String(16))
    problem_detail: Mapped[str | None] = mapped_column(String(60))
    problem_at: Mapped[datetime | None]
    # Where an unpaid amount went (statuses.Onward).
    onward: Mapped[str | None] = mapped_column(String(16))
    # How the patient pays (app.payments.provider.Method): ``card`` (Stripe Checkout) or ``vipps``.
    method: Mapped[str] = mapped_column(String(8), default="card", server_default="card")
    # The Vipps payment of the current attempt (its ``reference``, unique), the ``pspReference`` of
    # its capture, the user flow, the merchant it was made on, and when its receipt reached Vipps.
    vipps_reference: Mapped[str | None] = mapped_column(String(64))
    vipps_psp_reference: Mapped[str | None] = mapped_column(String(64))
    vipps_flow: Mapped[str | None] = mapped_column(String(16))
    # Vipps' word on the payment as last read: CREATED, AUTHORIZED (approved, capture under way), CAPTURED,
    # ABORTED, EXPIRED or TERMINATED.
    vipps_state: Mapped[str | None] = mapped_column(String(16))
    vipps_msn: Mapped[str | None] = mapped_column(String(16))
    vipps_receipt_sent_at: Mapped[datetime | None]
    # What the request is for (app/payments/policies.py): ``in_call`` (asked for in the call),
    # ``before_join`` (paid in the waiting room), ``hold`` (a card authorised in the waiting room,
    # captured up to ``hold_amount`` after the call; ``amount`` is what is captured), ``card_on_file``
    # (a card saved in the waiting room, charged off-session after the call) or ``no_show``.
    kind: Mapped[str] = mapped_column(String(12), default="in_call", server_default="in_call")
    hold_amount: Mapped[int | None] = mapped_column(BigInteger)
    authorised_at: Mapped[datetime | None]
    # Stripe's deadline for capturing a hold (the charge's ``capture_before``).
    capture_before: Mapped[datetime | None]
    # A card on file (``kind`` "card_on_file"): Stripe's ids only, never card data. The Customer made on
    # the clinic's account, the SetupIntent of the patient's Checkout and the PaymentMethod it saved,
    # which the final amount is charged to off-session (docs/rules.md, rule H6). ``authorised_at``: when
    # the card was saved.
    stripe_customer_id: Mapped[str | None] = mapped_column(String(255))
    setup_intent_id: Mapped[str | None] = mapped_column(String(255))
    payment_method_id: Mapped[str | None] = mapped_column(String(255))


class StripeEvent(Base):
    """Each Stripe event id handled once; the primary key is the idempotency guard."""

    __tablename__ = "stripe_events"
    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(100))
    account: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(40))
    received_at: Mapped[datetime]


class PaymentRefund(Base):
    __tablename__ = "refunds"
    __table_args__ = (CheckConstraint("amount > 0", name="ck_refunds_amount_positive"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    payment_request_id: Mapped[str] = mapped_column(ForeignKey("payment_requests.id"), index=True)
    stripe_refund_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16))  # pending | succeeded | failed
    reason: Mapped[str | None] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(16))  # cash_desk | panel | api | stripe
    created_by: Mapped[str | None] = mapped_column(String(200))
    idempotency_key: Mapped[str | None] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # Its credit note's short reference and link key (``receipts``), once posted.
    credit_note_reference: Mapped[str | None] = mapped_column(String(24))
    credit_note_token: Mapped[str | None] = mapped_column(String(64))
    # A refund made through Vipps: the ``pspReference`` of its refund operation, once Vipps answered.
    vipps_psp_reference: Mapped[str | None] = mapped_column(String(64))
