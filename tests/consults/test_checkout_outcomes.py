"""What Stripe says of a checkout that did not end in a payment reaches the request once, in order.

A decline arrives as ``payment_intent.payment_failed`` on the clinic's account
(the session stays open); the request keeps the newest reason, whatever order
and however often the events come, and tells the clinician live. Leaving the
page by its cancel link makes the request payable again and closes the
session at Stripe, so a stale event for it changes nothing.
"""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import select

from app.models import PaymentRequest, StripeEvent
from tests.consults.test_stripe_webhooks import completed_event, counts, open_request, post_event
from tests.factories import Live


def failed_event(event_id: str, request: dict, *, account: str | None, decline_code: str | None,
                 created: int, attempt: str = "1", code: str = "card_declined") -> dict:
    return {
        "id": event_id, "object": "event", "type": "payment_intent.payment_failed", "account": account,
        "created": created, "livemode": False,
        "data": {"object": {
            "id": "pi_test_declined", "object": "payment_intent", "status": "requires_payment_method",
            "amount": request["amount"], "currency": request["currency"].lower(),
            "metadata": {"payment_request_id": request["id"], "checkout_attempt": attempt},
            "last_payment_error": {"type": "card_error", "code": code, "decline_code": decline_code,
                                   "message": "Your card was declined."},
        }},
    }


async def test_declines_out_of_order_and_repeated_keep_the_newest_reason(live: Live) -> None:
    request, session_id, clinician = await open_request(live)
    account = await live.scalar(select(PaymentRequest.stripe_account_id))
    now = int(time.time())
    older = failed_event("evt_dec_1", request, account=account, decline_code="generic_decline", created=now - 5)
    newer = failed_event("evt_dec_2", request, account=account, decline_code="insufficient_funds", created=now)
    # The newer first, then the older twice and the newer again, some at once.
    assert (await post_event(live, newer))[1]["outcome"] == "declined"
    results = await asyncio.gather(post_event(live, older), post_event(live, older), post_event(live, newer))
    assert sorted(body["outcome"] for _, body in results) == ["duplicate", "duplicate", "stale"]

    row = await live.scalar(select(PaymentRequest).where(PaymentRequest.id == request["id"]))
    assert (row.status, row.problem, row.problem_detail) == ("checkout_open", "declined", "insufficient_funds")
    update = await clinician.wait_for(
        "payment:updated", lambda d: (d["request"].get("problem") or {}).get("code") == "declined")
    assert update["request"]["problem"]["detail"] == "insufficient_funds"
    assert update["request"]["status"] == "checkout_open"

    # Paid with another card afterwards: settled once; a late decline changes nothing.
    assert (await post_event(live, completed_event("evt_dec_ok", request, session_id, account=account)))[0] == 200
    late = failed_event("evt_dec_3", request, account=account, decline_code="expired_card", created=now + 5)
    assert (await post_event(live, late))[1]["outcome"] == "stale"
    row = await live.scalar(select(PaymentRequest).where(PaymentRequest.id == request["id"]))
    assert row.status == "paid"
    assert await counts(live) == (1, 1)
    assert await live.ledger_balanced()


async def test_a_decline_for_another_account_or_an_earlier_attempt_changes_nothing(live: Live) -> None:
    request, _, _ = await open_request(live)
    account = await live.scalar(select(PaymentRequest.stripe_account_id))
    now = int(time.time())
    other = failed_event("evt_dec_acct", request, account="acct_other", decline_code="generic_decline", created=now)
    assert (await post_event(live, other))[1]["outcome"] == "wrong_account"
    earlier = failed_event("evt_dec_att", request, account=account, decline_code="generic_decline",
                           created=now, attempt="0")
    assert (await post_event(live, earlier))[1]["outcome"] == "stale"
    row = await live.scalar(select(PaymentRequest).where(PaymentRequest.id == request["id"]))
    assert row.problem is None and row.status == "checkout_open"


async def test_leaving_checkout_by_its_cancel_link_makes_the_request_payable_again(live: Live) -> None:
    _, clinician, patient = await live.call_pair()
    request = (await clinician.call("payment:request", {"amount": 45000, "description": "Consultation"}))["request"]
    first = await patient.call("payment:checkout", {"request_id": request["id"]})
    session_id = await live.scalar(select(PaymentRequest.checkout_session_id))
    assert live.http
    async with live.http.get(f"{live.url}/checkout/return?request_id={request['id']}") as resp:
        assert resp.status == 200
        assert 'data-outcome="left"' in await resp.text()
    update = await patient.wait_for("payment:updated", lambda d: d["request"]["status"] == "requested")
    assert update["request"]["problem"]["code"] == "left"
    # Stripe has the session expired: its page cannot be paid any more, and its webhook changes nothing.
    status, _, html = await live.pay_on_hosted_page(first["url"])
    assert "expired" in html.lower()
    for _ in range(50):
        if await live.scalar(select(StripeEvent.outcome).where(StripeEvent.type == "checkout.session.expired")):
            break
        await asyncio.sleep(0.05)
    assert await live.scalar(select(StripeEvent.outcome).where(StripeEvent.type == "checkout.session.expired")) \
        == "stale"
    row = await live.scalar(select(PaymentRequest).where(PaymentRequest.id == request["id"]))
    assert (row.status, row.checkout_session_id) == ("requested", None)
    # Pay now again: a fresh session, and it pays.
    again = await patient.call("payment:checkout", {"request_id": request["id"]})
    assert again["ok"] and again["url"] != first["url"]
    assert await live.scalar(select(PaymentRequest.checkout_session_id)) != session_id
    status, final, _ = await live.pay_on_hosted_page(again["url"])
    assert status == 200 and "/checkout/return" in final
    await clinician.wait_for("payment:received")
    assert await counts(live) == (1, 1)
    assert await live.ledger_balanced()


async def test_an_expiry_reaches_both_with_its_reason(live: Live) -> None:
    _, clinician, patient = await live.call_pair()
    request = (await clinician.call("payment:request", {"amount": 15000, "description": "Short"}))["request"]
    await patient.call("payment:checkout", {"request_id": request["id"]})
    await live.sandbox_control("POST", "/clock/advance", {"seconds": 3600})
    for person in (clinician, patient):
        update = await person.wait_for("payment:updated", lambda d: d["request"]["status"] == "expired")
        assert update["request"]["problem"]["code"] == "expired"
