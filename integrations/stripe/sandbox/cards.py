"""Stripe's test cards, checked the way Checkout checks what a customer types."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

# number -> (decline code, message); absent: the card succeeds.
DECLINES = {
    "4000000000000002": ("generic_decline", "Your card was declined."),
    "4000000000009995": ("insufficient_funds", "Your card has insufficient funds."),
    "4000000000009987": ("lost_card", "Your card was declined."),
    "4000000000009979": ("stolen_card", "Your card was declined."),
    "4000000000000069": ("expired_card", "Your card has expired."),
    "4000000000000127": ("incorrect_cvc", "Your card's security code is incorrect."),
    "4000000000000119": ("processing_error",
                         "An error occurred while processing your card. Try again in a little bit."),
}
SUCCEEDS = {
    "4242424242424242": "visa",
    "4000056655665556": "visa",
    "5555555555554444": "mastercard",
    "2223003122003222": "mastercard",
    "378282246310005": "amex",
    "4000005780000007": "visa",  # Norway
    # Saved for later (Checkout in setup mode) without trouble, then declined off-session
    # (OFF_SESSION_DECLINES); on a payment page the holder authenticates and it succeeds.
    "4000002760003184": "visa",
    "4000000000000341": "visa",
}
# number -> (code, decline code, message) when charged off-session, the holder away: Stripe's
# "requires authentication on all transactions" card, and its "attaches, but charges fail" one.
OFF_SESSION_DECLINES = {
    "4000002760003184": ("authentication_required", "authentication_required",
                         "Your card was declined. This transaction requires authentication."),
    "4000000000000341": ("card_declined", "generic_decline", "Your card was declined."),
}
# Saved without trouble, declined whenever charged: a payment page declines it too.
CHARGE_FAILS = frozenset({"4000000000000341"})


class CardError(Exception):
    def __init__(self, code: str, message: str, decline_code: str | None = None,
                 param: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.decline_code = decline_code
        self.param = param


@dataclass(frozen=True)
class Card:
    number: str
    brand: str
    exp_month: int
    exp_year: int

    def details(self) -> dict[str, Any]:
        return {"brand": self.brand, "last4": self.number[-4:], "exp_month": self.exp_month,
                "exp_year": self.exp_year,
                "fingerprint": hashlib.sha256(self.number.encode()).hexdigest()[:16]}


def luhn_ok(number: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _brand(number: str) -> str:
    if number.startswith("4"):
        return "visa"
    if number[:2] in {"34", "37"}:
        return "amex"
    if number[:2] in {"51", "52", "53", "54", "55"} or number[:1] == "2":
        return "mastercard"
    return "unknown"


def check_card(number: str, exp: str, cvc: str, now: int, *, charged: bool = True) -> Card:
    """The card, or the CardError Checkout would show for these inputs (``charged``: False when
    the page only saves the card, in setup mode)."""
    digits = re.sub(r"[\s-]", "", number or "")
    if not digits:
        raise CardError("incomplete_number", "Your card number is incomplete.",
                        param="card_number")
    if not digits.isdigit() or not 12 <= len(digits) <= 19:
        raise CardError("invalid_number", "Your card number is invalid.", param="card_number")
    if not luhn_ok(digits):
        raise CardError("invalid_number", "Your card number is invalid.", param="card_number")
    m = re.fullmatch(r"\s*(\d{1,2})\s*/\s*(\d{2}|\d{4})\s*", exp or "")
    if not m:
        raise CardError("invalid_expiry_month", "Your card's expiration date is incomplete.",
                        param="exp")
    month, year = int(m.group(1)), int(m.group(2))
    if year < 100:
        year += 2000
    if not 1 <= month <= 12:
        raise CardError("invalid_expiry_month", "Your card's expiration month is invalid.",
                        param="exp")
    today = datetime.fromtimestamp(now, UTC)
    if year < today.year:
        raise CardError("invalid_expiry_year", "Your card's expiration year is in the past.",
                        param="exp")
    if (year, month) < (today.year, today.month):
        raise CardError("invalid_expiry_month", "Your card's expiration date is in the past.",
                        param="exp")
    if year > today.year + 50:
        raise CardError("invalid_expiry_year", "Your card's expiration year is invalid.",
                        param="exp")
    brand = SUCCEEDS.get(digits) or _brand(digits)
    cvc_len = 4 if brand == "amex" else 3
    if not re.fullmatch(rf"\d{{{cvc_len}}}", (cvc or "").strip()):
        raise CardError("invalid_cvc", "Your card's security code is invalid.", param="cvc")
    if charged and digits in CHARGE_FAILS:
        raise CardError("card_declined", "Your card was declined.", decline_code="generic_decline")
    if digits in DECLINES:
        decline, message = DECLINES[digits]
        code = decline if decline in {"expired_card", "incorrect_cvc", "processing_error"} \
            else "card_declined"
        raise CardError(code, message, decline_code=decline)
    if digits not in SUCCEEDS:
        raise CardError(
            "card_declined",
            "Your card was declined. Your request was in test mode, but used a non test "
            "card. For a list of valid test cards, visit: https://stripe.com/docs/testing.",
            decline_code="test_mode_live_card",
        )
    return Card(digits, brand, month, year)


def declined_card(number: str, exp: str) -> Card:
    """The card of a decline, for its failed charge (its number and expiry already passed the checks)."""
    digits = re.sub(r"[\s-]", "", number or "")
    m = re.fullmatch(r"\s*(\d{1,2})\s*/\s*(\d{2}|\d{4})\s*", exp or "")
    month, year = (int(m.group(1)), int(m.group(2))) if m else (12, 2099)
    return Card(digits, _brand(digits), month, year + 2000 if year < 100 else year)
