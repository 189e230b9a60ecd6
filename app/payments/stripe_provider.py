"""The ``card`` provider (``app.payments.provider``): Stripe Checkout, as ``PaymentService`` does it.

The Checkout code itself stays where it was (``checkout``, ``settlement``,
``stripe_refunds``, ``stripe_events``); this adapter gives it the provider shape,
so the service's cancel, look-up and refund go through one interface whichever
method the request has.
"""

from __future__ import annotations

from typing import Protocol

from app.jobs.scheduler import Job
from app.models import PaymentRefund, PaymentRequest
from app.payments.checkout import CheckoutSession
from app.payments.provider import Method


class PaymentService(Protocol):
    """The Checkout side of ``app.payments.requests.PaymentService`` this adapter drives."""

    async def _lost_session(self, r: PaymentRequest) -> str | None: ...

    async def _close(self, r: PaymentRequest, session_id: str, known: CheckoutSession | None = None) -> None: ...

    async def refresh_session(self, r: PaymentRequest) -> None: ...

    async def expire_due(self) -> int: ...


class StripeProvider:
    method = Method.CARD

    def __init__(self, service: PaymentService) -> None:
        self.service = service

    async def close(self, r: PaymentRequest) -> None:
        # Close the door at Stripe: expire the session (the one of a lost answer too); settle it if paid.
        session_id = r.checkout_session_id or await self.service._lost_session(r)
        if session_id:
            await self.service._close(r, session_id)

    async def refresh(self, r: PaymentRequest) -> None:
        if r.checkout_session_id:
            await self.service.refresh_session(r)

    async def refund(self, r: PaymentRequest, row: PaymentRefund) -> None:
        raise NotImplementedError("card refunds go through RefundService's Stripe path")

    def jobs(self) -> list[Job]:
        return [Job("expire-requests", 30.0, self.service.expire_due)]
