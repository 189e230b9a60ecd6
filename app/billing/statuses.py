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
    """A payment request's status (in-call, Stripe; for Vipps ``checkout_open`` is the payment waiting
    in the patient's Vipps app, approved or not: the request's ``vipps_state`` says which)."""

    REQUESTED = "requested"
    CHECKOUT_OPEN = "checkout_open"
    PAID = "paid"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    FAILED = "failed"
    REFUNDED = "refunded"
    PARTIALLY_REFUNDED = "partially_refunded"
    # A card hold (``kind`` "hold"): the card is authorised, nothing captured yet (docs/rules.md, rule H1).
    AUTHORISED = "authorised"
    # A hold released without a capture, by the clinic or before it lapsed (rule H3).
    RELEASED = "released"
    # A card on file (``kind`` "card_on_file"): saved in the waiting room, nothing charged yet (rule H6).
    CARD_SAVED = "card_saved"


REQUEST_STATUSES = tuple(RequestStatus)
REQUEST_OPEN = frozenset({RequestStatus.REQUESTED, RequestStatus.CHECKOUT_OPEN})
REQUEST_PAID = frozenset({RequestStatus.PAID, RequestStatus.REFUNDED, RequestStatus.PARTIALLY_REFUNDED})
# Ended without being paid: their bill-card lines are void.
REQUEST_ENDED_UNPAID = frozenset({RequestStatus.CANCELLED, RequestStatus.EXPIRED, RequestStatus.FAILED})
# A hold whose card is authorised: capturable, or to be released (rule H2).
REQUEST_HELD = frozenset({RequestStatus.AUTHORISED})

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
    RequestStatus.AUTHORISED: "Card authorised",
    RequestStatus.RELEASED: "Released",
    RequestStatus.CARD_SAVED: "Card saved",
}


@unique
class CheckoutProblem(StrEnum):
    """Why a request's latest checkout has not (yet) ended in a payment: its ``problem.code``.

    Kept on the request so both panels, and a reload, say what happened in
    words (docs/rules.md, rule P12).
    """

    LEFT = "left"  # the patient pressed Cancel and return on Checkout: payable again
    DECLINED = "declined"  # the card was declined; the page stays open for another card
    FAILED = "failed"  # a delayed payment failed after the page closed
    EXPIRED = "expired"  # the payment page timed out unpaid
    REJECTED = "rejected"  # the patient rejected the payment in Vipps: payable again
    # Card holds (docs/rules.md, rules H2 and H3): ``detail`` says more where there is more to say.
    CAPTURING = "capturing"  # a capture was sent to Stripe; ``detail``: its amount, until Stripe answers
    CAPTURE_REFUSED = "capture_refused"  # Stripe refused the capture; ``detail``: its code. Still authorised
    HOLD_LAPSING = "hold_lapsing"  # Stripe's deadline for capturing is less than a day away
    HOLD_LAPSED = "hold_lapsed"  # released by us just before Stripe's deadline, nothing captured
    # The card was authorised after the hold's request was cancelled or its consult ended: released at once.
    AUTHORISED_LATE = "authorised_late"
    # Cards on file (rule H6): ``detail`` the amount being charged, then the bank's reason for a decline.
    CHARGING = "charging"  # an off-session charge was sent to Stripe; ``detail``: its amount
    CHARGE_DECLINED = "charge_declined"  # the bank declined it; ``detail``: why. Owed on the bill card


@unique
class Onward(StrEnum):
    """Where the amount of a request not paid in the call went: its ``onward`` (rule P13)."""

    MEDIPAY_SMS = "medipay_sms"  # sent to MediPay: the patient gets an SMS to pay
    MEDIPAY_QUEUE = "medipay_queue"  # the call ended: MediPay's hourly transfer sends the SMS
    BILL_CARD = "bill_card"  # stays owed on the bill card; the clinic collects it itself
    NOT_COLLECTED = "not_collected"  # not paid, and nothing is collected


