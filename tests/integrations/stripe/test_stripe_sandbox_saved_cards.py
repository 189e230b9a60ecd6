"""Saved cards through the app's own Stripe gateway: a Customer, Checkout in setup mode, the
SetupIntent that proves the card saved, and off-session charges that succeed or are declined
with the PaymentIntent in Stripe's card error."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import parse_qsl

import pytest
import stripe
from stripe_sandbox_support import API_KEY, WEBHOOK_SECRET, Running

from integrations.stripe.client import StripeSDKGateway
from integrations.stripe.protocol import NewCheckout, RequestRefused
from integrations.stripe.saved_cards import SavedCardCharge, SavedCardDeclined
from tests.stripe_contract.plugin import Recorder


@pytest.fixture
async def gateway(sandbox: Running) -> AsyncIterator[StripeSDKGateway]:
    gw = StripeSDKGateway(api_key=API_KEY, webhook_secret=WEBHOOK_SECRET, api_base=sandbox.url)
    yield gw
    await gw.close()


async def _saved(sandbox: Running, gateway: StripeSDKGateway, number: str) -> tuple[str, str]:
    """A card saved on the hosted page in setup mode: (customer, payment method)."""
    now = (await sandbox.control("/_control/clock/advance", {"seconds": 0}))["now"]
    customer = await gateway.create_customer(account=None, email="kari@example.no", name="Kari",
                                             metadata={"payment_request_id": "pr_cof"}, idempotency_key="k-cus")
    session = await gateway.create_checkout_session(NewCheckout(
        account=None, amount=50000, currency="NOK", description="Consultation",
        success_url="https://app.example/ok?s={CHECKOUT_SESSION_ID}", cancel_url="https://app.example/cancel",
        reference="pr_cof", metadata={"payment_request_id": "pr_cof"}, expires_at=int(now) + 3600,
        idempotency_key="k-setup", mode="setup", customer=customer))
    assert session.mode == "setup" and session.customer_id == customer and session.setup_intent_id is None
    async with sandbox.http.get(session.url) as resp:
        page = await resp.text()
        assert "Save your card" in page and "Nothing is charged now" in page
    form = {"email": "kari@example.no", "card_number": number, "exp": "12/34", "cvc": "123"}
    async with sandbox.http.post(session.url, data=form, allow_redirects=False) as resp:
        assert resp.status == 303, await resp.text()
    done = await gateway.retrieve_checkout_session(session.id, account=None)
    assert done.status == "complete" and done.payment_status == "no_payment_required" and done.setup_intent_id
    setup = await gateway.retrieve_setup_intent(done.setup_intent_id, account=None)
    assert setup.saved and setup.customer_id == customer and setup.usage == "off_session"
    assert setup.metadata == {"payment_request_id": "pr_cof"}
    assert setup.payment_method_id
    return customer, setup.payment_method_id


def _charge(customer: str, pm: str, key: str, amount: int = 42000) -> SavedCardCharge:
    return SavedCardCharge(account=None, customer=customer, payment_method=pm, amount=amount, currency="NOK",
                           description="Consultation", metadata={"payment_request_id": "pr_cof"},
                           idempotency_key=key)


async def test_a_card_saved_in_setup_mode_is_charged_off_session_once_per_key(
    sandbox: Running, gateway: StripeSDKGateway, client: stripe.StripeClient, stripe_requests: Recorder
) -> None:
    customer, pm = await _saved(sandbox, gateway, "4242 4242 4242 4242")
    sent = next(r for r in stripe_requests.requests if r.gateway_method == "create_checkout_session")
    form = dict(parse_qsl(sent.body or ""))
    assert form["mode"] == "setup" and form["customer"] == customer and form["currency"] == "nok"
    assert "line_items[0][quantity]" not in form

    pi = await gateway.charge_saved_card(_charge(customer, pm, "k-charge"))
    again = await gateway.charge_saved_card(_charge(customer, pm, "k-charge"))
    assert pi.status == "succeeded" and pi.amount_received == 42000 and again.id == pi.id
    sent = [dict(parse_qsl(r.body or "")) for r in stripe_requests.requests
            if r.gateway_method == "charge_saved_card"][0]
    assert sent["off_session"] == "true" and sent["confirm"] == "true" and sent["payment_method"] == pm
    charges = (await client.v1.charges.retrieve_async(pi.latest_charge or ""))
    assert charges.amount_captured == 42000 and charges.customer == customer
    await sandbox.receiver.wait_for(lambda r: len(r.events("payment_intent.succeeded")) == 1)
    types = [e["type"] for e in sandbox.receiver.events()]
    assert types.index("setup_intent.succeeded") < types.index("checkout.session.completed")
    assert types.count("payment_intent.succeeded") == 1


@pytest.mark.parametrize(("number", "code", "decline"), [
    ("4000 0027 6000 3184", "authentication_required", "authentication_required"),
    ("4000 0000 0000 0341", "card_declined", "generic_decline"),
])
async def test_a_saved_card_the_bank_declines_off_session_carries_its_payment_intent(
    sandbox: Running, gateway: StripeSDKGateway, number: str, code: str, decline: str
) -> None:
    customer, pm = await _saved(sandbox, gateway, number)
    with pytest.raises(SavedCardDeclined) as e:
        await gateway.charge_saved_card(_charge(customer, pm, "k-declined"))
    assert e.value.code == code and e.value.reason == decline
    assert e.value.intent is not None and e.value.intent.status == "requires_payment_method"
    # The same key replays the same decline: no second attempt at the bank.
    with pytest.raises(SavedCardDeclined) as again:
        await gateway.charge_saved_card(_charge(customer, pm, "k-declined"))
    assert again.value.intent is not None and again.value.intent.id == e.value.intent.id
    await sandbox.receiver.wait_for(lambda r: len(r.events("payment_intent.payment_failed")) == 1)
    failed = sandbox.receiver.events("payment_intent.payment_failed")[0]["data"]["object"]
    assert failed["last_payment_error"]["decline_code"] == decline


async def test_bad_charges_are_refused_and_make_nothing(sandbox: Running, gateway: StripeSDKGateway) -> None:
    customer, pm = await _saved(sandbox, gateway, "4242 4242 4242 4242")
    other = await gateway.create_customer(account=None, email=None, name=None, metadata={}, idempotency_key="k-o")
    with pytest.raises(RequestRefused) as e:
        await gateway.charge_saved_card(_charge(other, pm, "k-1"))
    assert "attached to the Customer" in e.value.message
    with pytest.raises(RequestRefused) as e:
        await gateway.charge_saved_card(_charge(customer, "pm_nothere", "k-2"))
    assert e.value.code == "resource_missing"
    with pytest.raises(RequestRefused) as e:
        await gateway.charge_saved_card(_charge(customer, pm, "k-3", amount=100))
    assert e.value.code == "amount_too_small"
    # Refused before any attempt: no PaymentIntent, no charge, no event of one.
    assert not [e for e in await sandbox.events() if e["event"]["type"].startswith(("payment_intent.", "charge."))]
