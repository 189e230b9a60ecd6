"""Bill card statuses: the codes the API uses and the labels users know.

The labels are the cash desk's own Norwegian words (product.md, section 2)
and are shown as they are, in every language.
"""

from __future__ import annotations

LABELS: dict[str, str] = {
    "under_work": "Under arbeid",
    "open": "Åpen",
    "open_exported": "Åpen og eksportert",
    "paid": "Bankkortnota generert. Innbetalinger registrert",
    "invoice_generated": "Faktura generert",
    "manual_handling": "Faktura generert",
    "not_exported": "Faktura generert",
    "invoice_exported": "Faktura generert. Eksportert",
    "invoice_paid": "Faktura generert. Innbetalinger er registrert. Eksportert.",
}

STATUSES = tuple(LABELS)

# A card in one of these has been handed to MediPay: its patient share is locked.
EXPORTED = frozenset({"open_exported", "invoice_exported", "invoice_paid"})
# Settled for the clinic: nothing more to collect.
SETTLED = frozenset({"paid", "invoice_paid"})

# Payment request statuses (in-call, Stripe).
REQUEST_STATUSES = (
    "requested",
    "checkout_open",
    "paid",
    "cancelled",
    "expired",
    "failed",
    "refunded",
    "partially_refunded",
)
REQUEST_OPEN = frozenset({"requested", "checkout_open"})
REQUEST_PAID = frozenset({"paid", "refunded", "partially_refunded"})
# Ended without being paid: their bill-card lines are void.
REQUEST_ENDED_UNPAID = frozenset({"cancelled", "expired", "failed"})


def label(code: str) -> str:
    return LABELS[code]
