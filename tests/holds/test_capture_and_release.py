"""A card hold after the patient authorised it: captured smaller, released, refused — against the sandbox.

In accounting terms: the authorisation of 800 kr posts nothing (it is not
revenue); capturing 500 kr is one payment of 500 kr (receivable/revenue, then
clearing/receivable) with its receipt, and Stripe releases the other 300 kr.
"""

from __future__ import annotations

from sqlalchemy import select

from app.models import AuditEvent, BillCard, BillCardLine, Payment, StripeEvent
from tests.factories import Live
from tests.holds.support import (
    authorised_hold,
    intent_at_stripe,
    nothing_posted,
    posted_once,
    request_row,
    webhook_applied,
)


async def test_authorised_hold_is_off_the_ledger(live: Live) -> None:
    consult, clinician, patient, r = await authorised_hold(live)
    assert r.status == "authorised" and r.hold_amount == 80000 and r.authorised_at and r.capture_before
    assert r.paid_at is None and r.receipt_reference is None
    # Stripe's word: the PaymentIntent waits for a capture, the whole hold capturable.
    pi = await intent_at_stripe(live, r)
    assert pi["status"] == "requires_capture" and pi["amount_capturable"] == 80000
    assert r.capture_before.timestamp() > r.authorised_at.timestamp() + 6 * 86400
    await nothing_posted(live)
    card = await live.scalar(select(BillCard).where(BillCard.id == r.bill_card_id))
    assert card.patient_share == 0
    assert await live.rows(select(BillCardLine.id).where(BillCardLine.voided_at.is_(None))) == []
    # The patient's panel is told too, and the REST view says the same.
    await patient.wait_for("payment:updated", lambda d: d["request"]["status"] == "authorised")
    status, got = await live.api("GET", f"/api/v1/payment-requests/{r.id}")
    assert status == 200 and got["status"] == "authorised" and got["kind"] == "hold"
    assert got["hold_amount"] == 80000 and got["capture_before"]


async def test_capture_smaller_posts_the_capture_and_releases_the_rest(live: Live) -> None:
    consult, clinician, patient, r = await authorised_hold(live)
    ack = await clinician.call("payment:capture", {"request_id": r.id, "amount": 50000})
    assert ack["ok"], ack
    done = ack["request"]
    assert (done["status"], done["amount"], done["hold_amount"]) == ("paid", 50000, 80000)
    assert done["receipt"]["number"] and done["problem"] is None
    await clinician.wait_for("payment:received", lambda d: d["request"]["id"] == r.id)
    await patient.wait_for("payment:updated", lambda d: d["request"]["status"] == "paid")

    # Stripe took 500 kr and released the rest of the authorisation.
    r = await request_row(live, r.id)
    pi = await intent_at_stripe(live, r)
    assert (pi["status"], pi["amount_received"], pi["amount_capturable"]) == ("succeeded", 50000, 0)
    # Stripe's own payment_intent.succeeded races our answer: it finds the capture settled.
    assert await webhook_applied(live, "payment_intent.succeeded") == ["already_settled"]
    await posted_once(live, r, 50000)
    lines = await live.rows(select(BillCardLine.description, BillCardLine.patient_amount)
                            .where(BillCardLine.payment_request_id == r.id, BillCardLine.voided_at.is_(None)))
    assert lines == [("Consultation, up to", 50000)]
    card = await live.scalar(select(BillCard).where(BillCard.id == r.bill_card_id))
    assert (card.patient_share, card.status) == (50000, "paid")

    # The receipt shows the capture as its own line.
    assert live.http
    async with live.http.get(done["receipt"]["url"] + "?lang=en") as resp:
        page = await resp.text()
    assert "Card hold captured" in page and "500.00" in page.replace("\u00a0", " ").replace(",", ".")
    # Capturing again is refused; the same capture again is the same answer.
    again = await clinician.call("payment:capture", {"request_id": r.id, "amount": 30000})
    assert again["ok"] is False and again["error"]["code"] == "not_capturable"
    same = await clinician.call("payment:capture", {"request_id": r.id, "amount": 50000})
    assert same["ok"] and same["request"]["status"] == "paid"
    await posted_once(live, r, 50000)
    actions = [a for (a,) in await live.rows(select(AuditEvent.action).where(AuditEvent.subject_id == r.id))]
    assert "payment.capture_requested" in actions and "payment.hold_captured" in actions


async def test_release_cancels_at_stripe_and_posts_nothing(live: Live) -> None:
    consult, clinician, patient, r = await authorised_hold(live)
    ack = await clinician.call("payment:release", {"request_id": r.id})
    assert ack["ok"], ack
    assert ack["request"]["status"] == "released"
    await patient.wait_for("payment:updated", lambda d: d["request"]["status"] == "released")
    pi = await intent_at_stripe(live, await request_row(live, r.id))
    assert pi["status"] == "canceled" and pi["amount_received"] == 0
    # Stripe's payment_intent.canceled finds it released already.
    assert await webhook_applied(live, "payment_intent.canceled") == ["stale"]
    assert (await request_row(live, r.id)).status == "released"
    await nothing_posted(live)
    # Nothing left to capture or release.
    capture = await clinician.call("payment:capture", {"request_id": r.id, "amount": 10000})
    assert capture["error"]["code"] == "not_capturable"
    release = await clinician.call("payment:release", {"request_id": r.id})
    assert release["error"]["code"] == "not_releasable"


