"""Card holds: what Stripe says of a hold's PaymentIntent, applied to its payment request.

A hold (``kind`` "hold") is paid through Checkout with ``capture_method``
``manual``: the completed session leaves the money authorised on the card, not
taken. Nothing reaches the ledger, the bill card or a receipt until a capture
(docs/rules.md, rule H1). Each function here runs inside the caller's write
transaction, with the request's row locked, and is idempotent: the same word
from Stripe applied twice changes nothing the second time, whichever path
(webhook, the answer to our own call, a look-up) brings it first.

- ``authorise``: a completed session whose PaymentIntent ``requires_capture``
  makes the request ``authorised``, with Stripe's deadline (``capture_before``);
  for a request already cancelled or ended, the intent is noted to be released
  (``authorised_late``; ``app/payments/late_holds.py`` releases it);
- ``settle_capture``: a captured PaymentIntent (``succeeded``) settles the
  request as a paid in-call request is settled, for the amount Stripe took;
- ``apply_intent``: ``payment_intent.succeeded`` and ``payment_intent.canceled``
  webhooks: a capture settled, or a hold released (``expired`` when Stripe
  cancelled it itself because it lapsed).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.billing import cards
from app.billing.serialisers import request_view
from app.billing.statuses import REQUEST_OPEN, REQUEST_PAID, CheckoutProblem, RequestStatus
from app.models import BillCard, PaymentRequest
from app.receipts.numbering import issue_receipt
from integrations.stripe.protocol import LAPSED_REASONS, ProviderError

log = logging.getLogger(__name__)

HOLD = "hold"
# Stripe's window for capturing a card authorisation when the charge does not say (online card payments).
DEFAULT_HOLD_WINDOW = timedelta(days=7)

Result = tuple[str, dict[str, Any] | None]
# The outcome of a card authorised for a request that has ended: to be released at Stripe (``late_holds``).
AUTHORISED_LATE = "authorised_late"


@dataclass(frozen=True)
class Intent:
    """The fields of a Stripe ``payment_intent`` a hold needs, from a webhook's dict or the gateway's object."""

    id: str
    status: str  # requires_capture | succeeded | canceled | …
    amount: int
    amount_capturable: int
    amount_received: int
    currency: str  # upper case
    cancellation_reason: str | None
    capture_before: int | None  # unix time: the charge's payment_method_details.card.capture_before
    metadata: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, obj: Any) -> Intent:
        if hasattr(obj, "to_dict"):
            obj = obj.to_dict()
        if isinstance(obj, dict):
            get = obj.get
        else:
            def get(name: str, default: Any = None) -> Any:
                return getattr(obj, name, default)
        capture_before = get("capture_before")
        charge = get("latest_charge")
        if capture_before is None and isinstance(charge, dict):
            card = ((charge.get("payment_method_details") or {}).get("card") or {})
            capture_before = card.get("capture_before")
        return cls(
            id=str(get("id")),
            status=str(get("status") or ""),
            amount=int(get("amount") or 0),
            amount_capturable=int(get("amount_capturable") or 0),
            amount_received=int(get("amount_received") or 0),
            currency=str(get("currency") or "").upper(),
            cancellation_reason=get("cancellation_reason"),
            capture_before=int(capture_before) if capture_before else None,
            metadata=dict(get("metadata") or {}),
        )


def is_hold(r: PaymentRequest) -> bool:
    return r.kind == HOLD


async def authorise(s: AsyncSession, r: PaymentRequest, session_id: str, intent: Intent | None,
                    now: datetime) -> Result:
    """A hold's Checkout Session completed unpaid: authorised, if its PaymentIntent says so."""
    if r.status != RequestStatus.AUTHORISED and r.status not in REQUEST_OPEN:
        # Already authorised, captured, released, or ended before the card was authorised.
        if r.status in REQUEST_PAID or r.status == RequestStatus.RELEASED:
            return "already_authorised", None
        return authorised_late(r, session_id, intent, now)
    if r.status == RequestStatus.AUTHORISED:
        return "already_authorised", None
    if intent is not None and intent.status == "canceled" and r.checkout_session_id in (None, session_id):
        # Authorised, then cancelled at Stripe (or lapsed) before we heard of either, the events out of
        # order: it ends as it would have in order, not waiting on a session that can no longer be paid.
        r.status, r.checkout_session_id, r.payment_intent_id = RequestStatus.AUTHORISED, session_id, intent.id
        return await mark_released(s, r, now, lapsed=intent.cancellation_reason in LAPSED_REASONS)
    if intent is None or intent.status != "requires_capture":
        # Not confirmed at Stripe (yet): nothing changes; the next look-up or event decides.
        log.info("hold %s: session %s complete but its intent is %s", r.id, session_id,
                 intent.status if intent else "unknown")
        return "awaiting_authorisation", None
    if intent.amount_capturable != r.hold_amount or intent.currency != r.currency:
        log.error("hold %s: intent %s holds %s %s, not %s %s", r.id, intent.id, intent.amount_capturable,
                  intent.currency, r.hold_amount, r.currency)
        return "amount_mismatch", None
    r.status = RequestStatus.AUTHORISED
    r.authorised_at = now
    r.capture_before = (datetime.fromtimestamp(intent.capture_before, UTC) if intent.capture_before
                        else now + DEFAULT_HOLD_WINDOW)
    r.checkout_session_id = r.checkout_session_id or session_id
    r.payment_intent_id = intent.id
    r.problem = r.problem_detail = r.problem_at = None
    r.updated_at = now
    return "authorised", request_view(r)


