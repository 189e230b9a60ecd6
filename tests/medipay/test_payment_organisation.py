"""Every payment carries its card's organisation (the settlement report sums them without a join).

Every path that writes a payment is run here — settled in the call through
Stripe, refunded from the panel, paid by card through MediPay — and then every
payment row is walked. The database itself refuses a payment without the
organisation or with another one (a foreign key on the card and organisation).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.db import alembic_config, make_engine
from app.ids import new_id
from app.keys import DB
from app.models import BillCard, Payment
from tests.consults.test_refunds import paid_request
from tests.factories import Live
from tests.medipay.conftest import Pipeline


async def _migrate(url: str, verb: str, revision: str) -> None:
    engine = make_engine(url)

    def run(connection: object) -> None:
        config = alembic_config(url)
        config.attributes["connection"] = connection
        getattr(command, verb)(config, revision)

    try:
        async with engine.begin() as conn:
            await conn.run_sync(run)
    finally:
        await engine.dispose()


async def _every_payment_carries_its_cards_organisation(live: Live) -> set[tuple[str, bool]]:
    rows = await live.rows(select(Payment.method, Payment.amount, Payment.organisation_id, BillCard.organisation_id)
                           .join(BillCard, BillCard.id == Payment.bill_card_id))
    assert rows and all(paid_org == card_org and paid_org for _, _, paid_org, card_org in rows), rows
    assert await live.ledger_balanced()
    return {(method, amount > 0) for method, amount, _, _ in rows}


async def test_payments_in_the_call_and_their_refunds_carry_the_organisation(live: Live) -> None:
    # Paid through Stripe, then part of it refunded from the clinician's panel.
    request, clinician, _ = await paid_request(live)
    ack = await clinician.call("payment:refund", {"request_id": request["id"], "amount": 10000})
    assert ack["ok"] is True, ack
    assert await _every_payment_carries_its_cards_organisation(live) == {("stripe", True), ("stripe_refund", False)}


async def test_payments_through_medipay_carry_the_organisation(pipeline: Pipeline) -> None:
    p = pipeline
    for method in ("card", "vipps"):
        card = await p.new_card()
        status, sent = await p.send(card["id"])
        assert status == 200, sent
        await p.medipay.choose(card["id"], method)
    assert await _every_payment_carries_its_cards_organisation(p.live) == {("card", True), ("vipps", True)}


@pytest.mark.parametrize("organisation", [None, "org_someone_else"])
async def test_the_database_refuses_a_payment_without_its_cards_organisation(
        pipeline: Pipeline, organisation: str | None) -> None:
    live = pipeline.live
    card = await pipeline.new_card()
    with pytest.raises(IntegrityError):
        async with live.app[DB].write() as s:
            s.add(Payment(id=new_id("pay"), bill_card_id=card["id"], organisation_id=organisation,
                          payment_request_id=None, method="manual", amount=100, currency="NOK",
                          reference=new_id("ref"), registered_at=datetime.now(UTC)))
    assert await live.rows(select(Payment.id).where(Payment.bill_card_id == card["id"])) == []


async def test_the_migration_fills_in_the_organisation_of_payments_made_before_it(pipeline: Pipeline) -> None:
    p = pipeline
    card = await p.new_card()
    await p.send(card["id"])
    await p.medipay.choose(card["id"], "card")
    url = str(p.live.settings.database_url)
    # Back to the schema before the column, its payment kept; then up again.
    await _migrate(url, "downgrade", "0010")
    await _migrate(url, "upgrade", "head")
    assert await _every_payment_carries_its_cards_organisation(p.live) == {("card", True)}
