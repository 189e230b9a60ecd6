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


async def test_run_many_sends_one_statement_for_many_rows_with_their_conversions(live: Live) -> None:
    from datetime import timedelta, timezone

    from sqlalchemy import bindparam, event

    from app.ready import Ready, in_session

    request, _, _ = await open_request(live)
    async with live.app[DB].read() as s:
        card_id = (await s.get(PaymentRequest, request["id"])).bill_card_id
    table = BillCard.__table__
    stamp = Ready(table.update().where(table.c.id == bindparam("card_id"))
                  .values(next_retry_at=bindparam("retry"), medipay_message=None))
    oslo = datetime(2030, 1, 31, 13, 0, tzinfo=timezone(timedelta(hours=1)))
    heard: list[bool] = []

    def listen(conn, cursor, sql, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        heard.append(executemany)

    engine = live.app[DB].engine.sync_engine
    event.listen(engine, "before_cursor_execute", listen)
    try:
        async with live.app[DB].write() as s:
            await in_session(s, stamp.run_many, [])  # nothing to send: no statement
            await in_session(s, stamp.run_many, [{"card_id": card_id, "retry": oslo},
                                                 {"card_id": "bc_none", "retry": oslo}])
    finally:
        event.remove(engine, "before_cursor_execute", listen)
    assert heard == [True]
    async with live.app[DB].read() as s:
        card = await s.get(BillCard, card_id)
    assert card.next_retry_at == oslo and card.next_retry_at.utcoffset() == timedelta(0)  # stored as UTC