def authorised_late(r: PaymentRequest, session_id: str, intent: Intent | None, now: datetime) -> Result:
    """The card was authorised after the request was cancelled or its consult ended: nobody will capture
    it, so it must not sit on the patient's card until it lapses. The intent is noted, for
    ``LateHolds.release`` to cancel at Stripe once this transaction has committed."""
    if intent is None or intent.status != "requires_capture":
        return "stale", None
    if r.payment_intent_id and r.payment_intent_id != intent.id:
        log.error("hold %s: late authorisation of %s, not its own %s", r.id, intent.id, r.payment_intent_id)
        return "wrong_intent", None
    r.payment_intent_id = intent.id
    r.checkout_session_id = r.checkout_session_id or session_id
    if r.problem != CheckoutProblem.AUTHORISED_LATE:
        r.problem, r.problem_detail, r.problem_at = CheckoutProblem.AUTHORISED_LATE, None, now
        r.updated_at = now
    return AUTHORISED_LATE, None


async def settle_capture(s: AsyncSession, r: PaymentRequest, intent: Intent, now: datetime) -> Result:
    """A hold's PaymentIntent was captured: settle the captured amount once, as a paid in-call request.

    The card gets a line for the captured amount (any earlier line of the request is voided),
    the payment is registered and posted (``cards.register_stripe_payment``, unique by the
    hold's session, so a webhook racing our own call's answer posts it once), and the
    request becomes ``paid`` with ``amount`` the captured amount and its receipt.
    """
    if r.status in REQUEST_PAID:
        return "already_settled", None
    if intent.status != "succeeded" or intent.amount_received <= 0:
        return "not_captured", None
    if r.payment_intent_id and r.payment_intent_id != intent.id:
        log.error("hold %s: captured intent %s is not its own (%s)", r.id, intent.id, r.payment_intent_id)
        return "wrong_intent", None
    amount = intent.amount_received
    if intent.currency != r.currency or (r.hold_amount is not None and amount > r.hold_amount):
        log.error("hold %s: captured %s %s of a hold of %s %s", r.id, amount, intent.currency, r.hold_amount,
                  r.currency)
        return "amount_mismatch", None
    await settle_intent_amount(s, r, intent, amount, r.checkout_session_id or intent.id, "hold captured", now)
    return "captured", request_view(r)


async def settle_intent_amount(s: AsyncSession, r: PaymentRequest, intent: Intent, amount: int, reference: str,
                               why: str, now: datetime) -> None:
    """Money taken later than the request was made (a hold captured, a saved card charged): the
    card's line for ``amount`` (any earlier line of the request voided, ``why``), the payment
    registered and posted once (unique by ``reference``), the request ``paid`` with its receipt."""
    card = await s.get(BillCard, r.bill_card_id)
    assert card is not None
    await cards.void_request_line(s, card, r.id, why, now)
    await cards.add_request_line(s, card, r.id, r.description, amount, now)
    fee = min(r.application_fee_amount or 0, max(amount - 1, 0))
    await cards.register_stripe_payment(
        s, card, request_id=r.id, amount=amount, currency=r.currency, reference=reference,
        description=r.description, now=now, application_fee=fee,
    )
    r.status = RequestStatus.PAID
    r.amount = amount
    r.application_fee_amount = fee
    r.paid_at = now
    r.updated_at = now
    r.payment_intent_id = intent.id
    r.problem = r.problem_detail = r.problem_at = None
    await issue_receipt(s, r, now)


