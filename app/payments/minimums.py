"""Stripe's smallest charge per currency, checked when a clinician asks for a payment.

Stripe refuses a Checkout Session whose total is under the currency's minimum
(``amount_too_small``). Found at checkout, that is a request the patient can
never pay; checked when the clinician asks, it is a message the clinician can
act on at once. The table is Stripe's published one ("Minimum and maximum
charge amounts", docs/currencies), in minor units; a currency not in it gets
Stripe's rule for the rest: the equivalent of USD 0.50, which we do not
convert, so only the listed currencies are checked.
"""

from __future__ import annotations

from app.errors import Invalid
from app.money import Money

MINIMUM_CHARGE: dict[str, int] = {
    "USD": 50,
    "AED": 200,
    "AUD": 50,
    "BGN": 100,
    "BRL": 50,
    "CAD": 50,
    "CHF": 50,
    "CZK": 1500,
    "DKK": 250,
    "EUR": 50,
    "GBP": 30,
    "HKD": 400,
    "HUF": 17500,
    "INR": 50,
    "JPY": 50,
    "MXN": 1000,
    "MYR": 200,
    "NOK": 300,
    "NZD": 50,
    "PLN": 200,
    "RON": 200,
    "SEK": 300,
    "SGD": 50,
    "THB": 1000,
}


def minimum_charge(currency: str) -> Money | None:
    """Stripe's smallest payment in ``currency``, or None where we do not know it."""
    minor = MINIMUM_CHARGE.get(currency.upper())
    return None if minor is None else Money(minor, currency)


def check_minimum(amount: int, currency: str) -> None:
    """Refuse an amount Stripe would refuse at checkout, saying what the least is."""
    least = minimum_charge(currency)
    if least is not None and amount < least.minor:
        raise Invalid(
            "amount_too_small",
            "Stripe's smallest payment in %(currency)s is %(minimum)s.",
            field="amount",
            currency=least.currency,
            minimum=least,
        )
