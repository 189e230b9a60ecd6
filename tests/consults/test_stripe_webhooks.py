"""Signed webhooks: verified on the raw body, applied once, in any order, concurrently."""

from __future__ import annotations

import asyncio
import json
import time

from sqlalchemy import func, select

from app.models import LedgerTransaction, Payment, PaymentRequest, StripeEvent
from tests.factories import Live, sign

SECRET = "whsec_test_secret"


def completed_event(event_id: str, request: dict, session_id: str, *, account: str | None,
                    event_type: str = "checkout.session.completed", status: str = "complete",
                    payment_status: str = "paid", amount: int | None = None) -> dict:
    return {
        "id": event_id,
        "object": "event",
        "type": event_type,
        "account": account,
        "created": int(time.time()),
        "data": {
            "object": {
                "id": session_id,
                "object": "checkout.session",
                "status": status,
                "payment_status": payment_status,
                "amount_total": request["amount"] if amount is None else amount,
                "currency": request["currency"].lower(),
                "payment_intent": "pi_test_" + session_id[-8:],
                "client_reference_id": request["id"],
                "metadata": {"payment_request_id": request["id"]},
                "expires_at": int(time.time()) + 1800,
            }
        },
    }


async def post_event(live: Live, event: dict, *, secret: str = SECRET, timestamp: int | None = None,
                     tamper: bool = False) -> tuple[int, dict]:
    payload = json.dumps(event)
    header = sign(payload, secret, timestamp)
    if tamper:
        payload = payload.replace('"amount_total": ', '"amount_total": 1')
    return await live.api("POST", "/webhooks/stripe", raw=payload.encode(),
                          headers={"Stripe-Signature": header, "Content-Type": "application/json"})


async def open_request(live: Live) -> tuple[dict, str, object]:
    _, clinician, patient = await live.call_pair()
    request = (await clinician.call("payment:request", {"amount": 45000, "description": "Consultation"}))["request"]
    await patient.call("payment:checkout", {"request_id": request["id"]})
    row = await live.scalar(select(PaymentRequest).where(PaymentRequest.id == request["id"]))
    return request, row.checkout_session_id, clinician


async def counts(live: Live) -> tuple[int, int]:
    return (await live.scalar(select(func.count()).select_from(Payment)),
            await live.scalar(select(func.count()).select_from(LedgerTransaction)))


async def test_duplicates_concurrent_and_shuffled_settle_once(live: Live) -> None:
    request, session_id, clinician = await open_request(live)
    account = live.demo and (await live.scalar(select(PaymentRequest.stripe_account_id)))
    completed = completed_event("evt_dup_1", request, session_id, account=account)
    async_ok = completed_event("evt_dup_2", request, session_id, account=account,
                               event_type="checkout.session.async_payment_succeeded")
    expired_late = completed_event("evt_dup_3", request, session_id, account=account,
                                   event_type="checkout.session.expired", status="expired", payment_status="unpaid")
    deliveries = [completed] * 3 + [async_ok] * 2 + [expired_late] * 2
    results = await asyncio.gather(*(post_event(live, e) for e in reversed(deliveries)))
    assert all(status == 200 for status, _ in results), results

    assert await counts(live) == (1, 1)
    row = await live.scalar(select(PaymentRequest).where(PaymentRequest.id == request["id"]))
    assert row.status == "paid"
    recorded = await live.rows(select(StripeEvent.id).where(StripeEvent.id.like("evt_dup_%")))
    assert sorted(r[0] for r in recorded) == ["evt_dup_1", "evt_dup_2", "evt_dup_3"]
    assert await live.ledger_balanced()
    await clinician.wait_for("payment:received")
    assert len(clinician.named("payment:received")) == 1


async def test_forged_tampered_and_stale_signatures_are_refused(live: Live) -> None:
    request, session_id, _ = await open_request(live)
    account = await live.scalar(select(PaymentRequest.stripe_account_id))
    event = completed_event("evt_forged", request, session_id, account=account)

    assert (await post_event(live, event, secret="whsec_wrong"))[0] == 400
    assert (await post_event(live, event, tamper=True))[0] == 400
    assert (await post_event(live, event, timestamp=int(time.time()) - 301))[0] == 400
    status, body = await live.api("POST", "/webhooks/stripe", raw=json.dumps(event).encode(), headers={})
    assert status == 400 and body["error"]["code"] == "bad_signature"
    status, _ = await live.api("POST", "/webhooks/stripe", raw=b"\xff\xfe not json",
                               headers={"Stripe-Signature": sign("x", SECRET)})
    assert status == 400

    assert await counts(live) == (0, 0)
    assert await live.scalar(select(StripeEvent.id).where(StripeEvent.id == "evt_forged")) is None
    row = await live.scalar(select(PaymentRequest).where(PaymentRequest.id == request["id"]))
    assert row.status == "checkout_open"


async def test_wrong_amount_or_account_is_not_settled(live: Live) -> None:
    request, session_id, _ = await open_request(live)
    account = await live.scalar(select(PaymentRequest.stripe_account_id))
    status, body = await post_event(live, completed_event("evt_amt", request, session_id, account=account, amount=1))
    assert status == 200 and body["outcome"] == "amount_mismatch"
    status, body = await post_event(live, completed_event("evt_acct", request, session_id, account="acct_other"))
    assert status == 200 and body["outcome"] == "wrong_account"
    assert await counts(live) == (0, 0)


async def test_sandbox_storm_settles_once(live: Live) -> None:
    """The sandbox delivers every event three times, shuffled and concurrently, as Stripe may."""
    await live.sandbox_control("POST", "/webhooks", {"duplicate": 3, "shuffle": True, "concurrent": True})
    _, clinician, patient = await live.call_pair()
    ids = []
    for n in range(3):
        request = (await clinician.call("payment:request", {"amount": 10000 + n, "description": f"Item {n}"}))
        ids.append(request["request"]["id"])
        url = (await patient.call("payment:checkout", {"request_id": ids[-1]}))["url"]
        await live.pay_on_hosted_page(url)
    for _ in range(100):
        if len(clinician.named("payment:received")) >= 3:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)  # let the duplicates land too
    assert len(clinician.named("payment:received")) == 3
    assert await counts(live) == (3, 3)
    assert await live.ledger_balanced()
    paid = await live.scalar(select(func.sum(Payment.amount)))
    assert paid == 10000 + 10001 + 10002