async def test_capture_over_the_hold_or_bad_input_is_refused_and_changes_nothing(live: Live) -> None:
    consult, clinician, patient, r = await authorised_hold(live)
    over = await clinician.call("payment:capture", {"request_id": r.id, "amount": 80001})
    assert over["ok"] is False and over["error"]["code"] == "amount_above_hold"
    assert "800" in over["error"]["message"] and over["error"]["field"] == "amount"
    small = await clinician.call("payment:capture", {"request_id": r.id, "amount": 100})
    assert small["error"]["code"] == "amount_too_small"
    for bad in ({"request_id": r.id, "amount": 0}, {"request_id": r.id, "amount": "5000"}, {"request_id": r.id},
                {"request_id": r.id, "amount": 5000, "extra": 1}, {"amount": 5000}):
        refused = await clinician.call("payment:capture", bad)
        assert refused["ok"] is False and refused["error"]["code"], bad
    # The patient cannot capture; another consult's request is unknown.
    denied = await patient.call("payment:capture", {"request_id": r.id, "amount": 5000})
    assert denied["error"]["code"] == "forbidden_role"
    _, other, _ = await live.call_pair()
    unknown = await other.call("payment:capture", {"request_id": r.id, "amount": 5000})
    assert unknown["error"]["code"] == "request_not_found"
    after = await request_row(live, r.id)
    assert (after.status, after.amount, after.problem, after.checkout_attempt) == (
        "authorised", r.amount, None, r.checkout_attempt)
    pi = await intent_at_stripe(live, after)
    assert pi["status"] == "requires_capture"
    await nothing_posted(live)


async def test_capture_refused_by_stripe_stays_authorised(live: Live) -> None:
    consult, clinician, patient, r = await authorised_hold(live)
    await live.sandbox_control("POST", "/fail", {"path_prefix": f"/v1/payment_intents/{r.payment_intent_id}/capture",
                                                 "mode": "error", "error": "card_declined", "count": 1})
    ack = await clinician.call("payment:capture", {"request_id": r.id, "amount": 50000})
    assert ack["ok"] is False and ack["error"]["code"] == "capture_refused"
    assert "declined" in ack["error"]["message"]
    told = await clinician.wait_for("payment:updated", lambda d: d["request"]["problem"]
                                    and d["request"]["problem"]["code"] == "capture_refused")
    assert told["request"]["status"] == "authorised"
    after = await request_row(live, r.id)
    assert after.status == "authorised" and after.problem == "capture_refused"
    await nothing_posted(live)
    # Once Stripe takes it, the hold is captured as usual.
    ack = await clinician.call("payment:capture", {"request_id": r.id, "amount": 50000})
    assert ack["ok"], ack
    await posted_once(live, await request_row(live, r.id), 50000)


async def test_host_captures_and_releases_over_rest_after_the_call(live: Live) -> None:
    first, _, _, held = await authorised_hold(live)
    second, _, _, other = await authorised_hold(live)
    for consult in (first, second):
        status, _ = await live.api("POST", f"/api/v1/consults/{consult['id']}/end")
        assert status == 200
    # Bad bodies, then the capture with the host's own words.
    status, body = await live.api("POST", f"/api/v1/payment-requests/{held.id}/capture", {"amount": -1})
    assert status == 422 and body["error"]["code"] == "invalid_amount"
    status, body = await live.api("POST", f"/api/v1/payment-requests/{held.id}/capture", {"amount": 90000})
    assert status == 422 and body["error"]["code"] == "amount_above_hold"
    status, body = await live.api("POST", f"/api/v1/payment-requests/{held.id}/capture",
                                  {"amount": 62000, "description": "Consultation and blood test"})
    assert status == 200, body
    assert (body["status"], body["amount"], body["description"]) == ("paid", 62000, "Consultation and blood test")
    await posted_once(live, await request_row(live, held.id), 62000)
    # Another organisation's key does not find it.
    status, _ = await live.api("POST", f"/api/v1/payment-requests/{held.id}/release",
                               headers={"Authorization": "Bearer cp_test_not_a_key"})
    assert status == 401
    status, body = await live.api("POST", f"/api/v1/payment-requests/{other.id}/release")
    assert status == 200 and body["status"] == "released"
    pi = await intent_at_stripe(live, await request_row(live, other.id))
    assert pi["status"] == "canceled"
    status, body = await live.api("POST", f"/api/v1/payment-requests/{other.id}/release")
    assert status == 409 and body["error"]["code"] == "not_releasable"
    assert await live.rows(select(Payment.amount)) == [(62000,)]
    assert await live.scalar(select(StripeEvent.id).where(StripeEvent.outcome == "amount_mismatch")) is None
