"""A hold's webhooks in storms and out of order, and a capture whose answer was lost: settled once.

Stripe sends each event at least once, in any order, side by side; our own
call's answer may never arrive although Stripe acted. Whatever the mix, the
authorisation posts nothing and the capture posts exactly one payment and one
receipt (docs/rules.md, rules H1 and H2).
"""

from __future__ import annotations

from sqlalchemy import select

from app.keys import SERVICES
from app.models import PaymentRequest, StripeEvent
from tests.consults.test_stripe_webhooks import post_event
from tests.factories import Live
from tests.holds.support import (
    authorised_hold,
    intent_at_stripe,
    nothing_posted,
    posted_once,
    request_row,
    webhook_applied,
)


async def test_webhook_storm_authorises_and_settles_the_capture_once(live: Live) -> None:
    """Every event three times, shuffled and concurrently; then the oldest one again, after the capture."""
    await live.sandbox_control("POST", "/webhooks", {"duplicate": 3, "shuffle": True, "concurrent": True})
    consult, clinician, patient, r = await authorised_hold(live)
    outcomes = await webhook_applied(live, "checkout.session.completed")
    # Authorised by the webhook or by the return page's look-up, whichever came first; once.
    assert set(outcomes) <= {"authorised", "already_authorised"} and outcomes.count("authorised") <= 1
    await nothing_posted(live)
    assert len(clinician.named("payment:updated")) >= 1

    ack = await clinician.call("payment:capture", {"request_id": r.id, "amount": 45000})
    assert ack["ok"], ack
    settled = await webhook_applied(live, "payment_intent.succeeded")
    assert settled == ["already_settled"]
    await posted_once(live, await request_row(live, r.id), 45000)

    # The session's completion and an expiry for it arrive late, after the capture, as new events.
    log = await live.sandbox_control("GET", "/events")
    completed = next(e["event"] for e in log["events"] if e["event"]["type"] == "checkout.session.completed")
    late = {**completed, "id": completed["id"] + "_late"}
    expired = {**completed, "id": completed["id"] + "_expired", "type": "checkout.session.expired",
               "data": {"object": {**completed["data"]["object"], "status": "expired"}}}
    for event in (late, expired):
        status, _ = await post_event(live, event)
        assert status == 200
    outcomes = dict(await live.rows(select(StripeEvent.id, StripeEvent.outcome)
                                    .where(StripeEvent.id.in_([late["id"], expired["id"]]))))
    assert outcomes == {late["id"]: "already_authorised", expired["id"]: "stale"}
    after = await request_row(live, r.id)
    assert (after.status, after.amount, after.hold_amount) == ("paid", 45000, 80000)
    await posted_once(live, after, 45000)


async def test_lost_capture_answer_is_retried_with_the_same_key(live: Live) -> None:
    consult, clinician, patient, r = await authorised_hold(live)
    # Stripe's webhooks come late; Stripe captures, and every answer (the SDK's retries too) is lost.
    await live.sandbox_control("POST", "/webhooks", {"delay_ms": 1500})
    await live.sandbox_control("POST", "/fail", {"path_prefix": f"/v1/payment_intents/{r.payment_intent_id}/capture",
                                                 "mode": "drop_answer", "count": 3})
    lost = await clinician.call("payment:capture", {"request_id": r.id, "amount": 50000})
    assert lost["ok"] is False and lost["error"]["code"] == "stripe_unavailable"
    pending = await request_row(live, r.id)
    # The capture was stored before Stripe was called: its amount and its attempt (the key).
    assert (pending.status, pending.problem, pending.problem_detail) == ("authorised", "capturing", "50000")
    pi = await intent_at_stripe(live, pending)
    assert (pi["status"], pi["amount_received"]) == ("succeeded", 50000)
    await nothing_posted(live)

    # The clinician presses Capture again: the same capture, not a second one.
    again = await clinician.call("payment:capture", {"request_id": r.id, "amount": 50000})
    assert again["ok"], again
    assert (again["request"]["status"], again["request"]["amount"]) == ("paid", 50000)
    after = await request_row(live, r.id)
    assert after.checkout_attempt == pending.checkout_attempt
    await posted_once(live, after, 50000)
    # Stripe's own word arrives later and finds it settled.
    assert await webhook_applied(live, "payment_intent.succeeded") == ["already_settled"]
    await posted_once(live, after, 50000)


async def test_lost_answer_settled_by_the_webhook_first(live: Live) -> None:
    """The webhook beats the retry: it settles the capture; the retry answers what was captured."""
    consult, clinician, patient, r = await authorised_hold(live)
    await live.sandbox_control("POST", "/fail", {"path_prefix": f"/v1/payment_intents/{r.payment_intent_id}/capture",
                                                 "mode": "drop_answer", "count": 3})
    lost = await clinician.call("payment:capture", {"request_id": r.id, "amount": 30000})
    assert lost["error"]["code"] == "stripe_unavailable"
    assert await webhook_applied(live, "payment_intent.succeeded") == ["captured"]
    await clinician.wait_for("payment:received", lambda d: d["request"]["id"] == r.id)
    again = await clinician.call("payment:capture", {"request_id": r.id, "amount": 30000})
    assert again["ok"] and again["request"]["status"] == "paid"
    await posted_once(live, await request_row(live, r.id), 30000)
    assert await live.scalar(select(StripeEvent.outcome).where(StripeEvent.type == "payment_intent.succeeded")) \
        == "captured"
    assert await live.scalar(select(PaymentRequest.problem).where(PaymentRequest.id == r.id)) is None


async def test_a_capture_left_unanswered_is_finished_by_the_watch_holds_job(live: Live) -> None:
    """Nobody presses Capture again (the clinician left, the host's server went down): the job sends it."""
    consult, clinician, patient, r = await authorised_hold(live)
    await live.sandbox_control("POST", "/webhooks", {"delay_ms": 1500})
    await live.sandbox_control("POST", "/fail", {"path_prefix": f"/v1/payment_intents/{r.payment_intent_id}/capture",
                                                 "mode": "drop_answer", "count": 3})
    status, body = await live.api("POST", f"/api/v1/payment-requests/{r.id}/capture", {"amount": 40000})
    assert status == 503 and body["error"]["code"] == "stripe_unavailable"
    assert (await request_row(live, r.id)).problem == "capturing"
    # The job resends the stored capture (same amount, same key) and settles Stripe's answer.
    assert await live.app[SERVICES].job("watch-holds")() == 1
    after = await request_row(live, r.id)
    assert (after.status, after.amount) == ("paid", 40000)
    await posted_once(live, after, 40000)
    assert await live.app[SERVICES].job("watch-holds")() == 0
    assert await webhook_applied(live, "payment_intent.succeeded") == ["already_settled"]
    pi = await intent_at_stripe(live, after)
    assert (pi["status"], pi["amount_received"]) == ("succeeded", 40000)
