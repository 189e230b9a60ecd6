"""Paying on the hosted page, the webhooks that follow, and refunds."""

from __future__ import annotations

import re

import pytest
import stripe
from stripe_sandbox_support import WEBHOOK_SECRET, Running, session_params


async def _post_form(sandbox: Running, url: str, **fields: str):
    form = {"email": "kari@example.no", "card_number": "4242 4242 4242 4242",
            "exp": "12/34", "cvc": "123"}
    form.update(fields)
    async with sandbox.http.post(url, data=form, allow_redirects=False) as resp:
        return resp.status, resp.headers.get("Location"), await resp.text()


async def test_hosted_page_shows_the_amount(sandbox: Running, client: stripe.StripeClient):
    s = await client.v1.checkout.sessions.create_async(session_params())
    async with sandbox.http.get(s.url) as resp:
        assert resp.status == 200
        html = await resp.text()
    assert "NOK 450.00" in html and "Consultation" in html
    for name in ("email", "card_number", "exp", "cvc"):
        assert re.search(rf'<label for="{name}">', html) and f'name="{name}"' in html
    assert 'name="viewport"' in html
    assert 'href="https://app.example/cancelled"' in html


async def test_paying_with_4242(sandbox: Running, client: stripe.StripeClient):
    s = await client.v1.checkout.sessions.create_async(session_params(
        payment_intent_data={"metadata": {"pr": "pr_1"}}))
    status, location, _ = await _post_form(sandbox, s.url)
    assert status == 303 and location == f"https://app.example/paid?session={s.id}"
    paid = await client.v1.checkout.sessions.retrieve_async(s.id, {"expand": ["payment_intent"]})
    assert (paid.status, paid.payment_status) == ("complete", "paid")
    assert paid.customer_details.email == "kari@example.no"
    pi = paid.payment_intent
    assert pi.id.startswith("pi_") and pi.status == "succeeded" and pi.amount_received == 45000
    assert pi.metadata.to_dict() == {"pr": "pr_1"}
    charge = await client.v1.charges.retrieve_async(pi.latest_charge)
    assert charge.paid and charge.amount == 45000 and charge.payment_intent == pi.id
    assert charge.payment_method_details.card.last4 == "4242"

    types = {"checkout.session.completed", "payment_intent.succeeded", "charge.succeeded"}
    await sandbox.receiver.wait_for(lambda r: {e["type"] for e in r.events()} >= types)
    done = sandbox.receiver.events("checkout.session.completed")[0]
    assert done["data"]["object"]["payment_status"] == "paid"
    assert done["object"] == "event" and done["id"].startswith("evt_") and not done["livemode"]
    assert "account" not in done
    headers = sandbox.receiver.received[0]["headers"]
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    assert re.fullmatch(r"t=\d+,v1=[0-9a-f]{64}", headers["Stripe-Signature"])

    # Paid sessions are no longer payable.
    async with sandbox.http.get(s.url) as resp:
        assert "Already paid" in await resp.text()


async def test_forged_signature_is_rejected_by_the_sdk(sandbox: Running):
    from integrations.stripe.sandbox import sign
    payload = '{"id": "evt_1", "object": "event"}'
    header = sign(payload, "whsec_other", 1700000000)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(payload, header, WEBHOOK_SECRET)


@pytest.mark.parametrize(("number", "exp", "cvc", "message"), [
    ("4000 0000 0000 0002", "12/34", "123", "Your card was declined."),
    ("4000000000009995", "12/34", "123", "Your card has insufficient funds."),
    ("4242424242424241", "12/34", "123", "Your card number is invalid."),
    ("4242424242424242", "01/20", "123", "expiration year is in the past"),
    ("4242424242424242", "12/34", "1", "security code is invalid"),
])
async def test_declines_leave_the_session_open(sandbox: Running, client: stripe.StripeClient,
                                              number, exp, cvc, message):
    s = await client.v1.checkout.sessions.create_async(session_params())
    status, _, html = await _post_form(sandbox, s.url, card_number=number, exp=exp, cvc=cvc)
    assert status == 402
    assert message in html.replace("&#x27;", "'") and 'role="alert"' in html
    again = await client.v1.checkout.sessions.retrieve_async(s.id)
    assert again.status == "open" and again.payment_status == "unpaid"
    # ...and a good card still pays it.
    status, _, _ = await _post_form(sandbox, s.url)
    assert status == 303


