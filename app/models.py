"""The tables, as SQLAlchemy 2 typed mappings.

Everything money-shaped is an integer of minor units next to its currency.
The ledger tables (``ledger_transactions``, ``ledger_legs``) are append-only;
the triggers that enforce that, and that every transaction balances, live in
the migration (see ``app/ledger/journal.py`` for the design).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy import false as sql_false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every engine (SQLite keeps no time zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON}


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
    created_at: Mapped[datetime]


class Consult(Base):
    __tablename__ = "consults"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    clinic_id: Mapped[str] = mapped_column(ForeignKey("clinics.id"), index=True)
    external_id: Mapped[str | None] = mapped_column(String(200))
    clinician_id: Mapped[str] = mapped_column(String(200))
    clinician_name: Mapped[str] = mapped_column(String(200))
    currency: Mapped[str] = mapped_column(String(3))
    language: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]


class ConsultPatient(Base):
    __tablename__ = "consult_patients"
    consult_id: Mapped[str] = mapped_column(ForeignKey("consults.id"), primary_key=True)
    patient_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    national_id: Mapped[str | None] = mapped_column(String(11))
    mobile: Mapped[str | None] = mapped_column(String(20))
    address: Mapped[dict[str, Any] | None]


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
    )
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    bill_card_id: Mapped[str] = mapped_column(ForeignKey("bill_cards.id"), index=True)
    payment_request_id: Mapped[str | None] = mapped_column(String(40), index=True)
    method: Mapped[str] = mapped_column(String(24))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    reference: Mapped[str] = mapped_column(String(255))
    registered_at: Mapped[datetime]


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


class StripeEvent(Base):
    """Each Stripe event id handled once; the primary key is the idempotency guard."""

    __tablename__ = "stripe_events"
    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(100))
    account: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(40))
    received_at: Mapped[datetime]


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


class AuditEvent(Base):
    """Who did what, when. Never updated or deleted."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_org_at", "organisation_id", "at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"))
    clinic_id: Mapped[str | None] = mapped_column(String(40), index=True)
    actor_type: Mapped[str] = mapped_column(String(16))  # user | clinician | patient | api | stripe | system
    actor_id: Mapped[str | None] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[str] = mapped_column(String(255))
    details: Mapped[dict[str, Any] | None]
    at: Mapped[datetime]


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


class JobLease(Base):
    """When a periodic job last ran, and who holds it now (several workers)."""

    __tablename__ = "job_leases"
    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    owner: Mapped[str | None] = mapped_column(String(80))
    lease_until: Mapped[datetime | None]
    last_started_at: Mapped[datetime | None]
    last_finished_at: Mapped[datetime | None]
