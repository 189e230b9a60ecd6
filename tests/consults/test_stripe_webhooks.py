"""Signed webhooks: verified on the raw body, applied once, in any order, concurrently."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter

import pytest
from sqlalchemy import event, func, insert, select

from app.keys import DB
from app.models import LedgerTransaction, Payment, PaymentRequest, StripeEvent
from app.payments import stripe_events
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
        "livemode": False,
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


async def test_webhooks_arriving_together_commit_together_and_each_settles_once(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Signed webhooks queued behind a busy write lock are applied in one transaction, once each.

    Five paid sessions, each delivered twice, a second event for one of them,
    one paid for the wrong amount, one whose handling fails after writing, and
    one forged. On SQLite a test transaction holds the write lock until every
    signed delivery waits for the next transaction, so all of them share it;
    on PostgreSQL each is its own transaction and they race instead. Either
    way every delivery is answered as it should be, and only what belongs in
    the ledger is there.
    """
    async def explodes(s, obj, account, now):  # type: ignore[no-untyped-def]
        await s.execute(insert(StripeEvent), {"id": "evt_written_then_failed", "type": "x", "account": None,
                                              "outcome": "x", "received_at": now})
        raise RuntimeError("a handler failed half-way")

    monkeypatch.setitem(stripe_events.HANDLERS, "test.explodes", explodes)
    opened = [await open_request(live) for _ in range(6)]
    account = await live.scalar(select(PaymentRequest.stripe_account_id))
    paid, unpaid = opened[:5], opened[5]
    deliveries: list[tuple[str, dict, dict]] = []  # (whose, event, how to post)
    for n, (request, session_id, _) in enumerate(paid):
        deliveries += [(request["id"], completed_event(f"evt_batch_{n}", request, session_id, account=account), {})] * 2
    first, first_session, _ = paid[0]
    deliveries.append((first["id"], completed_event("evt_batch_async", first, first_session, account=account,
                                                    event_type="checkout.session.async_payment_succeeded"), {}))
    deliveries.append((unpaid[0]["id"], completed_event("evt_batch_amount", unpaid[0], unpaid[1], account=account,
                                                        amount=1), {}))
    deliveries.append(("failing", completed_event("evt_batch_explodes", unpaid[0], unpaid[1], account=account,
                                                  event_type="test.explodes"), {}))
    deliveries.append(("forged", completed_event("evt_batch_forged", unpaid[0], unpaid[1], account=account),
                       {"secret": "whsec_wrong"}))
    signed = len(deliveries) - 1

    db = live.app[DB]
    commits: list[object] = []

    def committed(conn: object) -> None:
        commits.append(conn)

    event.listen(db.engine.sync_engine, "commit", committed)
    try:
        async with db.write():
            posts = [asyncio.create_task(post_event(live, e, **how)) for _, e, how in deliveries]
            if db.is_sqlite:
                for _ in range(200):
                    if db.group.waiting == signed:
                        break
                    await asyncio.sleep(0.02)
                assert db.group.waiting == signed, "every signed delivery should wait for the next transaction"
                assert not any(p.done() for (whom, _, _), p in zip(deliveries, posts, strict=True)
                               if whom != "forged"), "nothing may be acknowledged before its commit"
        commits.clear()
        results = await asyncio.gather(*posts)
    finally:
        event.remove(db.engine.sync_engine, "commit", committed)
    if db.is_sqlite:
        assert len(commits) == 1, "the waiting deliveries should be committed in one transaction"

    by_whom: dict[str, Counter[str]] = {}
    for (whom, _, _), (status, body) in zip(deliveries, results, strict=True):
        by_whom.setdefault(whom, Counter())[f"{status} {body.get('outcome', body.get('error', {}).get('code'))}"] += 1
    for request, _, _ in paid:
        outcomes = by_whom[request["id"]]
        assert outcomes["200 settled"] == 1, outcomes
        assert sum(outcomes.values()) == outcomes["200 settled"] + outcomes["200 duplicate"] \
            + outcomes["200 already_settled"], outcomes
    assert by_whom[unpaid[0]["id"]] == Counter({"200 amount_mismatch": 1})
    assert by_whom["failing"] == Counter({"500 internal_error": 1})
    assert by_whom["forged"] == Counter({"400 bad_signature": 1})

    assert await counts(live) == (5, 5)
    statuses = dict(await live.rows(select(PaymentRequest.id, PaymentRequest.status)))
    assert all(statuses[request["id"]] == "paid" for request, _, _ in paid)
    assert statuses[unpaid[0]["id"]] == "checkout_open"
    assert await live.ledger_balanced()
    recorded = {r[0] for r in await live.rows(select(StripeEvent.id).where(StripeEvent.id.like("evt_batch_%")))}
    # The failing one is not recorded, so Stripe's retry will apply it; what it wrote was rolled back.
    assert recorded == {*(f"evt_batch_{n}" for n in range(5)), "evt_batch_async", "evt_batch_amount"}
    assert await live.scalar(select(StripeEvent.id).where(StripeEvent.id == "evt_written_then_failed")) is None
    for _, _, clinician in paid:
        await clinician.wait_for("payment:received")
        assert len(clinician.named("payment:received")) == 1
