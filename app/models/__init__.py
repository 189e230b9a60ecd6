"""The tables, as SQLAlchemy 2 typed mappings, one module per area.

Everything money-shaped is an integer of minor units next to its currency.
The ledger tables (``ledger_transactions``, ``ledger_legs``) are append-only;
the triggers that enforce that, and that every transaction balances, live in
the migration (see ``app/ledger/journal.py`` for the design).

Every table is importable from here (``from app.models import BillCard``), and
importing the package registers them all on ``Base.metadata``.
"""

from app.models.account_tables import (
    AdminSession,
    ApiKey,
    Clinic,
    Invitation,
    Organisation,
    PaymentAppRequest,
    SignInFailure,
    User,
)
from app.models.base import Base, UTCDateTime
from app.models.billing_tables import BillCard, BillCardEvent, BillCardLine, Book, Payment
from app.models.collection_tables import MediPayAccount, MediPayEvent, MediPayExport
from app.models.connect_tables import ClinicianAccount, StripeAccount, VippsMerchant
from app.models.consult_tables import Consult, ConsultPatient
from app.models.ledger_tables import LedgerAccount, LedgerLeg, LedgerTransaction
from app.models.payment_tables import PaymentRefund, PaymentRequest, StripeEvent
from app.models.receipt_tables import Receipt, ReceiptCounter
from app.models.record_tables import AuditEvent, JobLease

__all__ = [
    "AdminSession",
    "ApiKey",
    "AuditEvent",
    "Base",
    "BillCard",
    "BillCardEvent",
    "BillCardLine",
    "Book",
    "Clinic",
    "ClinicianAccount",
    "Consult",
    "ConsultPatient",
    "Invitation",
    "JobLease",
    "LedgerAccount",
    "LedgerLeg",
    "LedgerTransaction",
    "MediPayAccount",
    "MediPayEvent",
    "MediPayExport",
    "Organisation",
    "Payment",
    "PaymentAppRequest",
    "PaymentRefund",
    "PaymentRequest",
    "Receipt",
    "ReceiptCounter",
    "SignInFailure",
    "StripeAccount",
    "StripeEvent",
    "UTCDateTime",
    "User",
    "VippsMerchant",
]
