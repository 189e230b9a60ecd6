"""The call's payment requests, when their bill card goes on to MediPay: the patient is asked by SMS instead.

*Send to payment* on a card still *under work* takes over the requests the
patient has not started paying (a checkout already open may be being paid this
minute, so that card waits), and a request that ended unpaid may be put back on
the card to be sent (``reinstate``). Each such request ends, or stays ended,
with ``onward`` = ``medipay_sms``: both panels then say where the amount went
(the patient: *sent to you by SMS*) rather than *Cancelled* (docs/rules.md,
rule P13). Called inside the sender's write transaction, so a refusal later in
it undoes all of this.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.billing.cards import finish_unpaid, reinstate_request_line
from app.billing.statuses import REQUEST_ENDED_UNPAID, REQUEST_OPEN, Onward, RequestStatus
from app.errors import Conflict
from app.models import BillCard, PaymentRequest


async def reinstate(s: AsyncSession, card: BillCard, request_id: str, now: datetime) -> PaymentRequest | None:
    """Put an ended-unpaid request's amount back on ``card`` to be sent; the request, if it was one."""
    await reinstate_request_line(s, card, request_id, now)
    r = await s.scalar(select(PaymentRequest).where(
        PaymentRequest.id == request_id, PaymentRequest.bill_card_id == card.id))
    if r is None or r.status not in REQUEST_ENDED_UNPAID:
        return None
    r.onward = Onward.MEDIPAY_SMS
    r.updated_at = now
    return r


async def take_over(s: AsyncSession, card: BillCard, now: datetime) -> list[PaymentRequest]:
    """The card's open requests now go through MediPay: the patient cannot also pay them in the call."""
    requests = (await s.scalars(select(PaymentRequest).where(
        PaymentRequest.bill_card_id == card.id, PaymentRequest.status.in_(REQUEST_OPEN)).with_for_update())).all()
    if any(r.status == RequestStatus.CHECKOUT_OPEN for r in requests):
        raise Conflict("checkout_open", "The patient has the payment page open; wait for it to finish.")
    for r in requests:
        await finish_unpaid(s, r, RequestStatus.CANCELLED, "sent to MediPay", now, keep_line=True)
        r.onward = Onward.MEDIPAY_SMS
    return list(requests)
