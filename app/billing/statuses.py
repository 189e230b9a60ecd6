"""Statuses: bill cards', payment requests' and consults', as ``StrEnum``s.

The values are stored in the database and sent over the plugin contract, so
they never change; being ``str``s, the members compare, hash and serialise
as those values. The panels get the sets they need in their page config
(``app.web.pages``) instead of keeping copies.

The card labels are the cash desk's own Norwegian words (docs/rules.md, rule S1),
as the API gives them; pages show ``CARD_LABELS``, their English msgids, in the
page's language (in bokmål, the same words).
"""

from __future__ import annotations

from enum import StrEnum, unique


@unique
class CardStatus(StrEnum):
    UNDER_WORK = "under_work"
    OPEN = "open"
    OPEN_EXPORTED = "open_exported"
    PAID = "paid"
    INVOICE_GENERATED = "invoice_generated"
    MANUAL_HANDLING = "manual_handling"
    NOT_EXPORTED = "not_exported"
    INVOICE_EXPORTED = "invoice_exported"
    INVOICE_PAID = "invoice_paid"


LABELS: dict[str, str] = {
    CardStatus.UNDER_WORK: "Under arbeid",
    CardStatus.OPEN: "Åpen",
    CardStatus.OPEN_EXPORTED: "Åpen og eksportert",
    CardStatus.PAID: "Bankkortnota generert. Innbetalinger registrert",
    CardStatus.INVOICE_GENERATED: "Faktura generert",
    CardStatus.MANUAL_HANDLING: "Faktura generert",
    CardStatus.NOT_EXPORTED: "Faktura generert",
    CardStatus.INVOICE_EXPORTED: "Faktura generert. Eksportert",
    CardStatus.INVOICE_PAID: "Faktura generert. Innbetalinger er registrert. Eksportert.",
}

# The same labels as English msgids, so each interface shows them in its own
# language: the bokmål catalog gives back exactly the labels above.
CARD_LABELS: dict[str, str] = {
    CardStatus.UNDER_WORK: "Being worked on",
    CardStatus.OPEN: "Open",
    CardStatus.OPEN_EXPORTED: "Open and exported",
    CardStatus.PAID: "Card receipt generated. Payments registered",
    CardStatus.INVOICE_GENERATED: "Invoice generated",
    CardStatus.MANUAL_HANDLING: "Invoice generated",
    CardStatus.NOT_EXPORTED: "Invoice generated",
    CardStatus.INVOICE_EXPORTED: "Invoice generated. Exported",
    CardStatus.INVOICE_PAID: "Invoice generated. Payments registered. Exported.",
}

STATUSES = tuple(CardStatus)

# A card in one of these has been handed to MediPay: its patient share is locked.
EXPORTED = frozenset({CardStatus.OPEN_EXPORTED, CardStatus.INVOICE_EXPORTED, CardStatus.INVOICE_PAID})
# Settled for the clinic: nothing more to collect.
SETTLED = frozenset({CardStatus.PAID, CardStatus.INVOICE_PAID})


@unique
class RequestStatus(StrEnum):
    """A payment request's status (in-call, Stripe)."""

    REQUESTED = "requested"
    CHECKOUT_OPEN = "checkout_open"
    PAID = "paid"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    FAILED = "failed"
    REFUNDED = "refunded"
    PARTIALLY_REFUNDED = "partially_refunded"


REQUEST_STATUSES = tuple(RequestStatus)
REQUEST_OPEN = frozenset({RequestStatus.REQUESTED, RequestStatus.CHECKOUT_OPEN})
REQUEST_PAID = frozenset({RequestStatus.PAID, RequestStatus.REFUNDED, RequestStatus.PARTIALLY_REFUNDED})
# Ended without being paid: their bill-card lines are void.
REQUEST_ENDED_UNPAID = frozenset({RequestStatus.CANCELLED, RequestStatus.EXPIRED, RequestStatus.FAILED})

# What the panels show for a request status: English msgids, translated by the
# page's i18n block (each one is in app/i18n/js_strings.py).
REQUEST_LABELS: dict[RequestStatus, str] = {
    RequestStatus.REQUESTED: "Requested",
    RequestStatus.CHECKOUT_OPEN: "Checkout open",
    RequestStatus.PAID: "Paid",
    RequestStatus.CANCELLED: "Cancelled",
    RequestStatus.EXPIRED: "Expired",
    RequestStatus.FAILED: "Failed",
    RequestStatus.REFUNDED: "Refunded",
    RequestStatus.PARTIALLY_REFUNDED: "Partially refunded",
}


@unique
class ConsultStatus(StrEnum):
    ACTIVE = "active"
    ENDED = "ended"


def label(code: str) -> str:
    return LABELS[code]
