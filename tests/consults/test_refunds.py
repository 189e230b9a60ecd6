"""Refunds of in-call payments: REST, the clinician's panel, and refunds made in Stripe's dashboard.

Ledger after each step, in accounting terms: a payment of 450.00 leaves
stripe_clearing at +450.00 (debit) and patient_revenue at −450.00 (credit); a
refund of 100.00 debits patient_revenue and credits stripe_clearing by 100.00.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from sqlalchemy import func, select

from app.keys import DB
from app.ledger import journal
from app.models import AuditEvent, BillCard, LedgerTransaction, Payment, PaymentRefund, PaymentRequest, StripeEvent
from tests.factories import Live, Peer


async def paid_request(live: Live, amount: int = 45000) -> tuple[dict[str, Any], Peer, Peer]:
    _, clinician, patient = await live.call_pair()
    ack = await clinician.call("payment:request", {"amount": amount, "description": "Consultation"})
    request = ack["request"]
    url = (await patient.call("payment:checkout", {"request_id": request["id"]}))["url"]
    await live.pay_on_hosted_page(url)
    await clinician.wait_for("payment:received")
    return request, clinician, patient


async def eventually(check: Callable[[], Coroutine[Any, Any, bool]], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


async def ledger(live: Live) -> tuple[int, int]:
    async with live.app[DB].read() as s:
        b = await journal.balances(s, live.demo["clinic_id"])
    assert await live.ledger_balanced()
    return b.get(("stripe_clearing", "NOK"), 0), b.get(("patient_revenue", "NOK"), 0)


async def webhooks_in(live: Live, event_type: str, n: int) -> None:
    async def arrived() -> bool:
        count = await live.scalar(select(func.count()).select_from(StripeEvent).where(StripeEvent.type == event_type))
        return count >= n

    await eventually(arrived)


async def test_partial_then_the_rest_then_nothing_more(live: Live) -> None:
    request, clinician, patient = await paid_request(live)
    path = f"/api/v1/payment-requests/{request['id']}/refunds"
    assert await ledger(live) == (45000, -45000)

    status, refund = await live.api("POST", path, {"amount": 10000})
    assert status == 201, refund
    assert refund["amount"] == 10000 and refund["currency"] == "NOK" and refund["status"] == "succeeded"
    assert refund["payment_request_id"] == request["id"] and refund["stripe_refund_id"].startswith("re_")
    assert set(refund) >= {"id", "payment_request_id", "amount", "currency", "status", "stripe_refund_id",
                           "created_at"}
    _, body = await live.api("GET", f"/api/v1/payment-requests/{request['id']}")
    assert body["status"] == "partially_refunded" and body["refunded_amount"] == 10000
    assert await ledger(live) == (35000, -35000)
    # Both the clinician and the patient hear of it.
    await clinician.wait_for("payment:updated", lambda d: d["request"]["status"] == "partially_refunded")
    await patient.wait_for("payment:updated", lambda d: d["request"]["status"] == "partially_refunded")

    # More than remains is refused, and changes nothing.
    status, body = await live.api("POST", path, {"amount": 35001})
    assert status == 409 and body["error"]["code"] == "amount_too_large"

    # Our own refund's webhooks arrive too, and count nothing twice.
    await webhooks_in(live, "refund.created", 1)
    await webhooks_in(live, "charge.refunded", 1)
    assert await ledger(live) == (35000, -35000)

    status, rest = await live.api("POST", path, {})
    assert status == 201 and rest["amount"] == 35000
    _, body = await live.api("GET", f"/api/v1/payment-requests/{request['id']}")
    assert body["status"] == "refunded" and body["refunded_amount"] == 45000
    await webhooks_in(live, "charge.refunded", 2)
    assert await ledger(live) == (0, 0)

    status, body = await live.api("POST", path, {"amount": 1})
    assert status == 409 and body["error"]["code"] == "not_refundable"

    # The card lists the refunds as negative payments; its status stays as it was.
    card = await live.scalar(select(BillCard).where(BillCard.id == request["bill_card_id"]))
    payments = await live.rows(
        select(Payment.method, Payment.amount).where(Payment.bill_card_id == card.id).order_by(Payment.registered_at)
    )
    assert sorted(payments) == sorted([("stripe", 45000), ("stripe_refund", -10000), ("stripe_refund", -35000)])
    assert card.status == "paid"
    kinds = await live.rows(select(LedgerTransaction.kind, LedgerTransaction.reference))
    assert sorted(k for k, _ in kinds) == ["in_call_payment", "in_call_refund", "in_call_refund"]
    assert all(ref.startswith("stripe:refund:re_") for k, ref in kinds if k == "in_call_refund")
    # And the audit trail says who did it.
    audits = await live.rows(
        select(AuditEvent.action, AuditEvent.actor_type).where(AuditEvent.subject_id == request["id"])
    )
    assert audits == [("payment.requested", "clinician"), ("payment.refunded", "api"), ("payment.refunded", "api")]


async def test_bad_amounts_other_organisations_and_unknown_requests(live: Live) -> None:
    request, _, _ = await paid_request(live, 20000)
    path = f"/api/v1/payment-requests/{request['id']}/refunds"
    for bad in (0, -5, "100", 1.5, True):
        status, body = await live.api("POST", path, {"amount": bad})
        assert status == 422 and body["error"]["code"] == "invalid_amount", (bad, body)
    status, body = await live.api("POST", "/api/v1/payment-requests/pr_nope/refunds", {})
    assert status == 404
    status, _ = await live.api("POST", path, {}, headers={})
    assert status == 401

    from app.keys import ORGANISATIONS

    other = await live.app[ORGANISATIONS].create("Other clinic group")
    key = await live.app[ORGANISATIONS].issue_key(other.id)
    status, body = await live.api("POST", path, {}, headers={"Authorization": f"Bearer {key}"})
    assert status == 403
    assert await live.scalar(select(func.count()).select_from(PaymentRefund)) == 0
    assert await ledger(live) == (20000, -20000)


async def test_unpaid_request_is_not_refundable(live: Live) -> None:
    _, clinician, _ = await live.call_pair()
    request = (await clinician.call("payment:request", {"amount": 10000, "description": "Consultation"}))["request"]
    status, body = await live.api("POST", f"/api/v1/payment-requests/{request['id']}/refunds", {})
    assert status == 409 and body["error"]["code"] == "not_refundable"
    ack = await clinician.call("payment:refund", {"request_id": request["id"]})
    assert not ack["ok"] and ack["error"]["code"] == "not_refundable"


async def test_in_the_call_and_the_patient_cannot(live: Live) -> None:
    request, clinician, patient = await paid_request(live)

    ack = await patient.call("payment:refund", {"request_id": request["id"], "amount": 100})
    assert not ack["ok"] and ack["error"]["code"] == "forbidden_role"

    ack = await clinician.call("payment:refund", {"request_id": request["id"], "amount": "lots"})
    assert not ack["ok"] and ack["error"]["code"] == "invalid_amount"
    ack = await clinician.call("payment:refund", {"request_id": "pr_other"})
    assert not ack["ok"] and ack["error"]["code"] == "request_not_found"

    ack = await clinician.call("payment:refund", {"request_id": request["id"], "amount": 5000})
    assert ack["ok"], ack
    assert ack["refund"]["amount"] == 5000 and ack["refund"]["status"] == "succeeded"
    assert ack["request"]["status"] == "partially_refunded" and ack["request"]["refunded_amount"] == 5000
    await patient.wait_for("payment:updated", lambda d: d["request"]["refunded_amount"] == 5000)
    assert await ledger(live) == (40000, -40000)

    ack = await clinician.call("payment:refund", {"request_id": request["id"]})
    assert ack["ok"] and ack["refund"]["amount"] == 40000 and ack["request"]["status"] == "refunded"
    assert await ledger(live) == (0, 0)
    audits = await live.rows(select(AuditEvent.actor_type, AuditEvent.actor_id).where(
        AuditEvent.action == "payment.refunded"))
    assert audits == [("clinician", "u-1"), ("clinician", "u-1")]


async def test_a_double_click_refunds_once(live: Live) -> None:
    request, clinician, _ = await paid_request(live)
    path = f"/api/v1/payment-requests/{request['id']}/refunds"
    headers = {**live.headers, "Idempotency-Key": "click-1"}
    results = await asyncio.gather(*(live.api("POST", path, {"amount": 10000}, headers=headers) for _ in range(4)))
    assert {status for status, _ in results} == {201}, results
    assert len({body["id"] for _, body in results}) == 1
    # A retry after the fact, even asking for something else, is still that one refund.
    status, again = await live.api("POST", path, {"amount": 20000}, headers=headers)
    assert status == 201 and again["id"] == results[0][1]["id"] and again["amount"] == 10000

    acks = await asyncio.gather(*(
        clinician.call("payment:refund", {"request_id": request["id"], "amount": 5000, "idempotency_key": "k2"})
        for _ in range(3)
    ))
    assert all(a["ok"] for a in acks), acks
    assert len({a["refund"]["id"] for a in acks}) == 1

    await webhooks_in(live, "charge.refunded", 2)
    assert await live.scalar(select(func.count()).select_from(PaymentRefund)) == 2
    row = await live.scalar(select(PaymentRequest).where(PaymentRequest.id == request["id"]))
    assert row.refunded_amount == 15000
    assert await ledger(live) == (30000, -30000)


async def dashboard_refund(live: Live, request_id: str, amount: int | None) -> dict[str, Any]:
    """A refund made at Stripe directly (its dashboard), not through ConsultPay."""
    row = await live.scalar(select(PaymentRequest).where(PaymentRequest.id == request_id))
    assert live.http
    data = {"payment_intent": row.payment_intent_id}
    if amount is not None:
        data["amount"] = str(amount)
    async with live.http.post(
        f"{live.sandbox}/v1/refunds",
        data=data,
        headers={"Authorization": f"Bearer {live.settings.stripe_key}", "Stripe-Account": row.stripe_account_id},
    ) as resp:
        body = await resp.json()
        assert resp.status == 200, body
        return body


async def test_refund_made_in_stripes_dashboard_reconciles_once(live: Live) -> None:
    request, clinician, _ = await paid_request(live)
    made = await dashboard_refund(live, request["id"], 12000)

    async def recorded() -> bool:
        row = await live.scalar(select(PaymentRequest).where(PaymentRequest.id == request["id"]))
        return row.refunded_amount == 12000

    await eventually(recorded)
    await webhooks_in(live, "charge.refunded", 1)
    await webhooks_in(live, "refund.created", 1)
    rows = await live.rows(
        select(PaymentRefund.stripe_refund_id, PaymentRefund.source, PaymentRefund.amount, PaymentRefund.status)
    )
    assert rows == [(made["id"], "stripe", 12000, "succeeded")]
    assert await ledger(live) == (33000, -33000)
    await clinician.wait_for("payment:updated", lambda d: d["request"]["status"] == "partially_refunded")
    audits = await live.rows(select(AuditEvent.action, AuditEvent.actor_type).where(
        AuditEvent.subject_id == request["id"]))
    assert audits == [("payment.requested", "clinician"), ("payment.refunded", "stripe")]

    # What remains can still be refunded from ConsultPay.
    status, body = await live.api("POST", f"/api/v1/payment-requests/{request['id']}/refunds", {"amount": 33001})
    assert status == 409 and body["error"]["code"] == "amount_too_large"
    status, body = await live.api("POST", f"/api/v1/payment-requests/{request['id']}/refunds", {})
    assert status == 201 and body["amount"] == 33000
    assert await ledger(live) == (0, 0)


async def test_dashboard_refunds_under_a_webhook_storm(live: Live) -> None:
    await live.sandbox_control("POST", "/webhooks", {"duplicate": 3, "concurrent": True, "shuffle": True})
    request, _, _ = await paid_request(live)
    await dashboard_refund(live, request["id"], 5000)
    await dashboard_refund(live, request["id"], 7000)
    # And one of ours in between the storm.
    status, _ = await live.api("POST", f"/api/v1/payment-requests/{request['id']}/refunds", {"amount": 3000})
    assert status == 201

    async def settled() -> bool:
        count = await live.scalar(select(func.count()).select_from(StripeEvent).where(
            StripeEvent.type.in_(["charge.refunded", "refund.created"])))
        return count >= 6

    await eventually(settled, timeout=10)
    await asyncio.sleep(0.5)  # let the duplicate copies land too
    row = await live.scalar(select(PaymentRequest).where(PaymentRequest.id == request["id"]))
    assert row.refunded_amount == 15000 and row.status == "partially_refunded"
    assert await live.scalar(select(func.count()).select_from(PaymentRefund)) == 3
    refunds = await live.rows(select(Payment.amount).where(Payment.method == "stripe_refund"))
    assert sorted(a for (a,) in refunds) == [-7000, -5000, -3000]
    assert await ledger(live) == (30000, -30000)
