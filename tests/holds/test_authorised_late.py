"""A card authorised after its request ended is released at Stripe, once (docs/rules.md, rule H3).

The request ends while the patient's Checkout page is still payable at Stripe
(the cancel or the end committed as the patient pressed Authorise); the tests
set that state in the database, as no call of ours leaves it on purpose.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from app.keys import DB, SERVICES
from app.models import PaymentRequest, StripeEvent
from tests.consults.test_stripe_webhooks import post_event
from tests.factories import Live
from tests.holds.support import HOLD, intent_at_stripe, nothing_posted, request_row, webhook_applied
from tests.polling import eventually


async def _ended_while_payable(live: Live, status: str) -> tuple[dict[str, Any], str]:
    """A hold whose Checkout page the patient has open, its request ended meanwhile; the page's URL."""
    consult = await live.consult(payment_policy=HOLD)
    gate = consult["patients"][0]["gate"]
    patient = await live.peer(consult["patients"][0]["token"])
    await patient.wait_for("consult:state")
    ack = await patient.call("payment:checkout", {"request_id": gate["request_id"]})
    assert ack["ok"], ack
    async with live.app[DB].write() as s:
        await s.execute(update(PaymentRequest).where(PaymentRequest.id == gate["request_id"]).values(status=status))
    return gate, ack["url"]


async def _released(live: Live, request_id: str) -> PaymentRequest:
    async def released() -> PaymentRequest | None:
        r = await request_row(live, request_id)
        return r if r.status == "released" else None

    return await eventually(released)  # type: ignore[no-any-return]


async def test_hold_authorised_after_its_request_was_cancelled_is_released(live: Live) -> None:
    gate, url = await _ended_while_payable(live, "cancelled")
    # The patient authorises their card: Stripe holds 800 kr for a request nobody will capture.
    status, final_url, _ = await live.pay_on_hosted_page(url)
    assert status == 200 and final_url.startswith(live.url + "/checkout/return")

    # Released at Stripe, recorded released, whichever of the webhook and the return page came first.
    outcomes = await webhook_applied(live, "checkout.session.completed")
    assert outcomes in (["authorised_late"], ["already_authorised"])
    r = await _released(live, gate["request_id"])
    assert (r.status, r.problem, r.hold_amount) == ("released", "authorised_late", 80000)
    pi = await intent_at_stripe(live, r)
    assert (pi["status"], pi["amount_received"]) == ("canceled", 0)
    assert await webhook_applied(live, "payment_intent.canceled") == ["stale"]
    await nothing_posted(live)

    # Once: the same word again, late, or the job change nothing.
    log = await live.sandbox_control("GET", "/events")
    completed = next(e["event"] for e in log["events"] if e["event"]["type"] == "checkout.session.completed")
    for event in (completed, {**completed, "id": completed["id"] + "_late"}):
        status, _ = await post_event(live, event)
        assert status == 200
    outcomes = dict(await live.rows(select(StripeEvent.id, StripeEvent.outcome)
                                    .where(StripeEvent.type == "checkout.session.completed")))
    assert outcomes[completed["id"] + "_late"] == "already_authorised" and len(outcomes) == 2
    assert await live.app[SERVICES].job("watch-holds")() == 0
    after = await request_row(live, r.id)
    assert (after.status, after.updated_at) == ("released", r.updated_at)
    await nothing_posted(live)


async def test_a_release_stripe_did_not_answer_is_sent_again_by_the_job(live: Live) -> None:
    gate, url = await _ended_while_payable(live, "expired")
    # Stripe cannot be reached for the cancel (nor for the SDK's two retries of it).
    await live.sandbox_control("POST", "/fail", {"path_prefix": "/v1/payment_intents/", "method": "POST",
                                                 "mode": "disconnect", "count": 3})
    # The patient authorises and closes the tab before Stripe's page sends them back: only the webhook tells.
    assert live.http
    form = {"email": "kari@example.no", "card_number": "4242 4242 4242 4242", "exp": "12/34", "cvc": "123"}
    async with live.http.post(url, data=form, allow_redirects=False) as resp:
        assert resp.status in (302, 303)
    assert await webhook_applied(live, "checkout.session.completed") == ["authorised_late"]

    async def answered() -> bool:
        # The webhook is answered once its release at Stripe has been tried (and failed).
        log = await live.sandbox_control("GET", "/events")
        return any(e["event"]["type"] == "checkout.session.completed" and e["delivery_status"] == "delivered"
                   for e in log["events"])

    assert await eventually(answered, timeout=15)
    r = await request_row(live, gate["request_id"])
    assert (r.status, r.problem) == ("expired", "authorised_late") and r.payment_intent_id
    # The job sends the same cancel (same key): released once.
    assert await live.app[SERVICES].job("watch-holds")() == 1
    after = await request_row(live, r.id)
    assert (after.status, after.problem) == ("released", "authorised_late")
    assert (await intent_at_stripe(live, after))["status"] == "canceled"
    assert await live.app[SERVICES].job("watch-holds")() == 0
    await nothing_posted(live)
