"""A card on file: saved in the waiting room (nothing posted), charged off-session once over Socket.IO
or REST, a decline owed on the bill card, bad input refused with nothing written (docs/rules.md, H6)."""

from __future__ import annotations

from sqlalchemy import func, select

from app.models import AuditEvent, BillCard, BillCardLine, MediPayExport, PaymentRequest, StripeEvent
from tests.cards_on_file.support import (
    DECLINED_LATER,
    NEEDS_AUTHENTICATION,
    charged_once,
    nothing_posted,
    saved_card,
)
from tests.factories import Live
from tests.holds.support import request_row, webhook_applied


async def test_a_saved_card_is_charged_in_the_call_once(live: Live) -> None:
    consult, clinician, patient, r = await saved_card(live)
    # Saved, not paid: only Stripe ids are kept, and nothing reaches the ledger or the bill card.
    assert r.stripe_customer_id.startswith("cus_") and r.payment_method_id.startswith("pm_")
    assert r.setup_intent_id.startswith("seti_") and r.payment_intent_id is None
    await nothing_posted(live)
    card = await live.scalar(select(BillCard).where(BillCard.id == r.bill_card_id))
    assert card.patient_share == 0
    assert await webhook_applied(live, "checkout.session.completed") in (["card_saved"], ["already_saved"])
    _, got = await live.api("GET", f"/api/v1/consults/{consult['id']}")
    assert got["patients"][0]["gate"]["status"] == "card_saved" and got["patients"][0]["gate"]["saved_at"]

    ack = await clinician.call("payment:charge_saved", {"request_id": r.id, "amount": 52000})
    assert ack["ok"], ack
    assert (ack["request"]["status"], ack["request"]["amount"]) == ("paid", 52000)
    told = await patient.wait_for("patient:gate", lambda d: d["gate"]["status"] == "charged")
    assert told["gate"]["amount"] == 52000
    after = await request_row(live, r.id)
    assert after.payment_intent_id.startswith("pi_") and after.problem is None
    await charged_once(live, after, 52000)
    # Stripe's own word arrives after our answer and finds it settled; the same charge asked again is
    # answered as it stands, without a second charge.
    assert await webhook_applied(live, "payment_intent.succeeded") == ["already_settled"]
    again = await clinician.call("payment:charge_saved", {"request_id": r.id, "amount": 52000})
    assert again["ok"] and again["request"]["status"] == "paid"
    other = await clinician.call("payment:charge_saved", {"request_id": r.id, "amount": 1000})
    assert other["error"]["code"] == "not_chargeable"
    await charged_once(live, await request_row(live, r.id), 52000)


async def test_the_host_charges_after_the_call_over_rest(live: Live) -> None:
    consult, clinician, patient, r = await saved_card(live)
    status, ended = await live.api("POST", f"/api/v1/consults/{consult['id']}/end")
    assert status == 200 and ended["patients"][0]["gate"]["status"] == "card_saved"
    # Saved cards do not end with the call: nothing owed, nothing queued for MediPay.
    assert await live.rows(select(MediPayExport.id)) == []
    status, body = await live.api("POST", f"/api/v1/payment-requests/{r.id}/charge",
                                  {"amount": 61000, "description": "Consultation, 40 minutes"})
    assert status == 200, body
    assert (body["status"], body["amount"], body["description"]) == ("paid", 61000, "Consultation, 40 minutes")
    await charged_once(live, await request_row(live, r.id), 61000)
    # The receipt says how it was paid.
    assert live.http
    async with live.http.get(body["receipt"]["url"]) as resp:
        assert resp.status == 200 and "Saved card charged" in await resp.text()
    actions = [a for (a,) in await live.rows(select(AuditEvent.action).where(AuditEvent.subject_id == r.id))]
    assert "payment.charge_requested" in actions and "payment.card_charged" in actions


