"""Cards on file: what Stripe says of a saved card and of its off-session charge, applied to the request.

A card on file (``kind`` "card_on_file", docs/rules.md rule H6) is saved through
Checkout in ``setup`` mode for a Customer on the clinic's connected account.
The completed session proves nothing by itself: the request becomes
``card_saved`` only when the session's SetupIntent, retrieved from Stripe, has
``succeeded`` for that Customer (as a hold waits for its PaymentIntent, rule
P4). Saving a card is not revenue: nothing reaches the ledger, the bill card
or a receipt. Only the charge does, once, exactly as a payment in the call.

Each function runs inside the caller's write transaction with the request's
row locked, and is idempotent: the same word from Stripe applied twice changes
nothing the second time, whichever path (webhook, our own call's answer, a
look-up) brings it first.

- ``save``: a completed setup session whose SetupIntent succeeded;
- ``settle_charge``: an off-session PaymentIntent ``succeeded``: a card line,
  the payment and its journal entry, the receipt; the request ``paid``;
- ``declined``: the bank said no: nothing in the ledger, and the amount owed
  on the bill card as any amount not paid in the call (rule L2).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.billing import cards
from app.billing.outbox import queue_hourly
from app.billing.serialisers import request_view
from app.billing.statuses import REQUEST_OPEN, REQUEST_PAID, CheckoutProblem, Onward, RequestStatus
from app.models import BillCard, Consult, PaymentRequest
from app.payments import holds
from app.payments.holds import Intent
from integrations.stripe.protocol import CheckoutSession, ProviderError
from integrations.stripe.saved_cards import SetupIntent

log = logging.getLogger(__name__)

CARD_ON_FILE = "card_on_file"

Result = tuple[str, dict[str, Any] | None]


def is_card_on_file(r: Any) -> bool:
    return getattr(r, "kind", None) == CARD_ON_FILE


async def session_setup(stripe: Any, session: CheckoutSession, account: str | None) -> SetupIntent | None:
    """A completed setup session's SetupIntent, looked up at Stripe (None for any other session, or
    when Stripe cannot say now: the request then waits for the next event or look-up)."""
    if session.mode != "setup" or session.status != "complete" or not session.setup_intent_id or stripe is None:
        return None
    try:
        return await stripe.retrieve_setup_intent(session.setup_intent_id, account=account)  # type: ignore[no-any-return]
    except ProviderError as e:
        log.warning("could not look up %s: %s", session.setup_intent_id, e)
        return None


async def save(s: AsyncSession, r: PaymentRequest, session: CheckoutSession, setup: SetupIntent | None,
               now: datetime) -> Result:
    """A card on file's setup session completed: ``card_saved``, if its SetupIntent says so."""
    if r.status == RequestStatus.CARD_SAVED or r.status in REQUEST_PAID:
        return "already_saved", None
    if r.status not in REQUEST_OPEN:
        return "stale", None  # ended (with the call) before the card was saved
    if setup is None or not setup.saved or setup.id != session.setup_intent_id:
        log.info("card on file %s: session %s complete but its setup is %s", r.id, session.id,
                 setup.status if setup else "unknown")
        return "awaiting_setup", None
    if setup.customer_id != r.stripe_customer_id or setup.metadata.get("payment_request_id") != r.id:
        log.error("card on file %s: setup %s is for %s, not %s", r.id, setup.id, setup.customer_id,
                  r.stripe_customer_id)
        return "wrong_customer", None
    r.status = RequestStatus.CARD_SAVED
    r.authorised_at = now
    r.setup_intent_id = setup.id
    r.payment_method_id = setup.payment_method_id
    r.checkout_session_id = r.checkout_session_id or session.id
    r.problem = r.problem_detail = r.problem_at = None
    r.updated_at = now
    return "card_saved", request_view(r)


async def settle_charge(s: AsyncSession, r: PaymentRequest, intent: Intent, now: datetime) -> Result:
    """The saved card was charged (``succeeded``): settled once, as a paid in-call request.

    A line for the amount charged (any earlier line of the request voided), the payment
    registered and posted (unique by the PaymentIntent, so a webhook racing our own call's
    answer posts it once), the request ``paid`` with its receipt.
    """
    if r.status in REQUEST_PAID:
        return "already_settled", None
    if r.status != RequestStatus.CARD_SAVED:
        return "stale", None
    if intent.status != "succeeded" or intent.amount_received <= 0:
        return "not_charged", None
    amount = intent.amount_received
    if intent.currency != r.currency:
        log.error("card on file %s: charged %s %s, not in %s", r.id, amount, intent.currency, r.currency)
        return "amount_mismatch", None
    await holds.settle_intent_amount(s, r, intent, amount, intent.id, "saved card charged", now)
    return "charged", request_view(r)


async def apply_intent(s: AsyncSession, obj: dict[str, Any], account: str | None, now: datetime) -> Result:
    """``payment_intent.succeeded`` / ``.canceled``: a saved card charged, else a hold's (``holds``)."""
    intent = Intent.of(obj)
    request_id = intent.metadata.get("payment_request_id")
    kind = await s.scalar(select(PaymentRequest.kind).where(PaymentRequest.id == request_id)) if request_id else None
    if kind != CARD_ON_FILE:
        return await holds.apply_intent(s, obj, account, now)
    r = await s.scalar(select(PaymentRequest).where(PaymentRequest.id == request_id).with_for_update())
    assert r is not None
    if (r.stripe_account_id or None) != (account or None):
        return "wrong_account", None
    if intent.status != "succeeded":
        return "ignored", None  # a charge made and confirmed at once is never cancelled
    return await settle_charge(s, r, intent, now)


async def declined(s: AsyncSession, r: PaymentRequest, reason: str, intent_id: str | None, now: datetime) -> Result:
    """The bank declined the charge being sent: nothing in the ledger; the amount owed on the bill card.

    As an amount not paid in the call (rule L2): a line on the card, which joins the hourly
    transfer to MediPay when the call is over (now, if it already is), else stays on the card.
    """
    if r.status != RequestStatus.CARD_SAVED or r.problem != CheckoutProblem.CHARGING:
        return "stale", None
    amount = int(r.problem_detail or r.amount)
    r.amount = amount
    r.problem, r.problem_detail, r.problem_at = CheckoutProblem.CHARGE_DECLINED, reason[:60], now
    r.payment_intent_id = intent_id or r.payment_intent_id
    r.updated_at = now
    card = await s.get(BillCard, r.bill_card_id)
    assert card is not None
    await cards.void_request_line(s, card, r.id, "saved card declined", now)
    await cards.add_request_line(s, card, r.id, r.description, amount, now)
    consult = await s.get(Consult, r.consult_id)
    queued = False
    if consult is not None and consult.status == "ended" and card.status == "under_work":
        queued = await queue_hourly(s, card, now) is not None
        if queued:
            await cards.set_status(s, card, "open", "saved card declined: queued for MediPay", now)
    # In the call, a MediPay book's card joins the transfer when the call ends (cards.queue_after_call).
    in_call = consult is not None and consult.status != "ended" and card.book_id is not None
    r.onward = Onward.MEDIPAY_QUEUE if queued or in_call else Onward.BILL_CARD
    return "declined", request_view(r)
