"""Vipps held to exactly-once as Stripe is (tests/consults/test_stripe_webhooks.py): signed webhooks sent
concurrently, duplicated, shuffled and late, the poll racing them, and the sandbox's own storm
(the same on PostgreSQL, where concurrency is real: ``test_vipps_on_postgres``).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from typing import Any

from sqlalchemy import func, select

from app.keys import DB, PAYMENTS, SERVICES, VIPPS
from app.ledger import journal
from app.models import LedgerLeg, LedgerTransaction, Payment, PaymentRequest, Receipt
from integrations.vipps.protocol import VippsKeys
from integrations.vipps.sandbox.webhooks import signed_headers
from tests.factories import Live
from tests.vipps_app.support import control, eventually, phone_answer, take_vipps


async def chosen(live: Live, amount: int = 45000, description: str = "Consultation"):  # type: ignore[no-untyped-def]
    """The clinician asks for ``amount``, the patient chooses Vipps: (clinician, patient, request, reference)."""
    _, clinician, patient = await live.call_pair()
    ack = await clinician.call("payment:request", {"amount": amount, "description": description})
    assert ack["ok"], ack
    pay = await patient.call("payment:vipps", {"request_id": ack["request"]["id"]})
    assert pay["ok"], pay
    return clinician, patient, ack["request"], pay["vipps"]["reference"]


def event(msn: str, reference: str, name: str, value: int, *, psp: str = "psp-test") -> dict[str, Any]:
    """An ePayment webhook body, as Vipps sends it."""
    return {"msn": msn, "reference": reference, "pspReference": psp, "name": name,
            "amount": {"currency": "NOK", "value": value}, "timestamp": "2026-12-03T10:00:00Z",
            "idempotencyKey": None, "success": True}


async def post_signed(live: Live, body: dict[str, Any], secret: str) -> tuple[int, dict[str, Any]]:
    """``body`` POSTed to /webhooks/vipps signed with the merchant's webhook secret, as Vipps signs it."""
    raw = json.dumps(body).encode()
    url = f"{live.url}/webhooks/vipps"
    return await live.api("POST", "/webhooks/vipps", raw=raw, headers=signed_headers(secret, url, raw, time.time()))


async def captures_at_vipps(live: Live, keys: VippsKeys, reference: str) -> list[str]:
    """The CAPTURED entries of the payment's event log at Vipps."""
    log = await live.app[VIPPS].payment_events(keys, reference)
    return [e.name for e in log if e.name == "CAPTURED"]


async def settled_once(live: Live, request_id: str, amount: int) -> None:
    """One payment, one balanced ledger transaction, one receipt for the request; the request paid."""
    assert await live.scalar(select(func.count(Payment.id)).where(Payment.payment_request_id == request_id)) == 1
    assert await live.rows(select(Payment.method, Payment.amount)
                           .where(Payment.payment_request_id == request_id)) == [("vipps", amount)]
    assert await live.scalar(select(func.count(Receipt.id)).where(Receipt.payment_request_id == request_id)) == 1
    assert (await live.scalar(select(PaymentRequest.status).where(PaymentRequest.id == request_id))) == "paid"
    assert await live.ledger_balanced()


async def test_signed_webhooks_concurrent_shuffled_and_late_with_the_poll_settle_once(live: Live) -> None:
    keys = await take_vipps(live)
    # The sandbox's own deliveries are held back: what reaches /webhooks/vipps here is ours.
    await control(live, "POST", "/webhooks", {"fail_next": 100_000})
    clinician, _, request, reference = await chosen(live)
    await phone_answer(live, "approve")
    secret = await live.app[SERVICES].vipps_payments.webhook_secret(keys.merchant_serial_number)
    assert secret

    msn, amount = keys.merchant_serial_number, request["amount"]
    deliveries = ([event(msn, reference, "AUTHORIZED", amount)] * 4 + [event(msn, reference, "CAPTURED", amount)] * 4
                  + [event(msn, reference, "CREATED", amount)] * 2)  # CREATED arriving late, after the others
    random.Random(15).shuffle(deliveries)
    vipps = live.app[SERVICES].vipps_payments
    results = await asyncio.gather(*(post_signed(live, d, secret) for d in deliveries), vipps.poll(),
                                   live.app[PAYMENTS].expire_due(), vipps.sync(request["id"]))
    posted = results[:len(deliveries)]
    assert all(status == 200 for status, _ in posted), posted
    # At most one of them settled it (the poll, whose outcome is not returned, may have been the one).
    outcomes = [body["outcome"] for _, body in posted] + [results[-1]]
    assert outcomes.count("settled") <= 1, outcomes

    # One capture at Vipps, for the whole amount.
    assert await captures_at_vipps(live, keys, reference) == ["CAPTURED"]
    mine = [p for p in (await control(live, "GET", "/payments"))["payments"] if p["reference"] == reference]
    assert mine[0]["aggregate"]["captured"] == amount
    await settled_once(live, request["id"], amount)
    assert await live.scalar(select(func.count(LedgerTransaction.id))) == 1
    async with live.app[DB].read() as s:
        balances = await journal.balances(s, live.demo["clinic_id"])
    assert balances[("vipps_clearing", "NOK")] == amount
    await clinician.wait_for("payment:received", timeout=10)

    # Late duplicates after the settlement change nothing.
    late = await asyncio.gather(*(post_signed(live, event(msn, reference, name, amount), secret)
                                  for name in ("CAPTURED", "AUTHORIZED", "CREATED")), vipps.poll())
    assert [status for status, _ in late[:3]] == [200, 200, 200]
    assert {body["outcome"] for _, body in late[:3]} <= {"already_settled", "stale", "waiting", "no_change"}
    await settled_once(live, request["id"], amount)
    assert await captures_at_vipps(live, keys, reference) == ["CAPTURED"]
    await asyncio.sleep(0.2)
    assert len(clinician.named("payment:received")) == 1


