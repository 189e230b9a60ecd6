"""The ready-built statements of a settlement still see what the transaction added but has not flushed."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from app.billing import cards
from app.ids import new_id
from app.keys import DB
from app.models import BillCard, Payment, PaymentRequest
from tests.consults.test_stripe_webhooks import open_request
from tests.factories import Live


async def test_paid_total_and_reference_guard_see_a_pending_payment(live: Live) -> None:
    request, _, _ = await open_request(live)
    now = datetime.now(UTC)
    async with live.app[DB].write() as s:
        r = await s.get(PaymentRequest, request["id"])
        card = await s.get(BillCard, r.bill_card_id)
        s.add(Payment(id=new_id("pay"), bill_card_id=card.id, organisation_id=card.organisation_id,
                      payment_request_id=r.id, method="stripe",
                      amount=12_500, currency=card.currency, reference="cs_pending", registered_at=now))
        assert await cards.paid_total(s, card.id) == 12_500
        # A Stripe payment for the same session, still unflushed, is not registered twice.
        assert not await cards.register_stripe_payment(
            s, card, request_id=r.id, amount=12_500, currency=card.currency, reference="cs_pending",
            description="Consultation", now=now)
    assert len(await live.rows(select(Payment.id).where(Payment.reference == "cs_pending"))) == 1