# What the panels say of a problem and of an onward amount, by whom reads it:
# English msgids, translated by the page's i18n block (each is in app/i18n/js_strings.py).
PROBLEM_LABELS: dict[str, dict[CheckoutProblem, str]] = {
    "clinician": {
        CheckoutProblem.LEFT: "The patient left the payment page without paying. It can be paid again.",
        CheckoutProblem.DECLINED: "Card declined: {reason}. The patient can try another card.",
        CheckoutProblem.FAILED: "The payment failed: {reason}. No money was taken.",
        CheckoutProblem.EXPIRED: "The payment page timed out without a payment.",
        CheckoutProblem.REJECTED: "The patient rejected the payment in Vipps. It can be paid again.",
        CheckoutProblem.CAPTURING: "Capturing the payment from the card hold…",
        CheckoutProblem.CAPTURE_REFUSED: "The capture was not accepted: {reason}. The card is still authorised.",
        CheckoutProblem.HOLD_LAPSING: "The card hold lapses within a day: capture or release it.",
        CheckoutProblem.HOLD_LAPSED: "The card hold was released before it lapsed. Nothing was charged.",
        CheckoutProblem.AUTHORISED_LATE: "The card was authorised after the request had ended, so the hold "
        "was released. Nothing was charged.",
        CheckoutProblem.CHARGING: "Charging the saved card…",
        CheckoutProblem.CHARGE_DECLINED: "The saved card was declined: {reason}. Nothing was charged; the amount "
        "stays owed on the bill card.",
    },
    "patient": {
        CheckoutProblem.LEFT: "You left the payment page. No money was taken. Press Pay now when you are ready.",
        CheckoutProblem.DECLINED: "Your card was declined: {reason}. No money was taken. "
        "You can try another card on the payment page.",
        CheckoutProblem.FAILED: "The payment failed: {reason}. No money was taken.",
        CheckoutProblem.EXPIRED: "The payment page timed out. No money was taken.",
        CheckoutProblem.REJECTED: "You rejected the payment in Vipps. No money was taken. "
        "You can pay again when you are ready.",
        CheckoutProblem.CAPTURING: "The clinic is charging your card.",
        CheckoutProblem.CAPTURE_REFUSED: "The charge did not go through. Nothing was taken from your card.",
        CheckoutProblem.HOLD_LAPSING: "Your card is authorised; the clinic will charge it or release it soon.",
        CheckoutProblem.HOLD_LAPSED: "The hold on your card was released. Nothing was charged.",
        CheckoutProblem.AUTHORISED_LATE: "Your card was authorised after the request had ended, so the hold "
        "on it was released. Nothing was charged.",
        CheckoutProblem.CHARGING: "The clinic is charging your saved card.",
        CheckoutProblem.CHARGE_DECLINED: "Your saved card was declined. Nothing was taken from it; the clinic "
        "will send you the bill.",
    },
}
ONWARD_LABELS: dict[str, dict[Onward, str]] = {
    "clinician": {
        Onward.MEDIPAY_SMS: "Sent to MediPay: the patient pays by SMS",
        Onward.MEDIPAY_QUEUE: "Not paid in the call: goes to MediPay for payment by SMS",
        Onward.BILL_CARD: "Not paid in the call: left on the bill card, no SMS",
        Onward.NOT_COLLECTED: "Not paid: no collection",
    },
    "patient": {
        Onward.MEDIPAY_SMS: "Sent to you by SMS",
        Onward.MEDIPAY_QUEUE: "Not paid in the call: you will get an SMS to pay",
        Onward.BILL_CARD: "Not paid in the call: the clinic will send you the bill",
        Onward.NOT_COLLECTED: "Not paid: nothing more is asked",
    },
}
# A card issuer's reason (Stripe's ``decline_code``, else its ``code``) in words; others read as the default.
DECLINE_REASONS: dict[str, str] = {
    "generic_decline": "the card issuer declined it",
    "card_declined": "the card issuer declined it",
    "do_not_honor": "the card issuer declined it",
    "insufficient_funds": "not enough money on the card",
    "expired_card": "the card has expired",
    "incorrect_cvc": "the security code was wrong",
    "processing_error": "the card could not be processed; trying again may work",
    "authentication_required": "the card issuer asked for authentication that was not completed",
    "payment_intent_payment_attempt_failed": "the bank did not complete the payment",
    # Vipps: the payment was stopped (TERMINATED) before the patient approved it.
    "terminated": "the payment was stopped in Vipps",
}
DEFAULT_DECLINE_REASON = "the card issuer declined it"


@unique
class ConsultStatus(StrEnum):
    ACTIVE = "active"
    ENDED = "ended"


def label(code: str) -> str:
    return LABELS[code]
