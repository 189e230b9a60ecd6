"""The provider shape: what one way of paying in the call does, and which one a request uses.

A payment request has a ``method`` — ``card`` (Stripe Checkout) or ``vipps``
(Vipps MobilePay's ePayment API) — and everything above the providers (the
ledger, the bill cards, the reports, receipts and both panels) knows only that.
Each provider does the same five things for its requests:

- ``open``: let the patient pay (a Checkout page; a Vipps push, QR code or app
  switch), with an idempotency key per attempt so a retry never makes a second;
- ``close``: make sure the patient can no longer pay (before a cancel or a switch
  to the other method), settling a payment that got through meanwhile;
- ``refresh``: ask the provider what became of the request and settle it, once;
- ``refund``: send one refund reserved by ``app.payments.refunds`` and post it;
- ``jobs``: the background work that keeps its requests in line with the provider.

Settlement always ends in one place per method of ``app.billing.cards``
(``register_stripe_payment``, ``register_vipps_payment``): the payment row on the
bill card and its balanced journal transaction, unique by the provider's reference.
"""

from __future__ import annotations

from enum import StrEnum, unique
from typing import Protocol

from app.jobs.scheduler import Job
from app.models import PaymentRefund, PaymentRequest


@unique
class Method(StrEnum):
    """How the patient pays a request: its ``method`` column and the views' ``method`` field."""

    CARD = "card"
    VIPPS = "vipps"


METHODS = tuple(Method)


class InCallProvider(Protocol):
    """One way of paying in the call (``StripeProvider`` in ``stripe_provider``, ``VippsPayments`` in ``vipps``)."""

    method: Method

    async def close(self, r: PaymentRequest) -> None:
        """The patient can no longer pay this request here; ``Conflict("already_paid")`` if they did."""

    async def refresh(self, r: PaymentRequest) -> None:
        """Ask the provider about the request and settle what it says (idempotent)."""

    async def refund(self, r: PaymentRequest, row: PaymentRefund) -> None:
        """Send the reserved refund ``row`` and post what the provider answers; ``ProviderError`` if it refuses."""

    def jobs(self) -> list[Job]:
        """Background jobs of this provider."""
