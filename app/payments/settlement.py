"""Settlement: a Checkout Session's outcome applied to its payment request and bill card.

Called from Stripe's webhooks and from look-ups (a reload, the ``expire-requests``
job), always inside the caller's write transaction and idempotent: the same
session applied twice changes nothing the second time. A paid session registers
the payment on the bill card, which posts it to the ledger (``billing.cards``).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.billing import cards
from app.billing.serialisers import request_view
from app.billing.statuses import REQUEST_OPEN, REQUEST_PAID, CheckoutProblem
from app.models import BillCard, PaymentRequest
from app.payments import cards_on_file, holds
from app.receipts.numbering import issue_receipt
from integrations.stripe.protocol import (
    CheckoutSession,
)
from integrations.stripe.saved_cards import SetupIntent

log = logging.getLogger(__name__)

# A complete session with one of these has been paid (or needed no payment).
PAID_SESSION = frozenset({"paid", "no_payment_required"})

# Built once: a settlement reads its request this way for every webhook.
_REQUEST_FOR_UPDATE = select(PaymentRequest).where(PaymentRequest.id == bindparam("id")).with_for_update()


async def locked_request(s: AsyncSession, request_id: str) -> PaymentRequest:
    """A request known to exist, locked for the rest of the transaction."""
    r = await s.scalar(select(PaymentRequest).where(PaymentRequest.id == request_id).with_for_update())
    assert r is not None
    return r


async def apply_session(
    s: AsyncSession, session: CheckoutSession, *, account: str | None, now: datetime,
    intent: holds.Intent | None = None, setup: SetupIntent | None = None,
) -> tuple[str, dict[str, Any] | None]:
    """Bring one request in line with its Stripe session; returns (outcome, changed request).

    ``intent``: the session's PaymentIntent as Stripe gave it, which a card hold's completed
    (unpaid) session needs to be authorised (``holds.authorise``); ``setup``: the SetupIntent of a card on
    file's setup session, which must have succeeded for the card to count as saved (``cards_on_file.save``)."""
    request_id = session.metadata.get("payment_request_id") or session.client_reference_id
    if not request_id:
        return "not_ours", None
    r = await s.scalar(_REQUEST_FOR_UPDATE, {"id": request_id})
    if r is None:
        return "unknown_request", None
    if (r.stripe_account_id or None) != (account or None):
        log.error("session %s for %s came from account %s, not %s", session.id, r.id, account, r.stripe_account_id)
        return "wrong_account", None
    if cards_on_file.is_card_on_file(r):
        # A card on file: saved, not paid; only its off-session charge settles it (docs/rules.md, rule H6).
        if session.status == "complete":
            return await cards_on_file.save(s, r, session, setup, now)
        if session.status != "expired":
            return "no_change", None
    if holds.is_hold(r) and session.status == "complete":
        # A card hold: authorised, not paid; only a capture settles it (docs/rules.md, rule H1).
        return await holds.authorise(s, r, session.id, intent, now)
    if session.status == "complete" and session.payment_status in PAID_SESSION:
        return await _settle_paid(s, r, session, now)
    if session.status == "expired":
        if r.status in REQUEST_OPEN and _current_session(r, session):
            await cards.finish_unpaid(s, r, "expired", "checkout expired", now)
            r.problem, r.problem_detail, r.problem_at = CheckoutProblem.EXPIRED, None, now
            return "expired", request_view(r)
        return "stale", None
    if session.status == "complete" and r.status == "requested":
        # Paid by a delayed method: wait for async_payment_succeeded / failed.
        r.status = "checkout_open"
        r.checkout_session_id = r.checkout_session_id or session.id
        r.updated_at = now
        return "awaiting_payment", request_view(r)
    return "no_change", None


async def _settle_paid(
    s: AsyncSession, r: PaymentRequest, session: CheckoutSession, now: datetime
) -> tuple[str, dict[str, Any] | None]:
    if r.status in REQUEST_PAID:
        return "already_settled", None
    if session.amount_total != r.amount or session.currency != r.currency:
        log.error(
            "session %s paid %s %s for request %s of %s %s: not settled",
            session.id,
            session.amount_total,
            session.currency,
            r.id,
            r.amount,
            r.currency,
        )
        return "amount_mismatch", None
    card = await s.get(BillCard, r.bill_card_id)
    assert card is not None
    if r.status not in REQUEST_OPEN:
        # Paid just as it was cancelled or expired: the money is real, so it counts again.
        await cards.add_request_line(s, card, r.id, r.description, r.amount, now)
    await cards.register_stripe_payment(
        s,
        card,
        request_id=r.id,
        amount=r.amount,
        currency=r.currency,
        reference=session.id,
        description=r.description,
        now=now,
        application_fee=r.application_fee_amount,
    )
    r.status = "paid"
    r.paid_at = now
    r.updated_at = now
    r.checkout_session_id = r.checkout_session_id or session.id
    r.payment_intent_id = session.payment_intent_id
    # Numbered in this transaction: a settlement that rolls back takes its number with it.
    await issue_receipt(s, r, now)
    return "settled", request_view(r)


def _current_session(r: PaymentRequest, session: CheckoutSession) -> bool:
    """Whether a session is the request's current one (not one an earlier attempt closed).

    Before Stripe answers, the request knows only its attempt number, which every
    session carries in its metadata; sessions from before that carry none.
    """
    if r.checkout_session_id:
        return r.checkout_session_id == session.id
    attempt = session.metadata.get("checkout_attempt")
    return attempt is None or attempt == str(r.checkout_attempt)
