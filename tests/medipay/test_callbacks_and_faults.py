"""Callbacks arriving twice, late, out of order, forged or never; MediPay down for hours."""

from __future__ import annotations

import json
import random
import time

import pytest
from sqlalchemy import func, select

from app.models import LedgerTransaction, MediPayEvent, Payment
from integrations.medipay.protocol import sign
from tests.medipay.conftest import Pipeline


async def _history(p: Pipeline, card_id: str) -> tuple:
    card = await p.card(card_id)
    txns = await p.live.scalar(select(func.count()).select_from(LedgerTransaction)
                               .where(LedgerTransaction.bill_card_id == card_id))
    return card["status"], card["medipay"]["state"], len(card["payments"]), txns


async def test_duplicate_and_out_of_order_callbacks_change_nothing_twice(pipeline: Pipeline) -> None:
    p = pipeline
    card = await p.new_card()
    await p.send(card["id"])
    await p.later(hours=48)  # reminder, then the invoice
    await p.medipay.pay_invoice(card["id"])
    assert len(p.medipay.events) == 3
    before = await _history(p, card["id"])
    assert before == ("invoice_paid", "invoice_paid", 1, 1)

    replay = [e for e in p.medipay.events for _ in range(3)]
    random.Random(7).shuffle(replay)
    outcomes = set()
    for body, header in replay:
        status, answer = await p.medipay.post(body, header)
        assert status == 200, answer
        outcomes.add(answer["outcome"])
    assert outcomes == {"duplicate"}
    assert await _history(p, card["id"]) == before
    assert await p.live.ledger_balanced()


async def test_late_callback_is_stale_and_ignored(pipeline: Pipeline) -> None:
    p = pipeline
    card = await p.new_card()
    await p.send(card["id"])
    p.medipay.deliver = False
    await p.later(hours=48)  # reminder (v2), invoice sent (v3): both held back
    await p.medipay.pay_invoice(card["id"])  # v4
    # The newest arrives first; the older ones, when they come, are stale.
    for body, header in reversed(p.medipay.events):
        status, answer = await p.medipay.post(body, header)
        assert status == 200
    outcomes = [json.loads(b)["type"] for b, _ in p.medipay.events]
    assert outcomes[-1] == "claim.invoice_paid"
    assert await _history(p, card["id"]) == ("invoice_paid", "invoice_paid", 1, 1)
    assert await p.live.scalar(select(func.count()).select_from(MediPayEvent)) == 3


async def test_forged_tampered_and_stale_callbacks_are_refused(pipeline: Pipeline) -> None:
    p = pipeline
    card = await p.new_card()
    await p.send(card["id"])
    p.medipay.deliver = False
    await p.medipay.choose(card["id"], "card")
    body, header = p.medipay.events[-1]
    forged = sign(body, "not-the-secret", int(time.time()))
    tampered = body.replace('"amount": 45000', '"amount": 1')
    stale = sign(body, p.medipay.secret, int(time.time()) - 3600)
    for data, sig in ((body, forged), (tampered, header), (body, stale), (body, ""), ("{", header)):
        async with p.live.http.post(f"{p.live.url}/webhooks/medipay", data=data.encode(),
                                    headers={"MediPay-Signature": sig} if sig else {}) as resp:
            assert resp.status == 400
            assert (await resp.json())["error"]["code"]
    assert await p.live.scalar(select(func.count()).select_from(MediPayEvent)) == 0
    assert await p.status(card["id"]) == "open_exported"
    # A signed body that is not a MediPay event is a clean 400 too.
    odd = json.dumps({"id": "evt_x", "type": "claim.exploded", "claim": {"id": card["id"]}})
    async with p.live.http.post(f"{p.live.url}/webhooks/medipay", data=odd.encode(),
                                headers={"MediPay-Signature": sign(odd, p.medipay.secret, int(time.time()))}) as r:
        assert r.status == 400
    status, answer = await p.medipay.post(body, header)
    assert status == 200 and answer["outcome"] == "applied"
    assert await p.status(card["id"]) == "paid"


async def test_missed_callbacks_are_caught_by_sync(pipeline: Pipeline) -> None:
    p = pipeline
    first, second = await p.new_card(), await p.new_card()
    await p.send(first["id"])
    await p.send(second["id"])
    p.medipay.deliver = False
    await p.medipay.choose(first["id"], "vipps")
    await p.later(hours=48)
    assert await p.status(first["id"]) == "open_exported"
    assert await p.sync() == 2
    assert await p.status(first["id"]) == "paid"
    assert await p.status(second["id"]) == "invoice_exported"
    assert await p.sync() == 0  # nothing changed since
    # The callbacks, when they finally come, change nothing.
    for body, header in p.medipay.events:
        await p.medipay.post(body, header)
    assert await p.live.scalar(select(func.count()).select_from(Payment)) == 1
    assert await p.live.ledger_balanced()