async def mark_released(s: AsyncSession, r: PaymentRequest, now: datetime, *, lapsed: bool = False,
                        problem: str | None = None) -> Result:
    """The hold's PaymentIntent is cancelled at Stripe: ``released`` (``expired`` if it lapsed there)."""
    if r.status != RequestStatus.AUTHORISED:
        return "stale", None
    if lapsed:
        r.status = RequestStatus.EXPIRED
        r.problem, r.problem_detail, r.problem_at = CheckoutProblem.EXPIRED, None, now
    else:
        r.status = RequestStatus.RELEASED
        # What was said of the hold (a refused capture, a lapse coming) is over; ``problem``: why it ended.
        r.problem, r.problem_detail, r.problem_at = (problem, None, now) if problem is not None else (None, None, None)
    r.updated_at = now
    card = await s.get(BillCard, r.bill_card_id)
    if card is not None:
        # A hold put nothing owed on the card; if a line was made for it, it no longer counts.
        await cards.void_request_line(s, card, r.id, f"hold {r.status}", now)
    return ("expired" if lapsed else "released"), request_view(r)


async def released_late(r: PaymentRequest, now: datetime) -> Result:
    """A late authorisation (``authorised_late``) cancelled at Stripe: ``released``, once. Nothing was on
    the card or in the ledger for it: the request had ended, its line already voided."""
    if r.problem != CheckoutProblem.AUTHORISED_LATE or r.status == RequestStatus.RELEASED:
        return "stale", None
    r.status = RequestStatus.RELEASED
    r.problem_at = r.updated_at = now
    return "released", request_view(r)


async def apply_intent(s: AsyncSession, obj: dict[str, Any], account: str | None, now: datetime) -> Result:
    """``payment_intent.succeeded`` / ``payment_intent.canceled``: a hold captured or released."""
    intent = Intent.of(obj)
    request_id = intent.metadata.get("payment_request_id")
    if not request_id:
        return "not_ours", None
    r = await s.scalar(select(PaymentRequest).where(PaymentRequest.id == request_id).with_for_update())
    if r is None:
        return "unknown_request", None
    if (r.stripe_account_id or None) != (account or None):
        return "wrong_account", None
    if not is_hold(r):
        return "ignored", None  # an in-call payment settles by its Checkout Session's events
    return await apply_hold_intent(s, r, intent, now)


async def apply_hold_intent(s: AsyncSession, r: PaymentRequest, intent: Intent, now: datetime) -> Result:
    """What a hold's PaymentIntent, as Stripe reports it, means for its (locked) request."""
    if intent.status == "succeeded":
        return await settle_capture(s, r, intent, now)
    if intent.status == "canceled" and r.problem == CheckoutProblem.AUTHORISED_LATE:
        return await released_late(r, now)
    if intent.status == "canceled":
        return await mark_released(s, r, now, lapsed=intent.cancellation_reason in LAPSED_REASONS)
    if intent.status == "requires_capture" and r.status in REQUEST_OPEN and r.checkout_session_id:
        return await authorise(s, r, r.checkout_session_id, intent, now)
    return "no_change", None


async def session_intent(stripe: Any, session: Any, account: str | None) -> Intent | None:
    """A completed, unpaid session's PaymentIntent, looked up at Stripe (None for any other session,
    or when Stripe cannot say now: the hold then waits for the next event or look-up)."""
    if session.status != "complete" or session.payment_status != "unpaid" or not session.payment_intent_id:
        return None
    try:
        return Intent.of(await stripe.retrieve_payment_intent(session.payment_intent_id, account=account))
    except ProviderError as e:
        log.warning("could not look up %s: %s", session.payment_intent_id, e)
        return None
