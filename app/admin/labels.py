"""Words for the codes the code base uses: card statuses, payment methods, refund kinds, history reasons.

The admin shows these instead of the codes (which stay on the page only as
``data-*`` attributes). Every value here is an English msgid, translated for
the reader by ``Words``. A card's status label is the cash desk's own wording
(docs/rules.md, rule S1), and several statuses share one, so each status also
has a short explanation, shown beside the shared labels and given to screen
readers for all.
"""

from __future__ import annotations

import re

from app.billing.statuses import CARD_LABELS, LABELS, CardStatus
from app.i18n import Translator

# What each status means, in a few words (the "meaning" column of rule S1).
STATUS_HINTS: dict[str, str] = {
    CardStatus.UNDER_WORK: "Still being worked on",
    CardStatus.OPEN: "Waiting for export to MediPay; no SMS yet",
    CardStatus.OPEN_EXPORTED: "Exported; the patient has the SMS",
    CardStatus.PAID: "Paid in full",
    CardStatus.INVOICE_GENERATED: "Invoice made at the cash desk, not sent yet",
    CardStatus.MANUAL_HANDLING: "Rejected by MediPay: to be handled by hand",
    CardStatus.NOT_EXPORTED: "Cannot be exported until corrected; retried daily",
    CardStatus.INVOICE_EXPORTED: "Invoice sent through MediPay",
    CardStatus.INVOICE_PAID: "Invoice paid through MediPay",
}
# Labels more than one status has: those show their explanation on the page, not only to screen readers.
SHARED_LABELS = frozenset(code for code, label in LABELS.items() if list(LABELS.values()).count(label) > 1)

PAYMENT_METHODS: dict[str, str] = {
    "stripe": "Card payment in the call (Stripe)",
    "stripe_refund": "Refund to the card (Stripe)",
    "stripe_refund_failed": "Refund that failed, taken back (Stripe)",
    "card": "Card (MediPay)",
    "vipps": "Vipps (MediPay)",
    "invoice": "Invoice (MediPay)",
    "manual": "Registered by hand",
}
# Report filters name the in-call payments by where they happened.
PAYMENT_TYPES: dict[str, str] = {**{k: v for k, v in PAYMENT_METHODS.items() if not k.startswith("stripe")},
                                 "stripe": "In the call (Stripe)"}

# The settlement report's own lines for card holds and no-show fees (app.backoffice.hold_lines).
HOLD_LINES: dict[str, str] = {
    "hold_captured": "Card hold captured",
    "hold_released": "Card hold released",
    "hold_expired": "Card hold lapsed",
    "no_show_fee": "No-show fee",
}
NO_SHOW_COLLECTED: dict[str, str] = {
    "hold": "From the card hold",
    "bill_card": "On the MediPay bill card",
    "none": "Not collected",
}

REFUND_SOURCES: dict[str, str] = {
    "cash_desk": "at the cash desk",
    "panel": "in the call",
    "api": "by the accounting system",
    "stripe": "in Stripe's Dashboard",
}

EXPORT_FAILURES: dict[str, str] = {
    "missing_national_id": "the patient has no national identity number",
    "invalid_national_id": "the national identity number is not valid",
    "missing_mobile": "the patient has no mobile number",
    "invalid_mobile": "the patient's phone number is not a mobile number",
    "missing_address": "the patient's address is missing",
}

MEDIPAY_STATES: dict[str, str] = {
    "sent": "Sent: the patient has the SMS",
    "paid": "Paid",
    "invoice_sent": "Invoice sent",
    "invoice_paid": "Invoice paid",
    "rejected": "Rejected by MediPay",
}
MEDIPAY_REASONS: dict[str, str] = {
    **EXPORT_FAILURES,
    "credit_rejected": "MediPay refused the patient credit",
    "over_limit": "above the maximum agreed with MediPay",
    "rejected": "rejected by MediPay",
}

# Why a card moved, as recorded by the code (app/billing, app/collection, app/backoffice).
REASONS: dict[str, str] = {
    "created in call": "Made in a video call",
    "created over the API": "Made by the accounting system",
    "payment requested": "A payment was requested in the call",
    "paid in call (Stripe)": "Paid in the call",
    "call ended unpaid: queued for MediPay": "The call ended unpaid: queued for MediPay",
    "sent to payment": "Sent to payment",
    "invoiced by hand at the cash desk": "Invoiced by hand at the cash desk",
    "invoiced by hand at the cash desk without the admin fee":
        "Invoiced by hand at the cash desk, without the admin fee",
    "request cancelled": "The payment request was cancelled",
    "request expired": "The payment request expired",
    "request failed": "The payment failed",
    "exported to MediPay": "Exported to MediPay",
}
_NOT_EXPORTED = re.compile(r"not exported: (\w+)")
_MEDIPAY = re.compile(r"MediPay: (\w+)")


class Words:
    """The labels for one reader's language (``Words(translator).method("vipps")`` → ``"Vipps (MediPay)"``)."""

    def __init__(self, t: Translator) -> None:
        self.t = t

    def status(self, code: str | None) -> str:
        """A card status in the reader's language (in bokmål, the cash desk's own words)."""
        return self.t.gettext(CARD_LABELS[code]) if code in CARD_LABELS else (code or "—")

    def status_hint(self, code: str | None) -> str:
        return self.t.gettext(STATUS_HINTS[code]) if code in STATUS_HINTS else ""

    def status_shared(self, code: str | None) -> bool:
        return code in SHARED_LABELS

    def method(self, code: str) -> str:
        return self.t.gettext(PAYMENT_METHODS.get(code, code))

    def payment_type(self, code: str) -> str:
        return self.t.gettext(PAYMENT_TYPES.get(code, code))

    def hold_line(self, code: str) -> str:
        return self.t.gettext(HOLD_LINES.get(code, code))

    def collected_by(self, code: str | None) -> str:
        return self.t.gettext(NO_SHOW_COLLECTED[code]) if code in NO_SHOW_COLLECTED else ""

    def refund_source(self, code: str | None) -> str:
        return self.t.gettext(REFUND_SOURCES[code]) if code in REFUND_SOURCES else ""

    def medipay_state(self, code: str | None) -> str:
        return self.t.gettext(MEDIPAY_STATES.get(code, code)) if code else ""

    def medipay_reason(self, code: str | None) -> str:
        if not code:
            return ""
        text = self.t.gettext(MEDIPAY_REASONS.get(code, code))
        return text[:1].upper() + text[1:]

    def reason(self, text: str | None) -> str:
        """A recorded reason in words; one the code does not know is shown as it was written."""
        if not text:
            return ""
        if text in REASONS:
            return self.t.gettext(REASONS[text])
        found = _NOT_EXPORTED.fullmatch(text)
        if found:
            why = EXPORT_FAILURES.get(found.group(1), "the checks before export failed")
            return self.t.gettext("Not exported: %(why)s") % {"why": self.t.gettext(why)}
        if _MEDIPAY.match(text):
            return self.t.gettext("Updated by MediPay")
        return text