async def test_medipay_down_for_hours_then_back(pipeline: Pipeline) -> None:
    """R7: retried with back-off under the same claim id; one claim and one SMS per card."""
    p = pipeline
    cards = [await p.new_card() for _ in range(3)]
    await p.later(hours=1)
    p.medipay.fail_before = 10**6
    tries = 0
    for _ in range(40):  # about six hours of a worker looking every ten minutes
        await p.export_queue()
        await p.later(minutes=10)
        tries += 1
    rows = [row for c in cards for row in await p.exports(c["id"])]
    assert all(r.status == "pending" and r.last_error for r in rows)
    attempts = max(r.attempts for r in rows)
    assert 5 <= attempts < tries  # backing off, not hammering
    assert [await p.status(c["id"]) for c in cards] == ["open"] * 3

    p.medipay.fail_before = 0
    await p.later(hours=1)
    assert await p.export_queue() == 3
    assert [await p.status(c["id"]) for c in cards] == ["open_exported"] * 3
    assert sorted(p.medipay.claims) == sorted(c["id"] for c in cards)
    assert len(p.medipay.sms) == 3
    assert set(p.medipay.puts) == {c["id"] for c in cards}


async def test_timeout_after_medipay_committed_is_retried_without_a_second_claim(pipeline: Pipeline) -> None:
    p = pipeline
    card = await p.new_card()
    p.medipay.fail_after = 1  # MediPay stores the claim, then the answer is lost
    status, body = await p.send(card["id"])
    assert status == 200 and body["status"] == "open"
    [row] = await p.exports(card["id"])
    assert row.status == "pending" and row.attempts == 1
    await p.later(minutes=2)
    assert await p.export_queue() == 1
    assert await p.status(card["id"]) == "open_exported"
    assert p.medipay.puts == [card["id"], card["id"]]
    assert len(p.medipay.claims) == 1 and len(p.medipay.sms) == 1


async def test_card_corrected_after_a_lost_answer_takes_medipays_claim(pipeline: Pipeline) -> None:
    """The same claim id with another body is a conflict: the card takes the claim MediPay already has."""
    p = pipeline
    card = await p.new_card()
    p.medipay.fail_after = 1
    await p.send(card["id"])
    status, _ = await p.live.api("PATCH", f"/api/v1/bill-cards/{card['id']}",
                                 {"patient": {"email": "new@example.no"}})
    assert status == 200
    await p.later(minutes=2)
    assert await p.export_queue() == 1
    after = await p.card(card["id"])
    assert after["status"] == "open_exported" and after["medipay"]["exported_patient_share"] == 45000
    assert len(p.medipay.sms) == 1


@pytest.mark.parametrize("way", ["plain", "general"])
async def test_one_card_failing_to_record_does_not_hold_back_the_others(pipeline: Pipeline, monkeypatch,
                                                                       way: str) -> None:
    # Each way a card's answer is recorded (export_answers): as plain rows, or as an object through apply_claim.
    from app.collection import export_answers as medipay_export
    p = pipeline
    cards = [await p.new_card() for _ in range(4)]
    broken = cards[1]["id"]
    if way == "plain":
        real_plain = medipay_export._exported

        def flaky_plain(s, o, card, now):  # type: ignore[no-untyped-def]
            if card.id == broken:
                raise RuntimeError("the disk is full for this one card")
            return real_plain(s, o, card, now)

        monkeypatch.setattr(medipay_export, "_exported", flaky_plain)
    else:
        monkeypatch.setattr(medipay_export, "plain", lambda o, card: False)
    real = medipay_export.apply_claim

    async def flaky(s, card, claim, now, *, source):  # type: ignore[no-untyped-def]
        if card.id == broken:
            raise RuntimeError("the disk is full for this one card")
        return await real(s, card, claim, now, source=source)

    monkeypatch.setattr(medipay_export, "apply_claim", flaky)
    await p.later(hours=1)
    assert await p.export_queue() == 4
    statuses = [await p.status(c["id"]) for c in cards]
    assert statuses == ["open_exported", "open", "open_exported", "open_exported"]
    [row] = await p.exports(broken)
    assert row.status == "sending"  # leased: taken again when the lease runs out
    monkeypatch.setattr(medipay_export, "apply_claim", real)
    if way == "plain":
        monkeypatch.setattr(medipay_export, "_exported", real_plain)
    await p.later(minutes=3)
    assert await p.export_queue() == 1
    assert await p.status(broken) == "open_exported"
    assert sorted(p.medipay.claims) == sorted(c["id"] for c in cards) and len(p.medipay.sms) == 4
