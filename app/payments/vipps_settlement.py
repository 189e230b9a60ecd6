"""What Vipps says of a payment, applied to its request and bill card: exactly once.

Called inside the caller's write transaction, after the request's row lock
(``locked_request``); every function is idempotent, so a webhook, the poll and
a reload that race meet at the lock and the second finds the work done:

- the payment's ``(method, reference)`` and the journal's ``vipps:settle:{reference}``
  are unique (``app.billing.cards.register_vipps_payment``);
- the state machine only moves forward: a paid request stays paid, and what Vipps
  says of an attempt that is not the request's current one changes nothing.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app import audit
from app.billing import cards
from app.billing.serialisers import request_view
from app.billing.statuses import REQUEST_OPEN, REQUEST_PAID, CheckoutProblem, RequestStatus
from app.models import BillCard, Clinic, PaymentRefund, PaymentRequest
from app.payments import refund_entries as ledger
from app.receipts.numbering import issue_credit_note, issue_receipt
from integrations.vipps.protocol import Payment, PaymentState

log = logging.getLogger(__name__)

Outcome = tuple[str, dict[str, Any] | None]

# Vipps has said its last word on a payment in one of these (TERMINATED also for a reservation we released).
FINAL_STATES = (PaymentState.ABORTED, PaymentState.EXPIRED, PaymentState.TERMINATED, "CAPTURED")


async def settle_captured(s: AsyncSession, r: PaymentRequest, payment: Payment, now: datetime) -> Outcome:
    """Vipps captured the payment: register it on the card, post it, issue the receipt."""
    if r.status in REQUEST_PAID:
        return "already_settled", None
    if payment.currency != r.currency or payment.aggregate.captured != r.amount or payment.amount != r.amount:
        log.error("Vipps payment %s captured %s of %s %s for request %s of %s %s: not settled", payment.reference,
                  payment.aggregate.captured, payment.amount, payment.currency, r.id, r.amount, r.currency)
        return "amount_mismatch", None
    card = await s.get(BillCard, r.bill_card_id)
    assert card is not None
    if r.status not in REQUEST_OPEN:
        # Paid just as it was cancelled or expired: the money is real, so it counts again.
        await cards.add_request_line(s, card, r.id, r.description, r.amount, now)
    await cards.register_vipps_payment(s, card, request_id=r.id, amount=r.amount, currency=r.currency,
                                       reference=payment.reference, description=r.description, now=now)
    r.status = RequestStatus.PAID
    r.vipps_state = "CAPTURED"
    r.paid_at = r.updated_at = now
    r.vipps_psp_reference = payment.psp_reference
    r.problem = r.problem_detail = r.problem_at = None
    # Numbered in this transaction: a settlement that rolls back takes its number with it.
    await issue_receipt(s, r, now)
    return "settled", request_view(r)


async def authorised(s: AsyncSession, r: PaymentRequest, now: datetime) -> Outcome:
    """The patient approved in Vipps: the amount is reserved, the capture comes next (the request stays
    ``checkout_open``; its ``vipps.state`` says *authorised*)."""
    if r.status not in REQUEST_OPEN or r.vipps_state == PaymentState.AUTHORIZED:
        return "no_change", None
    r.status = RequestStatus.CHECKOUT_OPEN
    r.vipps_state = PaymentState.AUTHORIZED
    r.problem = r.problem_detail = r.problem_at = None
    r.updated_at = now
    return "authorized", request_view(r)


async def ended(s: AsyncSession, r: PaymentRequest, state: PaymentState, now: datetime) -> Outcome:
    """The payment ended unpaid at Vipps: say why on the request.

    Rejected (``ABORTED``): the patient said no in the app; the request can be paid
    again. ``EXPIRED``: not answered in time; the request ends as a Checkout page
    that timed out does. ``TERMINATED``: Vipps or the clinic stopped it; it failed.
    """
    if r.status not in REQUEST_OPEN:
        if r.status not in REQUEST_PAID:
            r.vipps_state = state  # the request ended first: the poll need not ask about it again
        return "stale", None
    r.vipps_state = state
    if state == PaymentState.ABORTED:
        r.status = RequestStatus.REQUESTED
        r.problem, r.problem_detail, r.problem_at = CheckoutProblem.REJECTED, None, now
        r.checkout_url = None
        r.updated_at = now
        return "rejected", request_view(r)
    if state == PaymentState.EXPIRED:
        await cards.finish_unpaid(s, r, RequestStatus.EXPIRED, "Vipps payment expired", now)
        r.problem, r.problem_detail, r.problem_at = CheckoutProblem.EXPIRED, None, now
        return "expired", request_view(r)
    await cards.finish_unpaid(s, r, RequestStatus.FAILED, "Vipps payment terminated", now)
    r.problem, r.problem_detail, r.problem_at = CheckoutProblem.FAILED, "terminated", now
    return "terminated", request_view(r)


async def released(r: PaymentRequest) -> Outcome:
    """The reservation of a request that ended unpaid was given back at Vipps: nothing more to ask."""
    if r.status not in REQUEST_OPEN and r.status not in REQUEST_PAID:
        r.vipps_state = PaymentState.TERMINATED
    return "released", None


def _status_after_refund(r: PaymentRequest) -> str:
    if r.refunded_amount <= 0:
        return RequestStatus.PAID
    return RequestStatus.REFUNDED if r.refunded_amount >= r.amount else RequestStatus.PARTIALLY_REFUNDED


async def refunded(s: AsyncSession, r: PaymentRequest, row: PaymentRefund, payment: Payment, now: datetime) -> Outcome:
    """Vipps refunded ``row``: post the reversal, raise ``refunded_amount``, issue the credit note; once."""
    if row.vipps_psp_reference or row.status == "succeeded":
        return "already_recorded", None
    if payment.aggregate.refunded < r.refunded_amount + row.amount:
        log.error("Vipps payment %s shows %s refunded, not the %s of refund %s: not posted", payment.reference,
                  payment.aggregate.refunded, r.refunded_amount + row.amount, row.id)
        return "amount_mismatch", None
    card = await s.get(BillCard, r.bill_card_id)
    clinic = await s.get(Clinic, r.clinic_id)
    assert card is not None and clinic is not None
    row.status = "succeeded"
    row.vipps_psp_reference = payment.psp_reference or row.id
    row.updated_at = now
    await ledger.post_vipps_refund(s, card, request_id=r.id, refund_id=row.id, amount=row.amount,
                                   currency=r.currency, description=r.description, now=now)
    r.refunded_amount += row.amount
    r.status = _status_after_refund(r)
    r.updated_at = now
    await issue_credit_note(s, r, row, now)
    actor_type, _, actor_id = (row.created_by or "system").partition(":")
    audit.record(
        s, organisation_id=clinic.organisation_id, clinic_id=clinic.id,
        actor_type=actor_type if actor_type in ("user", "clinician", "api") else "system",
        actor_id=actor_id or None, action="payment.refunded", subject_type="payment_request", subject_id=r.id,
        at=now, details={"refund_id": row.id, "method": "vipps", "amount": row.amount, "currency": row.currency,
                         "source": row.source, "refunded_amount": r.refunded_amount, "status": r.status},
    )
    return "refunded", request_view(r)