async def test_expired_session_page_is_not_payable(sandbox: Running,
                                                   client: stripe.StripeClient):
    s = await client.v1.checkout.sessions.create_async(session_params())
    await client.v1.checkout.sessions.expire_async(s.id)
    async with sandbox.http.get(s.url) as resp:
        assert resp.status == 410 and "expired" in await resp.text()
    status, _, _ = await _post_form(sandbox, s.url)
    assert status == 410


async def test_control_pay_and_async_payment(sandbox: Running, client: stripe.StripeClient):
    s = await client.v1.checkout.sessions.create_async(session_params())
    out = await sandbox.control(f"/_control/checkout/sessions/{s.id}/pay",
                                {"card_number": "4242424242424242", "email": "a@b.no",
                                 "async": "succeeded", "delay_s": 0})
    assert out["payment_status"] == "unpaid" and out["status"] == "complete"
    await sandbox.receiver.wait_for(
        lambda r: r.events("checkout.session.async_payment_succeeded"))
    paid = await client.v1.checkout.sessions.retrieve_async(s.id)
    assert paid.payment_status == "paid"
    completed = sandbox.receiver.events("checkout.session.completed")[0]
    assert completed["data"]["object"]["payment_status"] == "unpaid"


async def test_refunds_partial_full_and_over(sandbox: Running, client: stripe.StripeClient):
    s = await client.v1.checkout.sessions.create_async(session_params())
    await sandbox.control(f"/_control/checkout/sessions/{s.id}/pay", {"email": "a@b.no"})
    pi_id = (await client.v1.checkout.sessions.retrieve_async(s.id)).payment_intent
    part = await client.v1.refunds.create_async({"payment_intent": pi_id, "amount": 10000,
                                                 "reason": "requested_by_customer"})
    assert part.id.startswith("re_") and part.status == "succeeded" and part.amount == 10000
    with pytest.raises(stripe.InvalidRequestError, match="greater than unrefunded") as e:
        await client.v1.refunds.create_async({"payment_intent": pi_id, "amount": 40000})
    assert e.value.param == "amount"
    rest = await client.v1.refunds.create_async({"payment_intent": pi_id})
    assert rest.amount == 35000
    charge = await client.v1.charges.retrieve_async(rest.charge)
    assert charge.amount_refunded == 45000 and charge.refunded
    with pytest.raises(stripe.InvalidRequestError, match="already been refunded"):
        await client.v1.refunds.create_async({"charge": charge.id, "amount": 1})
    assert (await client.v1.refunds.retrieve_async(part.id)).amount == 10000
    await sandbox.receiver.wait_for(lambda r: len(r.events("charge.refunded")) == 2
                                    and len(r.events("refund.created")) == 2)


async def test_a_decline_is_recorded_and_reported_as_stripe_does(sandbox: Running, client: stripe.StripeClient):
    """The issuer's decline keeps the session open, its PaymentIntent waits for another card,
    and ``charge.failed`` and ``payment_intent.payment_failed`` go out; the next card pays the same intent."""
    s = await client.v1.checkout.sessions.create_async(session_params(
        payment_intent_data={"metadata": {"pr": "pr_1"}}))
    status, _, _ = await _post_form(sandbox, s.url, card_number="4000000000009995")
    assert status == 402
    open_ = await client.v1.checkout.sessions.retrieve_async(s.id, {"expand": ["payment_intent"]})
    assert open_.status == "open" and open_.payment_status == "unpaid"
    pi = open_.payment_intent
    assert pi.status == "requires_payment_method" and pi.metadata.to_dict() == {"pr": "pr_1"}
    error = pi.last_payment_error
    assert (error.type, error.code, error.decline_code) == ("card_error", "card_declined", "insufficient_funds")
    charge = await client.v1.charges.retrieve_async(error.charge)
    assert charge.status == "failed" and not charge.paid and charge.failure_code == "card_declined"
    await sandbox.receiver.wait_for(
        lambda r: {e["type"] for e in r.events()} >= {"charge.failed", "payment_intent.payment_failed"})
    failed = sandbox.receiver.events("payment_intent.payment_failed")[0]["data"]["object"]
    assert failed["id"] == pi.id and failed["last_payment_error"]["decline_code"] == "insufficient_funds"
    # A form error Stripe's page catches itself never reaches the issuer: nothing is recorded.
    status, _, _ = await _post_form(sandbox, s.url, card_number="4242424242424241")
    assert status == 402 and len(sandbox.receiver.events("payment_intent.payment_failed")) == 1

    status, _, _ = await _post_form(sandbox, s.url)
    assert status == 303
    paid = await client.v1.checkout.sessions.retrieve_async(s.id, {"expand": ["payment_intent"]})
    assert paid.payment_intent.id == pi.id and paid.payment_intent.status == "succeeded"
