"""Refunds as Stripe reports them, applied once each: the answer to our own call or a webhook.

Refunds made in Stripe's dashboard reach us only as webhooks (``refund.*``,
``charge.refunded``). They meet our own at ``refunds.stripe_refund_id``
(unique) and at the refund's ``metadata.refund_id`` (our row): a refund is
recorded and posted once, whichever of the call's answer and its webhooks
arrives first, and however many copies arrive.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app import audit
from app.billing.serialisers import request_view
from app.ids import new_id
from app.models import BillCard, Clinic, PaymentRefund, PaymentRequest
from app.payments import refund_entries as ledger
from app.receipts.numbering import issue_credit_note
from integrations.stripe.protocol import Refund as StripeRefund

log = logging.getLogger(__name__)

REFUNDABLE = frozenset({"paid", "partially_refunded"})
# Stripe's refund statuses under which the money has left the clinic's balance.
MONEY_OUT = frozenset({"pending", "requires_action", "succeeded"})
MONEY_BACK = frozenset({"failed", "canceled"})


def _status(r: PaymentRequest) -> str:
    if r.refunded_amount <= 0:
        return "paid"
    return "refunded" if r.refunded_amount >= r.amount else "partially_refunded"


async def apply_refund(
    s: AsyncSession, refund: StripeRefund, *, account: str | None, now: datetime
) -> tuple[str, dict[str, Any] | None]:
    """Bring our records in line with one Stripe refund; idempotent. Returns (outcome, changed request)."""
    if not refund.id or not refund.payment_intent_id:
        return "not_ours", None
    row = await s.scalar(select(PaymentRefund).where(PaymentRefund.stripe_refund_id == refund.id))
    request_id = row.payment_request_id if row is not None else refund.metadata.get("payment_request_id")
    q = select(PaymentRequest).with_for_update()
    if request_id:
        q = q.where(PaymentRequest.id == request_id)
    else:
        q = q.where(PaymentRequest.payment_intent_id == refund.payment_intent_id)
        q = q.where(
            PaymentRequest.stripe_account_id.is_(None)
            if account is None
            else PaymentRequest.stripe_account_id == account
        )
    r = await s.scalar(q.limit(1))
    if r is None:
        return "unknown_request", None
    if r.payment_intent_id != refund.payment_intent_id or (r.stripe_account_id or None) != (account or None):
        log.error("refund %s (%s on %s) does not match request %s", refund.id, refund.payment_intent_id, account, r.id)
        return "wrong_account", None
    if refund.currency != r.currency:
        log.error("refund %s in %s for request %s in %s: not recorded", refund.id, refund.currency, r.id, r.currency)
        return "currency_mismatch", None
    # Re-read under the lock: the webhook and the call's answer may race here.
    row = await s.scalar(select(PaymentRefund).where(PaymentRefund.stripe_refund_id == refund.id))
    if row is None and refund.metadata.get("refund_id"):
        mine = await s.get(PaymentRefund, refund.metadata["refund_id"])
        if mine is not None and mine.payment_request_id == r.id and not mine.stripe_refund_id:
            row = mine
    card = await s.get(BillCard, r.bill_card_id)
    clinic = await s.get(Clinic, r.clinic_id)
    assert card is not None and clinic is not None
    counted = await ledger.is_posted(s, refund.id)

    if refund.status in MONEY_BACK:
        if row is None:
            row = _external_row(r, refund, now)
            s.add(row)
        row.stripe_refund_id = refund.id
        row.status = "failed"
        row.updated_at = now
        if not counted:
            return "refund_failed", None
        await ledger.post_refund_failed(
            s,
            card,
            request_id=r.id,
            stripe_refund_id=refund.id,
            amount=refund.amount,
            currency=r.currency,
            description=r.description,
            now=now,
        )
        r.refunded_amount = max(0, r.refunded_amount - refund.amount)
        r.status = _status(r)
        r.updated_at = now
        _audit(s, clinic, r, row, "payment.refund_failed", now)
        return "refund_reversed", request_view(r)

    if refund.status not in MONEY_OUT:
        return "ignored", None
    status = "succeeded" if refund.status == "succeeded" else "pending"
    if counted:
        if row is not None and row.status != status:
            row.status = status
            row.updated_at = now
        return "already_recorded", None
    if r.status not in REFUNDABLE or refund.amount > r.amount - r.refunded_amount:
        # Stripe never refunds more than was charged; our books disagree with it. Say so loudly.
        log.error(
            "refund %s of %s for %s exceeds what remains (%s): not posted",
            refund.id,
            refund.amount,
            r.id,
            r.amount - r.refunded_amount,
        )
        return "amount_mismatch", None
    if row is None:
        row = _external_row(r, refund, now)
        s.add(row)
    row.stripe_refund_id = refund.id
    row.amount = refund.amount
    row.status = status
    row.updated_at = now
    await s.flush()
    await ledger.post_refund(
        s,
        card,
        request_id=r.id,
        stripe_refund_id=refund.id,
        amount=refund.amount,
        currency=r.currency,
        description=r.description,
        now=now,
    )
    r.refunded_amount += refund.amount
    r.status = _status(r)
    r.updated_at = now
    await issue_credit_note(s, r, row, now)
    _audit(s, clinic, r, row, "payment.refunded", now)
    return "refunded", request_view(r)


def _external_row(r: PaymentRequest, refund: StripeRefund, now: datetime) -> PaymentRefund:
    """A refund we did not ask for (made in Stripe's dashboard)."""
    return PaymentRefund(
        id=new_id("rf"),
        payment_request_id=r.id,
        stripe_refund_id=refund.id,
        amount=refund.amount,
        currency=r.currency,
        status="pending",
        source="stripe",
        created_by=None,
        idempotency_key=None,
        created_at=now,
        updated_at=now,
    )


def _audit(s: AsyncSession, clinic: Clinic, r: PaymentRequest, row: PaymentRefund, action: str, now: datetime) -> None:
    actor_type, _, actor_id = (row.created_by or "stripe").partition(":")
    audit.record(
        s,
        organisation_id=clinic.organisation_id,
        clinic_id=clinic.id,
        actor_type=actor_type if actor_type in ("user", "clinician", "api") else "stripe",
        actor_id=actor_id or None,
        action=action,
        subject_type="payment_request",
        subject_id=r.id,
        at=now,
        details={
            "refund_id": row.id,
            "stripe_refund_id": row.stripe_refund_id,
            "amount": row.amount,
            "currency": row.currency,
            "source": row.source,
            "refunded_amount": r.refunded_amount,
            "status": r.status,
        },
    )


# -- webhooks (registered in app/payments/stripe_events.py) -----------------------------------------


async def refund_event(s: AsyncSession, obj: dict[str, Any], account: str | None, now: Any) -> tuple[str, Any]:
    """``refund.created`` / ``refund.updated`` / ``refund.failed``."""
    return await apply_refund(s, StripeRefund.from_stripe(obj), account=account, now=now)


async def charge_refunded_event(s: AsyncSession, obj: dict[str, Any], account: str | None, now: Any) -> tuple[str, Any]:
    """``charge.refunded``: each refund the charge lists (newer API versions list none; ``refund.*`` covers those)."""
    listed = (obj.get("refunds") or {}).get("data") or []
    outcomes: list[str] = []
    view = None
    for item in reversed(listed):  # oldest first
        if not isinstance(item, dict):
            continue
        item = {**item, "payment_intent": item.get("payment_intent") or obj.get("payment_intent")}
        outcome, changed = await apply_refund(s, StripeRefund.from_stripe(item), account=account, now=now)
        outcomes.append(outcome)
        view = changed or view
    if not outcomes:
        return "no_refunds_listed", None
    return ("refunded" if "refunded" in outcomes else outcomes[-1]), view
