"""Pressing Pay again after a lost answer: the same session, never a 24-hour lock.

Stripe keeps an idempotency key's result for 24 hours and refuses the key with
other parameters. So every attempt's parameters are stored before Stripe is
called and sent again unchanged; a key Stripe will not take moves to the next
attempt by itself. The ledger in accounting terms: one payment of 450.00 is
one debit of stripe_clearing and one credit of patient_revenue, whatever the
number of clicks.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from app.clock import ManualClock
from app.keys import DB
from app.ledger import journal
from app.models import LedgerTransaction, Payment, PaymentRequest
from tests.factories import Live


async def _sessions(live: Live, account: str) -> list[dict[str, Any]]:
    """The Checkout Sessions Stripe holds on the clinic's account, as its API lists them."""
    assert live.http
    headers = {"Authorization": f"Bearer {live.settings.stripe_key}", "Stripe-Account": account}
    async with live.http.get(f"{live.sandbox}/v1/checkout/sessions", headers=headers) as resp:
        assert resp.status == 200
        return (await resp.json())["data"]


async def _settled_once(live: Live, request_id: str, amount: int) -> None:
    assert await live.scalar(select(PaymentRequest.status).where(PaymentRequest.id == request_id)) == "paid"
    assert await live.rows(select(Payment.amount, Payment.method)) == [(amount, "stripe")]
    async with live.app[DB].read() as s:
        balances = await journal.balances(s, live.demo["clinic_id"])
    assert balances[("stripe_clearing", "NOK")] == amount
    assert balances[("patient_revenue", "NOK")] == -amount
    assert await live.ledger_balanced()


async def test_lost_answer_then_pay_again_gets_the_same_session(clocked: tuple[Live, ManualClock]) -> None:
    live, clock = clocked
    _, clinician, patient = await live.call_pair()
    request = (await clinician.call("payment:request", {"amount": 45000, "description": "Consultation"}))["request"]
    # Stripe makes the session, and every answer (the SDK's retries too) is lost on the way back.
    await live.sandbox_control("POST", "/fail", {"path_prefix": "/v1/checkout/sessions", "method": "POST",
                                                 "mode": "drop_answer", "count": 3})
    lost = await patient.call("payment:checkout", {"request_id": request["id"]})
    assert lost["ok"] is False and lost["error"]["code"] == "checkout_failed"
    account = await live.scalar(select(PaymentRequest.stripe_account_id))
    [made] = await _sessions(live, account)

    # A minute later the patient presses Pay again: the session Stripe made, not an error.
    clock.advance(minutes=1)
    again = await patient.call("payment:checkout", {"request_id": request["id"]})
    assert again["ok"], again
    assert again["url"] == made["url"]
    assert [s["id"] for s in await _sessions(live, account)] == [made["id"]]
    await clinician.wait_for("payment:updated", lambda d: d["request"]["status"] == "checkout_open")
    assert await live.scalar(select(PaymentRequest.checkout_session_id)) == made["id"]

    status, final_url, _ = await live.pay_on_hosted_page(again["url"])
    assert status == 200 and final_url.startswith(live.url + "/checkout/return")
    await clinician.wait_for("payment:received")
    await _settled_once(live, request["id"], 45000)
    # Pressing Pay after paying changes nothing.
    paid = await patient.call("payment:checkout", {"request_id": request["id"]})
    assert paid["error"]["code"] == "already_paid"
    assert await live.scalar(select(func.count()).select_from(LedgerTransaction)) >= 1
    await _settled_once(live, request["id"], 45000)


async def test_the_attempt_is_stored_before_stripe_is_called(clocked: tuple[Live, ManualClock]) -> None:
    live, clock = clocked
    _, clinician, patient = await live.call_pair()
    request = (await clinician.call("payment:request", {"amount": 45000, "description": "Consultation"}))["request"]
    await live.sandbox_control("POST", "/fail", {"path_prefix": "/v1/checkout/sessions", "mode": "disconnect",
                                                 "count": 3})
    lost = await patient.call("payment:checkout", {"request_id": request["id"]})
    assert lost["error"]["code"] == "checkout_failed"
    row = await live.scalar(select(PaymentRequest))
    assert row.checkout_attempt == 1 and row.checkout_session_id is None
    assert row.checkout_expires_at is not None and row.checkout_expires_at > clock.now()
    stored = row.checkout_expires_at
    clock.advance(seconds=20)
    again = await patient.call("payment:checkout", {"request_id": request["id"]})
    assert again["ok"], again
    row = await live.scalar(select(PaymentRequest))
    # The same attempt, sent with the same expires_at: what Stripe made is what was stored.
    assert row.checkout_attempt == 1 and row.checkout_expires_at == stored
    [made] = await _sessions(live, row.stripe_account_id)
    assert made["expires_at"] == int(stored.timestamp())
    assert made["metadata"]["checkout_attempt"] == "1"


