"""A card hold authorised the way a patient does it: the waiting room's Checkout, through the sandbox."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from app.keys import DB
from app.ledger import journal
from app.models import LedgerTransaction, Payment, PaymentRequest, Receipt, StripeEvent
from tests.factories import Live, Peer
from tests.polling import eventually

HOLD = {"kind": "hold", "amount": 80000, "description": "Consultation, up to"}


async def authorised_hold(live: Live, **policy: Any) -> tuple[dict[str, Any], Peer, Peer, PaymentRequest]:
    """A consult whose patient authorised a hold of 800 kr in the waiting room; the clinician is told."""
    consult = await live.consult(payment_policy={**HOLD, **policy})
    gate = consult["patients"][0]["gate"]
    clinician = await live.peer(consult["clinician"]["token"])
    await clinician.wait_for("consult:state")
    patient = await live.peer(consult["patients"][0]["token"])
    await patient.wait_for("consult:state")
    ack = await patient.call("payment:checkout", {"request_id": gate["request_id"]})
    assert ack["ok"], ack
    status, final_url, page = await live.pay_on_hosted_page(ack["url"])
    assert status == 200 and final_url.startswith(live.url + "/checkout/return")
    # Back from Stripe, the patient reads that the card is authorised, not that a payment was taken.
    assert 'data-outcome="authorised"' in page
    told = await clinician.wait_for("payment:updated", lambda d: d["request"]["status"] == "authorised")
    assert told["request"]["hold_amount"] == 80000 and told["request"]["authorised_at"]
    return consult, clinician, patient, await request_row(live, gate["request_id"])


async def request_row(live: Live, request_id: str) -> PaymentRequest:
    r = await live.scalar(select(PaymentRequest).where(PaymentRequest.id == request_id))
    assert r is not None
    return r


async def intent_at_stripe(live: Live, r: PaymentRequest) -> dict[str, Any]:
    """The hold's PaymentIntent as Stripe's API gives it on the clinic's account."""
    assert live.http and r.payment_intent_id
    headers = {"Authorization": f"Bearer {live.settings.stripe_key}", "Stripe-Account": r.stripe_account_id or ""}
    async with live.http.get(f"{live.sandbox}/v1/payment_intents/{r.payment_intent_id}", headers=headers) as resp:
        assert resp.status == 200
        return await resp.json()  # type: ignore[no-any-return]


async def nothing_posted(live: Live) -> None:
    """An authorisation is not revenue: no payment, no journal entry, no receipt."""
    assert await live.rows(select(Payment.id)) == []
    assert await live.scalar(select(func.count()).select_from(LedgerTransaction)) == 0
    assert await live.rows(select(Receipt.id)) == []


async def posted_once(live: Live, r: PaymentRequest, amount: int, receipt_method: str = "card_hold") -> None:
    """One payment of ``amount`` for the hold (or a saved card: ``receipt_method`` "card_on_file"),
    its balanced journal entry, and one receipt."""
    payments = await live.rows(select(Payment.amount, Payment.method).where(Payment.payment_request_id == r.id))
    assert payments == [(amount, "stripe")]
    async with live.app[DB].read() as s:
        balances = await journal.balances(s, live.demo["clinic_id"])
    assert balances[("patient_revenue", "NOK")] == -amount
    assert balances[("stripe_clearing", "NOK")] + balances.get(("platform_fees", "NOK"), 0) == amount
    assert balances[("patient_receivable", "NOK")] == 0
    assert await live.ledger_balanced()
    receipts = await live.rows(select(Receipt.amount, Receipt.method).where(Receipt.payment_request_id == r.id))
    assert receipts == [(amount, receipt_method)]


async def webhook_applied(live: Live, event_type: str, count: int = 1) -> list[str]:
    """Wait until ``count`` events of the type are recorded; their outcomes."""
    async def outcomes() -> list[str]:
        rows = await live.rows(select(StripeEvent.outcome).where(StripeEvent.type == event_type))
        return [o for (o,) in rows] if len(rows) >= count else []

    return await eventually(outcomes, timeout=10)