async def test_sandbox_storm_settles_once(live: Live) -> None:
    """The sandbox sends each event three times, some held back and overtaken, for three payments paid
    one after the other while the poll runs."""
    keys = await take_vipps(live)
    await control(live, "POST", "/webhooks", {"duplicate": 3, "late_next": 4, "late_seconds": 0.4})
    _, clinician, patient = await live.call_pair()
    vipps = live.app[SERVICES].vipps_payments
    references: dict[str, str] = {}
    for n in range(3):
        ack = await clinician.call("payment:request", {"amount": 10000 + n, "description": f"Item {n}"})
        assert ack["ok"], ack
        pay = await patient.call("payment:vipps", {"request_id": ack["request"]["id"]})
        assert pay["ok"], pay
        references[ack["request"]["id"]] = pay["vipps"]["reference"]
        await asyncio.gather(phone_answer(live, "approve"), vipps.poll())

    async def all_received():  # type: ignore[no-untyped-def]
        return len(clinician.named("payment:received")) >= 3

    await eventually(all_received, timeout=15)

    async def all_delivered():  # type: ignore[no-untyped-def]
        log = (await control(live, "GET", "/webhooks"))["deliveries"]
        # CREATED, AUTHORIZED and CAPTURED of each payment, three times each, every copy answered 2xx.
        return len(log) >= 3 * 3 * 3 and all(d["status"] == "succeeded" for d in log)

    await eventually(all_delivered, timeout=20)
    assert len(clinician.named("payment:received")) == 3
    for request_id, reference in references.items():
        assert await captures_at_vipps(live, keys, reference) == ["CAPTURED"]
        amount = await live.scalar(select(PaymentRequest.amount).where(PaymentRequest.id == request_id))
        await settled_once(live, request_id, amount)
    assert await live.scalar(select(func.count(LedgerTransaction.id))) == 3
    assert await live.scalar(select(func.sum(Payment.amount))) == 10000 + 10001 + 10002
    assert await live.scalar(select(func.count(LedgerLeg.id))) >= 6


async def test_webhooks_for_many_payments_arriving_while_the_database_is_busy_each_settle_once(live: Live) -> None:
    """Three approved payments, their AUTHORIZED and CAPTURED webhooks twice each, all arriving while a
    write transaction holds the database: none is acknowledged before its settlement is committed, and
    each payment is settled once."""
    keys = await take_vipps(live)
    await control(live, "POST", "/webhooks", {"fail_next": 100_000})
    secret = await live.app[SERVICES].vipps_payments.webhook_secret(keys.merchant_serial_number)
    assert secret
    _, clinician, patient = await live.call_pair()
    requests: dict[str, str] = {}
    for n in range(3):
        ack = await clinician.call("payment:request", {"amount": 20000 + n, "description": f"Item {n}"})
        pay = await patient.call("payment:vipps", {"request_id": ack["request"]["id"]})
        assert pay["ok"], pay
        requests[ack["request"]["id"]] = pay["vipps"]["reference"]
        await phone_answer(live, "approve")
    deliveries = [event(keys.merchant_serial_number, reference, name, 0)
                  for reference in requests.values() for name in ("AUTHORIZED", "CAPTURED") * 2]
    random.Random(3).shuffle(deliveries)

    db = live.app[DB]
    async with db.write() as s:
        # SQLite has one writer, so holding a write transaction is enough; PostgreSQL lets other writers
        # through, so the requests' rows are locked too, as a settlement locks them.
        await s.execute(select(PaymentRequest.id).where(PaymentRequest.id.in_(list(requests))).with_for_update())
        posts = [asyncio.create_task(post_signed(live, d, secret)) for d in deliveries]
        await asyncio.sleep(0.5)
        assert not any(p.done() for p in posts), "nothing may be acknowledged while its write waits"
    results = await asyncio.gather(*posts)
    assert all(status == 200 for status, _ in results), results
    for (request_id, reference), amount in zip(requests.items(), (20000, 20001, 20002), strict=True):
        assert await captures_at_vipps(live, keys, reference) == ["CAPTURED"]
        await settled_once(live, request_id, amount)
    assert await live.scalar(select(func.count(LedgerTransaction.id))) == 3
    await asyncio.sleep(0.2)
    assert len(clinician.named("payment:received")) == 3
