"""Cards saved for later, as the app needs them from Stripe: the SetupIntent that saved one, and a
decline of an off-session charge.

A card is saved through Checkout in ``setup`` mode for a Customer on the
clinic's connected account; the session's completion proves nothing by itself,
the SetupIntent ``succeeded`` does (retrieved, never taken from the session's
word). The card is then charged with its holder away: a PaymentIntent with
``customer``, ``payment_method``, ``off_session`` and ``confirm``. Stripe
answers a decline with HTTP 402, a ``card_error`` that carries the failed
PaymentIntent; ``authentication_required`` means the bank wants the holder
present, which an off-session charge cannot give.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from integrations.errors import CardRefused
from integrations.stripe.protocol import PaymentIntent, _plain, _ref


@dataclass(frozen=True)
class SetupIntent:
    id: str
    status: str  # requires_payment_method | requires_action | processing | succeeded | canceled | …
    customer_id: str | None
    payment_method_id: str | None
    usage: str
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def saved(self) -> bool:
        """The card is saved to its Customer and can be charged later."""
        return self.status == "succeeded" and bool(self.payment_method_id)

    @classmethod
    def from_stripe(cls, obj: Any) -> SetupIntent:
        get = _plain(obj).get
        return cls(id=get("id"), status=str(get("status") or ""), customer_id=_ref(get("customer")),
                   payment_method_id=_ref(get("payment_method")), usage=str(get("usage") or ""),
                   metadata=dict(get("metadata") or {}))


@dataclass(frozen=True)
class SavedCardCharge:
    """An off-session charge of a saved card on a connected account."""

    account: str | None
    customer: str
    payment_method: str
    amount: int
    currency: str
    description: str
    metadata: dict[str, str]
    idempotency_key: str
    application_fee_amount: int = 0


class SavedCardDeclined(CardRefused):
    """A ``card_error`` from an off-session charge; ``intent``: the PaymentIntent the error carried."""

    def __init__(self, message: str, code: str, provider_message: str | None = None, *,
                 decline_code: str | None = None, intent: PaymentIntent | None = None) -> None:
        super().__init__(message, code, provider_message)
        self.decline_code = decline_code
        self.intent = intent

    @property
    def reason(self) -> str:
        """The bank's reason, else Stripe's code (what the panels put in words)."""
        return self.decline_code or self.code
