"""The clinics' connected Stripe accounts, where each clinician's payments go, and their Vipps merchants."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    ForeignKey,
    String,
    Text,
)
from sqlalchemy import false as sql_false
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class StripeAccount(Base):
    """A clinic's connected Stripe account; a clinic may have several."""

    __tablename__ = "stripe_accounts"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    clinic_id: Mapped[str] = mapped_column(ForeignKey("clinics.id"), index=True)
    stripe_account_id: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(200))
    # pending | enabled | restricted | under_review | rejected | disconnected | removed
    # (only ``enabled`` takes payments; see app.connect.requirements)
    status: Mapped[str] = mapped_column(String(16))
    charges_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    details_submitted: Mapped[bool] = mapped_column(Boolean, default=False)
    payouts_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    removed_at: Mapped[datetime | None]


class ClinicianAccount(Base):
    """Which of the clinic's accounts a clinician's payments go to."""

    __tablename__ = "clinician_accounts"
    clinic_id: Mapped[str] = mapped_column(ForeignKey("clinics.id"), primary_key=True)
    clinician_ref: Mapped[str] = mapped_column(String(200), primary_key=True)
    stripe_account_row_id: Mapped[str] = mapped_column(ForeignKey("stripe_accounts.id"))


class VippsMerchant(Base):
    """*Payment settings > Vipps*: one clinic's Vipps MobilePay merchant (the ePayment API).

    The client secret and the subscription key (``Ocp-Apim-Subscription-Key``) are
    encrypted at rest like a MediPay password (``app.collection.secret_box``).
    ``status`` is ``active`` only after Vipps accepted the keys (an access token was
    issued for them); ``enabled`` is the clinic's own switch for offering Vipps in
    the call, and only an active merchant with it on is offered.
    """

    __tablename__ = "vipps_merchants"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    clinic_id: Mapped[str] = mapped_column(ForeignKey("clinics.id"), unique=True)
    merchant_serial_number: Mapped[str] = mapped_column(String(16))
    client_id: Mapped[str] = mapped_column(String(200))
    client_secret_encrypted: Mapped[str] = mapped_column(Text)
    subscription_key_encrypted: Mapped[str] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sql_false())
    status: Mapped[str] = mapped_column(String(16), default="unverified")
    verified_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(500))
    # The ePayment webhook registered for this merchant (Vipps' Webhooks API) and its signing secret.
    webhook_id: Mapped[str | None] = mapped_column(String(64))
    webhook_secret_encrypted: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
