"""A card hold authorised after its request ended: released at Stripe at once (docs/rules.md, rule H3).

The patient can finish a hold's Checkout after the clinician cancelled its
request or the consult ended (the page was already open). Stripe then holds the
amount on their card for a request nobody will capture. ``holds.authorise``
notes the PaymentIntent (``problem`` ``authorised_late``); once that has
committed, ``release`` cancels it at Stripe and records the request
``released``: nothing on the bill card, nothing in the ledger.

Exactly once, however the word arrives: a duplicate webhook is stopped by its
event id; a later event or look-up finds the request ``released`` (or sends
the same cancel under the same idempotency key, which Stripe answers with the
cancel it made). A cancel Stripe could not be reached for is sent again by the
``watch-holds`` job (``due``).
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from app.billing.serialisers import absolute_links
from app.billing.statuses import CheckoutProblem, RequestStatus
from app.clock import Clock
from app.consults.notifier import Notifier, request_changed
from app.db import Database
from app.models import PaymentRequest
from app.payments import holds
from app.payments.settlement import locked_request
from integrations.stripe.protocol import ProviderError, ProviderUnavailable, StripeGateway

log = logging.getLogger(__name__)


class LateHolds:
    def __init__(self, db: Database, *, stripe: StripeGateway, notifier: Notifier, clock: Clock,
                 public_url: str) -> None:
        self.db = db
        self.stripe = stripe
        self.notifier = notifier
        self.clock = clock
        self.public_url = public_url

    async def release(self, request_id: str | None) -> str:
        """Cancel the late authorisation at Stripe and record the request ``released``; the outcome."""
        async with self.db.read() as s:
            r = await s.get(PaymentRequest, request_id) if request_id else None
        if (r is None or r.problem != CheckoutProblem.AUTHORISED_LATE or r.status == RequestStatus.RELEASED
                or not r.payment_intent_id):
            return "no_change"
        try:
            intent = holds.Intent.of(await self.stripe.cancel_payment_intent(
                r.payment_intent_id, account=r.stripe_account_id, idempotency_key=f"consultpay:{r.id}:release"))
        except ProviderUnavailable as e:
            log.warning("late hold %s not released yet (%s): the watch-holds job tries again", r.id, e.code)
            return "release_pending"
        except ProviderError as e:
            # Cancelled meanwhile (its own webhook may have said so): what is it now?
            log.info("release of late hold %s refused (%s): looking it up", r.id, e.code)
            try:
                intent = holds.Intent.of(await self.stripe.retrieve_payment_intent(
                    r.payment_intent_id, account=r.stripe_account_id))
            except ProviderError:
                return "release_pending"
        if intent.status != "canceled":
            log.error("late hold %s: its intent %s is %s, not cancelled", r.id, intent.id, intent.status)
            return "release_pending"
        async with self.db.write() as s:
            outcome, view = await holds.released_late(await locked_request(s, r.id), self.clock.now())
        log.info("late hold %s: %s", r.id, outcome)
        if view is not None:
            await request_changed(self.notifier, absolute_links(view, self.public_url) or view)
        return outcome

    async def due(self) -> int:
        """Late authorisations still held at Stripe (its answer was lost): released now; how many."""
        async with self.db.read() as s:
            due = list(await s.scalars(select(PaymentRequest.id).where(
                PaymentRequest.kind == holds.HOLD, PaymentRequest.problem == CheckoutProblem.AUTHORISED_LATE,
                PaymentRequest.status != RequestStatus.RELEASED)))
        return sum([await self.release(request_id) == "released" for request_id in due])
