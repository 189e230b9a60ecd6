"""Holds through the app's own Stripe gateway: Checkout with manual capture, then capture
(all or part), cancel, or the authorisation lapsing; refunds bounded by what was captured."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import replace
from urllib.parse import parse_qsl

import pytest
import stripe
from stripe_sandbox_support import API_KEY, WEBHOOK_SECRET, Clients, Running

from integrations.stripe.client import StripeSDKGateway
from integrations.stripe.protocol import (
    CardRefused,
    NewCheckout,
    PaymentIntent,
    ProviderRefused,
    ProviderUnavailable,
    RequestRefused,
)
from integrations.stripe.sandbox.intents import AUTHORISATION_VALID_S
from tests.stripe_contract.plugin import Recorder

HOLD = 45000


@pytest.fixture
async def gateway(sandbox: Running) -> AsyncIterator[StripeSDKGateway]:
    gw = StripeSDKGateway(api_key=API_KEY, webhook_secret=WEBHOOK_SECRET, api_base=sandbox.url)
    yield gw
    await gw.close()


def _new(key: str, capture_method: str = "manual", now: float | None = None) -> NewCheckout:
    return NewCheckout(
        account=None, amount=HOLD, currency="NOK", description="Consultation",
        success_url="https://app.example/ok?s={CHECKOUT_SESSION_ID}", cancel_url="https://app.example/cancel",
        reference="pr_hold", metadata={"payment_request_id": "pr_hold"},
        expires_at=int(now or time.time()) + 3600, idempotency_key=key, capture_method=capture_method,
    )


async def _held(sandbox: Running, gateway: StripeSDKGateway, key: str = "k-hold") -> PaymentIntent:
    """A manual-capture session, paid on the hosted page: the card authorised, nothing taken."""
    now = (await sandbox.control("/_control/clock/advance", {"seconds": 0}))["now"]  # the sandbox's time
    session = await gateway.create_checkout_session(_new(key, now=now))
    form = {"email": "kari@example.no", "card_number": "4242 4242 4242 4242", "exp": "12/34", "cvc": "123"}
    async with sandbox.http.post(session.url, data=form, allow_redirects=False) as resp:
        assert resp.status == 303, await resp.text()
    paid = await gateway.retrieve_checkout_session(session.id, account=None)
    assert paid.payment_intent_id
    return await gateway.retrieve_payment_intent(paid.payment_intent_id, account=None)


def _types(sandbox: Running) -> list[str]:
    return [e["type"] for e in sandbox.receiver.events()]


async def test_a_paid_manual_session_is_an_authorised_hold(
    sandbox: Running, gateway: StripeSDKGateway, client: stripe.StripeClient, stripe_requests: Recorder
) -> None:
    before = int(sandbox.clock.now)
    pi = await _held(sandbox, gateway)

    sent = next(r for r in stripe_requests.requests if r.gateway_method == "create_checkout_session")
    form = dict(parse_qsl(sent.body or ""))
    assert form["payment_intent_data[capture_method]"] == "manual"
    assert form["payment_intent_data[metadata][payment_request_id]"] == "pr_hold"  # still sent as before

    assert (pi.status, pi.capture_method, pi.authorised, pi.lapsed) == ("requires_capture", "manual", True, False)
    assert (pi.amount, pi.amount_capturable, pi.amount_received, pi.currency) == (HOLD, HOLD, 0, "NOK")
    assert pi.metadata == {"payment_request_id": "pr_hold"}
    assert pi.capture_before is not None
    assert before + AUTHORISATION_VALID_S <= pi.capture_before <= int(sandbox.clock.now) + AUTHORISATION_VALID_S
    assert AUTHORISATION_VALID_S == 7 * 24 * 3600

    sessions = await client.v1.checkout.sessions.list_async({"payment_intent": pi.id})
    assert [(s.status, s.payment_status) for s in sessions.data] == [("complete", "unpaid")]
    charge = await client.v1.charges.retrieve_async(pi.latest_charge)
    assert (charge.captured, charge.amount, charge.amount_captured, charge.paid) == (False, HOLD, 0, True)
    assert charge.payment_method_details.card.capture_before == pi.capture_before

    want = ["charge.succeeded", "payment_intent.amount_capturable_updated", "checkout.session.completed"]
    await sandbox.receiver.wait_for(lambda r: len(r.events()) >= 3)
    assert _types(sandbox) == want
    completed = sandbox.receiver.events("checkout.session.completed")[0]["data"]["object"]
    assert (completed["status"], completed["payment_status"]) == ("complete", "unpaid")
    capturable = sandbox.receiver.events("payment_intent.amount_capturable_updated")[0]["data"]["object"]
    assert (capturable["status"], capturable["amount_capturable"]) == ("requires_capture", HOLD)
    assert sandbox.receiver.events("charge.succeeded")[0]["data"]["object"]["captured"] is False


async def test_automatic_capture_is_unchanged(sandbox: Running, gateway: StripeSDKGateway,
                                              stripe_requests: Recorder) -> None:
    session = await gateway.create_checkout_session(_new("k-auto", capture_method="automatic"))
    sent = next(r for r in stripe_requests.requests if r.gateway_method == "create_checkout_session")
    assert "capture_method" not in (sent.body or "")
    await sandbox.control(f"/_control/checkout/sessions/{session.id}/pay", {"email": "kari@example.no"})
    paid = await gateway.retrieve_checkout_session(session.id, account=None)
    assert paid.payment_status == "paid"
    pi = await gateway.retrieve_payment_intent(paid.payment_intent_id or "", account=None)
    assert (pi.status, pi.amount_received, pi.amount_capturable, pi.capture_before) == ("succeeded", HOLD, 0, None)
    # Not a hold: nothing to capture or cancel.
    with pytest.raises(RequestRefused) as e:
        await gateway.capture_payment_intent(pi.id, account=None, amount_to_capture=100, idempotency_key="k-c")
    assert e.value.code == "payment_intent_unexpected_state"
    with pytest.raises(RequestRefused) as e:
        await gateway.cancel_payment_intent(pi.id, account=None, idempotency_key="k-x")
    assert e.value.code == "payment_intent_unexpected_state"


async def test_a_smaller_capture_releases_the_rest(sandbox: Running, gateway: StripeSDKGateway,
                                                   client: stripe.StripeClient) -> None:
    pi = await _held(sandbox, gateway)
    captured = await gateway.capture_payment_intent(
        pi.id, account=None, amount_to_capture=30000, idempotency_key="cap-1", metadata={"final": "yes"})
    assert (captured.status, captured.amount_received, captured.amount_capturable) == ("succeeded", 30000, 0)
    assert captured.metadata == {"payment_request_id": "pr_hold", "final": "yes"}
    charge = await client.v1.charges.retrieve_async(pi.latest_charge)
    # Stripe (API 2025-03-31 and later): no Refund for the released part; amount stays the authorised one.
    assert (charge.captured, charge.amount, charge.amount_captured) == (True, HOLD, 30000)
    assert (charge.amount_refunded, charge.refunded) == (0, False)
    assert charge.balance_transaction
    assert (await client.v1.refunds.list_async({"payment_intent": pi.id})).data == []

    await sandbox.receiver.wait_for(lambda r: len(r.events()) >= 5)
    assert _types(sandbox)[3:] == ["charge.captured", "payment_intent.succeeded"]
    event = sandbox.receiver.events("charge.captured")[0]
    assert event["data"]["object"]["amount_captured"] == 30000
    assert event["data"]["previous_attributes"]["captured"] is False
    assert event["request"]["idempotency_key"] == "cap-1"


async def test_capturing_more_than_the_hold_is_refused_and_changes_nothing(
    sandbox: Running, gateway: StripeSDKGateway, client: stripe.StripeClient
) -> None:
    pi = await _held(sandbox, gateway)
    with pytest.raises(RequestRefused) as e:
        await gateway.capture_payment_intent(pi.id, account=None, amount_to_capture=HOLD + 1,
                                             idempotency_key="cap-big")
    assert e.value.code == "amount_too_large"
    assert "greater than the amount you can capture" in str(e.value.provider_message)
    with pytest.raises(RequestRefused) as e:
        await gateway.capture_payment_intent(pi.id, account=None, amount_to_capture=0, idempotency_key="cap-0")
    assert e.value.code == "invalid_request"

    again = await gateway.retrieve_payment_intent(pi.id, account=None)
    assert again == pi
    charge = await client.v1.charges.retrieve_async(pi.latest_charge)
    assert (charge.captured, charge.amount_captured) == (False, 0)
    # The whole hold can still be captured, once; a second capture is refused.
    full = await gateway.capture_payment_intent(pi.id, account=None, amount_to_capture=HOLD,
                                                idempotency_key="cap-full")
    assert (full.status, full.amount_received) == ("succeeded", HOLD)
    with pytest.raises(RequestRefused) as e:
        await gateway.capture_payment_intent(pi.id, account=None, amount_to_capture=100,
                                             idempotency_key="cap-twice")
    assert e.value.code == "payment_intent_unexpected_state"
    assert "already been captured" in str(e.value.provider_message)
    await sandbox.receiver.wait_for(lambda r: len(r.events()) >= 5)
    assert _types(sandbox).count("charge.captured") == 1


async def test_the_error_body_is_stripes(sandbox: Running, gateway: StripeSDKGateway) -> None:
    pi = await _held(sandbox, gateway)
    await gateway.cancel_payment_intent(pi.id, account=None, idempotency_key="k-cancel")
    async with sandbox.http.post(f"{sandbox.url}/v1/payment_intents/{pi.id}/capture",
                                 headers={"Authorization": f"Bearer {API_KEY}"}) as resp:
        assert resp.status == 400
        error = (await resp.json())["error"]
    assert (error["type"], error["code"]) == ("invalid_request_error", "payment_intent_unexpected_state")
    assert "status of canceled" in error["message"]
    assert error["payment_intent"]["id"] == pi.id and error["payment_intent"]["status"] == "canceled"
    async with sandbox.http.post(f"{sandbox.url}/v1/payment_intents/pi_nope/capture",
                                 headers={"Authorization": f"Bearer {API_KEY}"}) as resp:
        assert resp.status == 404 and (await resp.json())["error"]["code"] == "resource_missing"
    async with sandbox.http.post(f"{sandbox.url}/v1/payment_intents/{pi.id}/cancel",
                                 data={"cancellation_reason": "bored"},
                                 headers={"Authorization": f"Bearer {API_KEY}"}) as resp:
        assert resp.status == 400 and (await resp.json())["error"]["param"] == "cancellation_reason"


async def test_cancel_releases_the_whole_hold(sandbox: Running, gateway: StripeSDKGateway,
                                              client: stripe.StripeClient) -> None:
    pi = await _held(sandbox, gateway)
    released = await gateway.cancel_payment_intent(pi.id, account=None, idempotency_key="rel-1",
                                                   cancellation_reason="requested_by_customer")
    assert (released.status, released.cancellation_reason) == ("canceled", "requested_by_customer")
    assert (released.amount_capturable, released.amount_received, released.lapsed) == (0, 0, False)
    charge = await client.v1.charges.retrieve_async(pi.latest_charge)
    assert (charge.captured, charge.amount_captured, charge.amount_refunded, charge.refunded) == (False, 0, 0, False)
    with pytest.raises(RequestRefused) as e:
        await gateway.capture_payment_intent(pi.id, account=None, amount_to_capture=100, idempotency_key="cap-late")
    assert e.value.code == "payment_intent_unexpected_state"
    with pytest.raises(RequestRefused) as e:
        await gateway.cancel_payment_intent(pi.id, account=None, idempotency_key="rel-2")
    assert e.value.code == "payment_intent_unexpected_state"
    with pytest.raises(RequestRefused) as e:
        await gateway.create_refund(account=None, payment_intent_id=pi.id, amount=None, reason=None,
                                    metadata={}, idempotency_key="ref-none")
    assert e.value.code == "charge_not_refundable"
    await sandbox.receiver.wait_for(lambda r: len(r.events()) >= 4)
    assert _types(sandbox)[3:] == ["payment_intent.canceled"]
    assert sandbox.receiver.events("payment_intent.canceled")[0]["data"]["object"]["cancellation_reason"] \
        == "requested_by_customer"


async def test_lapse_now_cancels_as_expired(sandbox: Running, gateway: StripeSDKGateway,
                                            client: stripe.StripeClient) -> None:
    pi = await _held(sandbox, gateway)
    answer = await sandbox.control(f"/_control/payment_intents/{pi.id}/lapse")
    assert answer == {"id": pi.id, "status": "canceled", "cancellation_reason": "expired"}
    lapsed = await gateway.retrieve_payment_intent(pi.id, account=None)
    assert (lapsed.status, lapsed.lapsed, lapsed.amount_capturable) == ("canceled", True, 0)
    charge = await client.v1.charges.retrieve_async(pi.latest_charge)
    assert (charge.captured, charge.amount_captured) == (False, 0)
    await sandbox.receiver.wait_for(lambda r: len(r.events()) >= 5)
    assert _types(sandbox)[3:] == ["charge.expired", "payment_intent.canceled"]
    with pytest.raises(RequestRefused) as e:
        await gateway.capture_payment_intent(pi.id, account=None, amount_to_capture=HOLD, idempotency_key="c")
    assert e.value.code == "payment_intent_unexpected_state"
    # A second lapse is refused in Stripe's shape; the control surface says so.
    async with sandbox.http.post(f"{sandbox.url}/_control/payment_intents/{pi.id}/lapse") as resp:
        assert resp.status == 400
        assert (await resp.json())["error"]["code"] == "payment_intent_unexpected_state"
    async with sandbox.http.post(f"{sandbox.url}/_control/payment_intents/pi_nope/lapse") as resp:
        assert resp.status == 404


async def test_the_clock_passing_capture_before_lapses_the_hold(sandbox: Running,
                                                                gateway: StripeSDKGateway) -> None:
    pi = await _held(sandbox, gateway)
    assert pi.capture_before is not None
    await sandbox.control("/_control/clock/advance", {"seconds": pi.capture_before - sandbox.clock.now - 3600})
    assert (await gateway.retrieve_payment_intent(pi.id, account=None)).status == "requires_capture"
    other = await _held(sandbox, gateway, key="k-hold-2")
    await sandbox.control("/_control/clock/advance", {"seconds": 3660})
    lapsed = await gateway.retrieve_payment_intent(pi.id, account=None)
    assert (lapsed.status, lapsed.cancellation_reason, lapsed.lapsed) == ("canceled", "expired", True)
    # Made a moment later, the second hold is still good (the sweep ran on advancing).
    assert (await gateway.retrieve_payment_intent(other.id, account=None)).status == "requires_capture"
    await sandbox.receiver.wait_for(lambda r: len(r.events("payment_intent.canceled")) == 1)
    assert _types(sandbox).count("charge.expired") == 1

    # Stripe's clock does not wait for a sweep: a hold read after its deadline has lapsed.
    sandbox.clock.now += AUTHORISATION_VALID_S
    with pytest.raises(RequestRefused) as e:
        await gateway.capture_payment_intent(other.id, account=None, amount_to_capture=HOLD, idempotency_key="late")
    assert e.value.code == "payment_intent_unexpected_state"
    late = await gateway.retrieve_payment_intent(other.id, account=None)
    assert (late.status, late.cancellation_reason) == ("canceled", "expired")
    await sandbox.receiver.wait_for(lambda r: len(r.events("payment_intent.canceled")) == 2)
    assert _types(sandbox).count("charge.expired") == 2


async def test_a_refund_of_a_partial_capture_is_bounded_by_the_capture(
    sandbox: Running, gateway: StripeSDKGateway, client: stripe.StripeClient
) -> None:
    pi = await _held(sandbox, gateway)
    await gateway.capture_payment_intent(pi.id, account=None, amount_to_capture=30000, idempotency_key="cap")
    with pytest.raises(RequestRefused) as e:
        await gateway.create_refund(account=None, payment_intent_id=pi.id, amount=30001, reason=None,
                                    metadata={}, idempotency_key="ref-big")
    assert e.value.code == "amount_too_large"
    part = await gateway.create_refund(account=None, payment_intent_id=pi.id, amount=10000, reason=None,
                                       metadata={}, idempotency_key="ref-1")
    rest = await gateway.create_refund(account=None, payment_intent_id=pi.id, amount=None, reason=None,
                                       metadata={}, idempotency_key="ref-2")
    assert (part.amount, rest.amount) == (10000, 20000)
    charge = await client.v1.charges.retrieve_async(pi.latest_charge)
    assert (charge.amount_refunded, charge.refunded) == (30000, True)
    with pytest.raises(RequestRefused) as e:
        await gateway.create_refund(account=None, payment_intent_id=pi.id, amount=1, reason=None,
                                    metadata={}, idempotency_key="ref-3")
    assert e.value.code == "charge_already_refunded"


async def test_capture_and_cancel_replay_on_the_same_key(
    sandbox: Running, gateway: StripeSDKGateway, stripe_requests: Recorder
) -> None:
    pi = await _held(sandbox, gateway)
    first = await gateway.capture_payment_intent(pi.id, account=None, amount_to_capture=20000,
                                                 idempotency_key="cap-same")
    again = await gateway.capture_payment_intent(pi.id, account=None, amount_to_capture=20000,
                                                 idempotency_key="cap-same")
    assert again == first and first.amount_received == 20000
    with pytest.raises(RequestRefused) as e:
        await gateway.capture_payment_intent(pi.id, account=None, amount_to_capture=25000,
                                             idempotency_key="cap-same")
    assert e.value.code == "idempotency_error"
    assert [v.param for _, v in stripe_requests.take_violations()] == ["Idempotency-Key"]

    other = await _held(sandbox, gateway, key="k-hold-2")
    one = await gateway.cancel_payment_intent(other.id, account=None, idempotency_key="rel-same")
    two = await gateway.cancel_payment_intent(other.id, account=None, idempotency_key="rel-same")
    assert one == two and one.status == "canceled"
    await sandbox.receiver.wait_for(lambda r: len(r.events("payment_intent.canceled")) == 1
                                    and len(r.events("charge.captured")) == 1)
    assert _types(sandbox).count("charge.captured") == 1
    assert _types(sandbox).count("payment_intent.canceled") == 1


@pytest.mark.parametrize(("script", "kind", "code"), [
    ("charge_expired_for_capture", RequestRefused, "charge_expired_for_capture"),
    ("card_declined", CardRefused, "card_declined"),
    ("invalid_request", RequestRefused, "parameter_invalid_string"),
])
async def test_a_refused_capture_is_a_provider_refusal(sandbox: Running, gateway: StripeSDKGateway,
                                                       script: str, kind: type, code: str) -> None:
    pi = await _held(sandbox, gateway)
    await sandbox.control("/_control/fail", {"path_prefix": f"/v1/payment_intents/{pi.id}/capture",
                                             "mode": "error", "error": script})
    with pytest.raises(ProviderRefused) as e:
        await gateway.capture_payment_intent(pi.id, account=None, amount_to_capture=HOLD, idempotency_key="c-" + script)
    assert isinstance(e.value, kind) and not isinstance(e.value, ProviderUnavailable) and e.value.code == code
    assert (await gateway.retrieve_payment_intent(pi.id, account=None)).status == "requires_capture"


async def test_an_outage_during_capture_is_unavailable(sandbox: Running, gateway: StripeSDKGateway) -> None:
    pi = await _held(sandbox, gateway)
    await sandbox.control("/_control/fail", {"path_prefix": "/v1/payment_intents/", "method": "POST",
                                             "mode": "server_error", "count": 3})
    with pytest.raises(ProviderUnavailable):
        await gateway.capture_payment_intent(pi.id, account=None, amount_to_capture=HOLD, idempotency_key="c-down")
    # Once Stripe is back, the same key captures.
    done = await gateway.capture_payment_intent(pi.id, account=None, amount_to_capture=HOLD, idempotency_key="c-down")
    assert done.status == "succeeded"


async def test_a_hold_on_a_connected_account_with_the_platform_fee(
    sandbox: Running, gateway: StripeSDKGateway, client: stripe.StripeClient, clients: Clients
) -> None:
    acct = await gateway.create_account(email="clinic@example.no", country="NO", name="Klinikk",
                                        idempotency_key="acct-hold")
    await sandbox.control(f"/_control/accounts/{acct.id}/onboard")
    new = replace(_new("k-connected"), account=acct.id, application_fee_amount=5000)
    session = await gateway.create_checkout_session(new)
    await sandbox.control(f"/_control/checkout/sessions/{session.id}/pay", {"email": "kari@example.no"})
    paid = await gateway.retrieve_checkout_session(session.id, account=acct.id)
    assert (paid.status, paid.payment_status) == ("complete", "unpaid")
    pi_id = paid.payment_intent_id or ""
    # The hold lives on the clinic's account: the platform's own view of Stripe has no such PaymentIntent.
    with pytest.raises(RequestRefused) as e:
        await gateway.retrieve_payment_intent(pi_id, account=None)
    assert e.value.code == "resource_missing"
    with pytest.raises(RequestRefused):
        await gateway.capture_payment_intent(pi_id, account=None, amount_to_capture=3000, idempotency_key="c-p")
    held = await gateway.retrieve_payment_intent(pi_id, account=acct.id)
    assert (held.status, held.amount_capturable) == ("requires_capture", HOLD)

    # A capture smaller than the fee: Stripe caps the fee at what was captured.
    done = await gateway.capture_payment_intent(pi_id, account=acct.id, amount_to_capture=3000,
                                                idempotency_key="c-a")
    assert (done.status, done.amount_received) == ("succeeded", 3000)
    charge = await clients.make(account=acct.id).v1.charges.retrieve_async(done.latest_charge or "")
    assert (charge.amount_captured, charge.application_fee_amount) == (3000, 3000)
    await sandbox.receiver.wait_for(lambda r: len(r.events("charge.captured")) == 1)
    assert sandbox.receiver.events("charge.captured")[0]["account"] == acct.id


async def test_the_pages_say_authorised_and_uncaptured(sandbox: Running, gateway: StripeSDKGateway) -> None:
    acct = await gateway.create_account(email="clinic@example.no", country="NO", name="Klinikk",
                                        idempotency_key="acct-page")
    await sandbox.control(f"/_control/accounts/{acct.id}/onboard")
    holds = []
    for key in ("k-p1", "k-p2"):
        session = await gateway.create_checkout_session(replace(_new(key), account=acct.id))
        await sandbox.control(f"/_control/checkout/sessions/{session.id}/pay", {"email": "kari@example.no"})
        holds.append((session, (await gateway.retrieve_checkout_session(session.id, account=acct.id))))
    async with sandbox.http.get(holds[0][0].url or "") as resp:
        html = await resp.text()
    assert "Card authorised" in html and "Already paid" not in html
    await gateway.cancel_payment_intent(holds[1][1].payment_intent_id or "", account=acct.id, idempotency_key="x")
    url = await gateway.create_login_link(acct.id)
    async with sandbox.http.get(url) as resp:
        html = await resp.text()
    assert "Uncaptured" in html and "Canceled" in html
