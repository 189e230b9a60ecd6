"""Who is who: organisations, clinics, API keys, people, sessions, the payment app."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
)
from sqlalchemy import false as sql_false
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class Organisation(Base):
    __tablename__ = "organisations"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]


class ApiKey(Base):
    """An organisation's API key; only a SHA-256 of the (random, 256-bit) key is kept."""

    __tablename__ = "api_keys"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class Clinic(Base):
    __tablename__ = "clinics"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    currency: Mapped[str] = mapped_column(String(3), default="NOK")
    payment_app_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    stripe_account_id: Mapped[str | None] = mapped_column(String(64), index=True)
    stripe_charges_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # Platform fee on in-call payments: basis points of the amount plus a fixed part.
    fee_basis_points: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    fee_fixed: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # *Manual office*: no automatic export; cards are sent to MediPay one by one.
    manual_office: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sql_false())
    # Guard rails on in-call requests (minor units of the clinic's currency, set in the admin):
    # nothing above the maximum is asked for, and above the threshold the clinician confirms.
    max_request_amount: Mapped[int] = mapped_column(BigInteger, default=5_000_000, server_default="5000000")
    confirm_above_amount: Mapped[int] = mapped_column(BigInteger, default=500_000, server_default="500000")
    # The IANA zone every date of the clinic is shown, filtered on and exported in (app/i18n/zones.py).
    time_zone: Mapped[str] = mapped_column(String(64), default="Europe/Oslo", server_default="Europe/Oslo")
    created_at: Mapped[datetime]
    # The seller on its receipts: the legal name and the business registration
    # number (Norway: organisasjonsnummer; Australia: ABN).
    legal_name: Mapped[str | None] = mapped_column(String(200))
    registration_number: Mapped[str | None] = mapped_column(String(32))
    # The clinic's default payment policy for new consults (app/payments/policies.py):
    # ``in_call``, ``before_join`` or ``hold``, its amount and words, and an optional no-show fee.
    payment_policy: Mapped[str] = mapped_column(String(16), default="in_call", server_default="in_call")
    policy_amount: Mapped[int | None] = mapped_column(BigInteger)
    policy_description: Mapped[str | None] = mapped_column(String(200))
    no_show_fee: Mapped[int | None] = mapped_column(BigInteger)


class User(Base):
    """A person who signs in to the admin pages (sign-in itself comes with the admin pages)."""

    __tablename__ = "users"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    clinic_id: Mapped[str | None] = mapped_column(ForeignKey("clinics.id"))
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))
    password_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    # The host platform's id for this person as a clinician in consults (e.g. "u-1").
    clinician_ref: Mapped[str | None] = mapped_column(String(200))

    @classmethod
    def new(cls, *, now: datetime, **fields: Any) -> User:
        from app.ids import new_id

        return cls(id=new_id("usr"), created_at=now, **fields)


class AdminSession(Base):
    """A signed-in browser. The cookie holds only the (encrypted) id; revoking the row signs it out."""

    __tablename__ = "admin_sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class SignInFailure(Base):
    """A failed sign-in, kept for the throttle's window; shared by every web process.

    The address is kept as its SHA-256 only: the table may hold addresses
    that have no account.
    """

    __tablename__ = "sign_in_failures"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    email_hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(index=True)

    __table_args__ = (Index("ix_sign_in_failures_email_at", "email_hash", "at"),)


class Invitation(Base):
    __tablename__ = "invitations"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    clinic_id: Mapped[str | None] = mapped_column(ForeignKey("clinics.id"))
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    # Revoked by an admin before it was used: the link no longer opens.
    revoked_at: Mapped[datetime | None]


class PaymentAppRequest(Base):
    """A clinic asking for the payment app; an organisation admin approves or rejects it."""

    __tablename__ = "payment_app_requests"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    clinic_id: Mapped[str] = mapped_column(ForeignKey("clinics.id"), index=True)
    requested_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))  # pending | approved | rejected
    decided_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