async def test_a_key_stripe_refuses_moves_to_the_next_attempt(clocked: tuple[Live, ManualClock]) -> None:
    """The key was used with other parameters (e.g. by an older release): a new attempt, not a lock."""
    live, _ = clocked
    _, clinician, patient = await live.call_pair()
    request = (await clinician.call("payment:request", {"amount": 45000, "description": "Consultation"}))["request"]
    account = await live.scalar(select(PaymentRequest.stripe_account_id))
    assert live.http
    headers = {"Authorization": f"Bearer {live.settings.stripe_key}", "Stripe-Account": account,
               "Idempotency-Key": f"consultpay:{request['id']}:checkout:1"}
    form = {"mode": "payment", "line_items[0][quantity]": "1", "line_items[0][price_data][currency]": "nok",
            "line_items[0][price_data][unit_amount]": "45000",
            "line_items[0][price_data][product_data][name]": "Consultation",
            "success_url": "https://example.org/ok", "metadata[payment_request_id]": request["id"]}
    async with live.http.post(f"{live.sandbox}/v1/checkout/sessions", data=form, headers=headers) as resp:
        assert resp.status == 200
        old = await resp.json()

    ack = await patient.call("payment:checkout", {"request_id": request["id"]})
    assert ack["ok"], ack
    row = await live.scalar(select(PaymentRequest))
    assert row.checkout_attempt == 2 and ack["url"] != old["url"]
    await live.pay_on_hosted_page(ack["url"])
    await clinician.wait_for("payment:received")
    await _settled_once(live, request["id"], 45000)


async def test_a_stored_attempt_too_close_to_its_expiry_moves_on(clocked: tuple[Live, ManualClock]) -> None:
    """Stripe never saw the attempt and its expires_at is now under 30 minutes away: a fresh one."""
    live, clock = clocked
    _, clinician, patient = await live.call_pair()
    request = (await clinician.call("payment:request", {"amount": 45000, "description": "Consultation"}))["request"]
    await live.sandbox_control("POST", "/fail", {"path_prefix": "/v1/checkout/sessions", "mode": "disconnect",
                                                 "count": 3})
    assert (await patient.call("payment:checkout", {"request_id": request["id"]}))["error"]["code"] == "checkout_failed"
    first = (await live.scalar(select(PaymentRequest))).checkout_expires_at
    clock.advance(minutes=5)
    await live.sandbox_control("POST", "/clock/advance", {"seconds": 300})
    ack = await patient.call("payment:checkout", {"request_id": request["id"]})
    assert ack["ok"], ack
    row = await live.scalar(select(PaymentRequest))
    assert row.checkout_attempt == 2 and row.checkout_expires_at > first
    assert len(await _sessions(live, row.stripe_account_id)) == 1


async def test_cancel_after_a_lost_answer_closes_the_session_stripe_made(clocked: tuple[Live, ManualClock]) -> None:
    live, _ = clocked
    _, clinician, patient = await live.call_pair()
    request = (await clinician.call("payment:request", {"amount": 45000, "description": "Consultation"}))["request"]
    await live.sandbox_control("POST", "/fail", {"path_prefix": "/v1/checkout/sessions", "method": "POST",
                                                 "mode": "drop_answer", "count": 3})
    assert (await patient.call("payment:checkout", {"request_id": request["id"]}))["error"]["code"] == "checkout_failed"
    account = await live.scalar(select(PaymentRequest.stripe_account_id))
    [made] = await _sessions(live, account)

    ack = await clinician.call("payment:cancel", {"request_id": request["id"]})
    assert ack["ok"] and ack["request"]["status"] == "cancelled"
    # The session the patient never saw is closed at Stripe too: the link cannot be paid.
    assert [s["status"] for s in await _sessions(live, account)] == ["expired"]
    await live.pay_on_hosted_page(made["url"])
    assert await live.scalar(select(func.count()).select_from(Payment)) == 0
    assert await live.scalar(select(PaymentRequest.status)) == "cancelled"
    assert await live.ledger_balanced()
