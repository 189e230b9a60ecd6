"""Refunds of in-call payments, in the ledger and on the bill card.

A refund is money going back to the patient from the clinic's Stripe balance.
Nothing already posted is touched (the journal is append-only); the refund
posts its own, reversing transaction:

    patient_revenue   debit   the revenue given back
    stripe_clearing   credit  the money leaving the clinic's Stripe balance

and registers a ``payments`` row with method ``stripe_refund``, a negative
amount and the Stripe refund id as reference, so the card's payment list shows
it and its paid total nets out. A refund through Vipps is the same out of
``vipps_clearing``: a ``vipps_refund`` row and the journal reference
``vipps:refund:{refund row}``. Both the payment's ``(method, reference)`` and
the journal's ``stripe:refund:{refund}`` reference are unique: the same refund
can never be counted twice, however many webhooks report it.

A refund that Stripe later reports as failed gives the money back to the
clinic: a second transaction reverses the first (``stripe:refund_failed:…``)
and a positive ``stripe_refund_failed`` payment row restores the paid total.

The card's status is deliberately left as it is: a partially refunded card
stays *paid* (what remains was paid), and a fully refunded one keeps its last
status too — the card's history and payment list show the refund, and the
cash desk decides what happens to the card next.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.ids import new_id
from app.ledger import journal
from app.ledger.journal import Leg
from app.models import BillCard, Payment

REFUND_METHOD = "stripe_refund"
VIPPS_REFUND_METHOD = "vipps_refund"
REFUND_FAILED_METHOD = "stripe_refund_failed"


async def _registered(session: AsyncSession, method: str, reference: str) -> bool:
    found = await session.scalar(select(Payment.id).where(Payment.method == method, Payment.reference == reference))
    return found is not None


async def is_posted(session: AsyncSession, stripe_refund_id: str) -> bool:
    """True while a refund counts: posted and not reversed by a failure."""
    return await _registered(session, REFUND_METHOD, stripe_refund_id) and not await _registered(
        session, REFUND_FAILED_METHOD, stripe_refund_id
    )


async def post_refund(
    session: AsyncSession,
    card: BillCard,
    *,
    request_id: str,
    stripe_refund_id: str,
    amount: int,
    currency: str,
    description: str,
    now: datetime,
) -> bool:
    """Register a refund on the card and post its reversal. False if already posted."""
    if amount <= 0:
        raise ValueError("a refund moves a positive amount")
    if await _registered(session, REFUND_METHOD, stripe_refund_id):
        return False
    await _register(
        session, card, request_id=request_id, method=REFUND_METHOD, amount=amount, currency=currency,
        reference=stripe_refund_id, kind="in_call_refund", journal_reference=f"stripe:refund:{stripe_refund_id}",
        description=f"Refund: {description}", now=now,
    )
    return True


async def post_refund_failed(
    session: AsyncSession,
    card: BillCard,
    *,
    request_id: str,
    stripe_refund_id: str,
    amount: int,
    currency: str,
    description: str,
    now: datetime,
) -> bool:
    """Undo a posted refund that Stripe reports as failed. False if nothing to undo."""
    if not await is_posted(session, stripe_refund_id):
        return False
    await _register(
        session, card, request_id=request_id, method=REFUND_FAILED_METHOD, amount=-amount, currency=currency,
        reference=stripe_refund_id, kind="in_call_refund_failed",
        journal_reference=f"stripe:refund_failed:{stripe_refund_id}", description=f"Refund failed: {description}",
        now=now,
    )
    return True


async def post_vipps_refund(
    session: AsyncSession,
    card: BillCard,
    *,
    request_id: str,
    refund_id: str,
    amount: int,
    currency: str,
    description: str,
    now: datetime,
) -> bool:
    """Register a refund made through Vipps (our refund row's id is its reference) and post its reversal
    out of ``vipps_clearing``. False if already posted."""
    if amount <= 0:
        raise ValueError("a refund moves a positive amount")
    if await _registered(session, VIPPS_REFUND_METHOD, refund_id):
        return False
    await _register(
        session, card, request_id=request_id, method=VIPPS_REFUND_METHOD, amount=amount, currency=currency,
        reference=refund_id, kind="in_call_refund", journal_reference=f"vipps:refund:{refund_id}",
        description=f"Refund: {description}", now=now, clearing="vipps_clearing",
    )
    return True


async def _register(
    session: AsyncSession,
    card: BillCard,
    *,
    request_id: str,
    method: str,
    amount: int,
    currency: str,
    reference: str,
    kind: str,
    journal_reference: str,
    description: str,
    now: datetime,
    clearing: str = "stripe_clearing",
) -> None:
    """One refund movement: ``amount`` > 0 gives money back to the patient, < 0 takes it back."""
    session.add(
        Payment(
            id=new_id("pay"),
            bill_card_id=card.id,
            organisation_id=card.organisation_id,
            payment_request_id=request_id,
            method=method,
            amount=-amount,
            currency=currency,
            reference=reference,
            registered_at=now,
        )
    )
    await journal.post(
        session,
        clinic_id=card.clinic_id,
        kind=kind,
        reference=journal_reference,
        description=description[:200],
        currency=currency,
        bill_card_id=card.id,
        at=now,
        legs=[Leg("patient_revenue", amount), Leg(clearing, -amount)],
    )
    card.updated_at = now
    await session.flush()