async def test_a_charge_needing_authentication_is_owed_on_the_bill_card(live: Live) -> None:
    consult, clinician, patient, r = await saved_card(live, NEEDS_AUTHENTICATION)
    ack = await clinician.call("payment:charge_saved", {"request_id": r.id, "amount": 45000})
    assert ack["ok"] is False and ack["error"]["code"] == "charge_declined"
    # The clinician reads why, in words, at once.
    problem = await clinician.wait_for("payment:problem", lambda d: d["request_id"] == r.id)
    assert "authentication" in problem["message"] and "owed on the bill card" in problem["message"]
    told = await clinician.wait_for("payment:updated", lambda d: d["request"]["problem"] is not None
                                    and d["request"]["problem"]["code"] == "charge_declined")
    assert told["request"]["problem"]["detail"] == "authentication_required"
    after = await request_row(live, r.id)
    assert (after.status, after.amount, after.problem) == ("card_saved", 45000, "charge_declined")
    await nothing_posted(live)
    # Owed as an amount not paid in the call: a line on the bill card, sent to MediPay when the call ends.
    card = await live.scalar(select(BillCard).where(BillCard.id == r.bill_card_id))
    assert (card.patient_share, card.status) == (45000, "under_work")
    status, _ = await live.api("POST", f"/api/v1/consults/{consult['id']}/end")
    assert status == 200
    card = await live.scalar(select(BillCard).where(BillCard.id == r.bill_card_id))
    assert card.status == "open"
    assert await live.rows(select(MediPayExport.trigger).where(MediPayExport.bill_card_id == card.id)) \
        == [("hourly",)]
    # Not charged again: the amount is owed on the card now.
    status, body = await live.api("POST", f"/api/v1/payment-requests/{r.id}/charge", {"amount": 45000})
    assert status == 409 and body["error"]["code"] == "charge_declined"
    assert await webhook_applied(live, "payment_intent.payment_failed") == ["stale"]
    await nothing_posted(live)


async def test_a_declined_charge_after_the_call_joins_the_hourly_transfer(live: Live) -> None:
    consult, clinician, patient, r = await saved_card(live, DECLINED_LATER)
    status, _ = await live.api("POST", f"/api/v1/consults/{consult['id']}/end")
    assert status == 200
    status, body = await live.api("POST", f"/api/v1/payment-requests/{r.id}/charge", {"amount": 30000})
    assert status == 409 and body["error"]["code"] == "charge_declined"
    card = await live.scalar(select(BillCard).where(BillCard.id == r.bill_card_id))
    assert (card.patient_share, card.status) == (30000, "open")
    assert await live.rows(select(MediPayExport.trigger).where(MediPayExport.bill_card_id == card.id)) \
        == [("hourly",)]
    row = await request_row(live, r.id)
    assert (row.problem_detail, row.onward) == ("generic_decline", "medipay_queue")
    await nothing_posted(live)


async def test_bad_charges_are_refused_and_write_nothing(live: Live) -> None:
    consult, clinician, patient, r = await saved_card(live)
    before = await live.scalar(select(func.count()).select_from(AuditEvent))
    for body, code in (({"amount": 0}, "invalid_field"), ({"amount": "50"}, "invalid_field"),
                       ({"amount": 100}, "amount_too_small"), ({}, "missing_field")):
        status, answer = await live.api("POST", f"/api/v1/payment-requests/{r.id}/charge", body)
        assert 400 <= status < 500 and answer["error"]["code"] in (code, "invalid_amount", "amount_too_small",
                                                                   "invalid_field", "missing_field"), answer
    status, answer = await live.api("POST", "/api/v1/payment-requests/pr_nothere/charge", {"amount": 50000})
    assert status == 404
    # The patient may not charge their own card; a request that is no card on file is not charged.
    ack = await patient.call("payment:charge_saved", {"request_id": r.id, "amount": 50000})
    assert ack["ok"] is False
    made = await clinician.call("payment:request", {"amount": 45000, "description": "Extra"})
    ack = await clinician.call("payment:charge_saved", {"request_id": made["request"]["id"], "amount": 45000})
    assert ack["error"]["code"] == "not_chargeable"
    after = await request_row(live, r.id)
    assert (after.status, after.problem, after.checkout_attempt) == ("card_saved", None, r.checkout_attempt)
    assert await live.scalar(select(func.count()).select_from(AuditEvent)) == before + 1  # the extra request
    await nothing_posted(live)
    assert await live.scalar(select(func.count()).select_from(StripeEvent).where(
        StripeEvent.type.like("payment_intent.%"))) == 0
    lines = await live.rows(select(BillCardLine.payment_request_id).where(BillCardLine.voided_at.is_(None)))
    assert lines == [(made["request"]["id"],)]
    assert await live.scalar(select(PaymentRequest.status).where(PaymentRequest.id == r.id)) == "card_saved"
