"""Checkout Sessions through the official SDK, over real HTTP."""

from __future__ import annotations

import pytest
import stripe
from stripe_sandbox_support import Clients, Running, session_params


async def test_create_returns_a_full_open_session(sandbox: Running, client: stripe.StripeClient):
    s = await client.v1.checkout.sessions.create_async(session_params(
        client_reference_id="pr_1", customer_email="kari@example.no",
        payment_intent_data={"description": "Consultation", "metadata": {"pr": "pr_1"}},
        locale="nb"))
    assert s.id.startswith("cs_test_")
    assert s.object == "checkout.session"
    assert (s.status, s.payment_status, s.mode) == ("open", "unpaid", "payment")
    assert (s.amount_total, s.currency) == (45000, "nok")
    assert s.url == f"{sandbox.url}/checkout/{s.id}"
    assert s.expires_at == s.created + 24 * 3600
    assert s.metadata.to_dict() == {"payment_request": "pr_1"}
    assert s.client_reference_id == "pr_1" and s.customer_email == "kari@example.no"
    assert s.payment_intent is None and s.livemode is False
    assert "__line_items" not in s


async def test_retrieve_and_list(client: stripe.StripeClient):
    a = await client.v1.checkout.sessions.create_async(session_params())
    b = await client.v1.checkout.sessions.create_async(session_params())
    got = await client.v1.checkout.sessions.retrieve_async(a.id)
    assert got.id == a.id and got.amount_total == 45000
    page = await client.v1.checkout.sessions.list_async({"limit": 1})
    assert page.object == "list" and [s.id for s in page.data] == [b.id] and page.has_more
    page2 = await client.v1.checkout.sessions.list_async({"limit": 1, "starting_after": b.id})
    assert [s.id for s in page2.data] == [a.id] and not page2.has_more
    items = await client.v1.checkout.sessions.line_items.list_async(a.id)
    assert items.data[0].amount_total == 45000 and items.data[0].description == "Consultation"


async def test_unknown_parameter_is_refused(client: stripe.StripeClient):
    with pytest.raises(stripe.InvalidRequestError) as e:
        await client.v1.checkout.sessions.create_async(session_params(foo="bar"))
    assert e.value.param == "foo" and e.value.http_status == 400
    assert "Received unknown parameter: foo" in str(e.value.user_message)
    with pytest.raises(stripe.InvalidRequestError) as e:
        await client.v1.checkout.sessions.create_async(
            session_params(payment_intent_data={"colour": "red"}))
    assert e.value.param == "payment_intent_data[colour]"


@pytest.mark.parametrize(("change", "param"), [
    ({"mode": None}, "mode"),
    ({"line_items": None}, "line_items"),
    ({"line_items": [{"price_data": {"currency": "nok", "unit_amount": "abc",
                                     "product_data": {"name": "x"}}, "quantity": 1}]},
     "line_items[0][price_data][unit_amount]"),
    ({"line_items": [{"price_data": {"currency": "nok", "unit_amount": -5,
                                     "product_data": {"name": "x"}}, "quantity": 1}]},
     "line_items[0][price_data][unit_amount]"),
    ({"line_items": [{"price_data": {"currency": "nok", "unit_amount": 100,
                                     "product_data": {"name": "x"}}, "quantity": 1}]},
     "line_items"),
    ({"success_url": "not a url"}, "success_url"),
])
async def test_invalid_parameters(client: stripe.StripeClient, change, param):
    params = session_params()
    for k, v in change.items():
        if v is None:
            params.pop(k)
        else:
            params[k] = v
    with pytest.raises(stripe.InvalidRequestError) as e:
        await client.v1.checkout.sessions.create_async(params)
    assert e.value.param == param


async def test_expires_at_bounds(sandbox: Running, client: stripe.StripeClient):
    now = int(sandbox.clock.now)
    with pytest.raises(stripe.InvalidRequestError, match="at least 30 minutes"):
        await client.v1.checkout.sessions.create_async(session_params(expires_at=now + 600))
    with pytest.raises(stripe.InvalidRequestError, match="less than 24 hours"):
        await client.v1.checkout.sessions.create_async(session_params(expires_at=now + 90000))
    s = await client.v1.checkout.sessions.create_async(session_params(expires_at=now + 1800))
    assert s.expires_at == now + 1800


async def test_missing_session_is_resource_missing(client: stripe.StripeClient):
    with pytest.raises(stripe.InvalidRequestError) as e:
        await client.v1.checkout.sessions.retrieve_async("cs_test_nope")
    assert e.value.http_status == 404 and e.value.code == "resource_missing"


async def test_expire_sends_event_and_only_once(sandbox: Running, client: stripe.StripeClient):
    s = await client.v1.checkout.sessions.create_async(session_params())
    expired = await client.v1.checkout.sessions.expire_async(s.id)
    assert expired.status == "expired" and expired.url is None
    with pytest.raises(stripe.InvalidRequestError, match="can be expired"):
        await client.v1.checkout.sessions.expire_async(s.id)
    await sandbox.receiver.wait_for(lambda r: r.events("checkout.session.expired"))
    [event] = sandbox.receiver.events("checkout.session.expired")
    assert event["data"]["object"]["id"] == s.id


async def test_expiry_by_clock(sandbox: Running, client: stripe.StripeClient):
    s = await client.v1.checkout.sessions.create_async(
        session_params(expires_at=int(sandbox.clock.now) + 1800))
    sandbox.clock.now += 1801
    got = await client.v1.checkout.sessions.retrieve_async(s.id)
    assert got.status == "expired"
    await sandbox.receiver.wait_for(lambda r: r.events("checkout.session.expired"))
    assert len(sandbox.receiver.events("checkout.session.expired")) == 1


async def test_background_sweep_and_control_clock(sandbox: Running, client: stripe.StripeClient):
    s = await client.v1.checkout.sessions.create_async(session_params())
    await sandbox.control("/_control/clock/advance", {"seconds": 24 * 3600})
    await sandbox.receiver.wait_for(lambda r: r.events("checkout.session.expired"))
    assert sandbox.receiver.events()[0]["data"]["object"]["id"] == s.id


async def test_idempotent_replay_and_mismatch(client: stripe.StripeClient):
    opts = {"idempotency_key": "pr_1-attempt-1"}
    a = await client.v1.checkout.sessions.create_async(session_params(), opts)
    b = await client.v1.checkout.sessions.create_async(session_params(), opts)
    assert a.id == b.id
    assert b.last_response.headers.get("Idempotent-Replayed") == "true"
    listed = await client.v1.checkout.sessions.list_async()
    assert len(listed.data) == 1
    with pytest.raises(stripe.IdempotencyError):
        await client.v1.checkout.sessions.create_async(session_params(client_reference_id="x"),
                                                       opts)
    with pytest.raises(stripe.InvalidRequestError):
        await client.v1.checkout.sessions.create_async(session_params(),
                                                       {"idempotency_key": "k" * 256})


async def test_auth_is_required(sandbox: Running, clients: Clients):
    bad = clients.make(api_key="sk_live_nope")
    with pytest.raises(stripe.AuthenticationError, match="Invalid API Key"):
        await bad.v1.checkout.sessions.list_async()
    async with sandbox.http.get(sandbox.url + "/v1/checkout/sessions") as resp:
        assert resp.status == 401
        body = await resp.json()
    assert body["error"]["type"] == "invalid_request_error"
    assert "You did not provide an API key" in body["error"]["message"]


async def test_stripe_account_scoping(sandbox: Running, clients: Clients,
                                      client: stripe.StripeClient):
    a = await client.v1.accounts.create_async({"type": "express", "country": "NO"})
    b = await client.v1.accounts.create_async({"type": "express", "country": "NO"})
    on_a = clients.make(account=a.id)
    with pytest.raises(stripe.InvalidRequestError, match="cannot currently make charges"):
        await on_a.v1.checkout.sessions.create_async(session_params())
    await sandbox.control(f"/_control/accounts/{a.id}/onboard")
    s = await on_a.v1.checkout.sessions.create_async(session_params(
        payment_intent_data={"application_fee_amount": 1000}))
    assert (await on_a.v1.checkout.sessions.retrieve_async(s.id)).id == s.id
    with pytest.raises(stripe.InvalidRequestError) as e:
        await clients.make(account=b.id).v1.checkout.sessions.retrieve_async(s.id)
    assert e.value.http_status == 404
    with pytest.raises(stripe.InvalidRequestError):
        await client.v1.checkout.sessions.retrieve_async(s.id)
    with pytest.raises(stripe.PermissionError, match="does not have access to account"):
        await clients.make(account="acct_unknown").v1.checkout.sessions.list_async()
    with pytest.raises(stripe.InvalidRequestError, match="application_fee_amount"):
        await client.v1.checkout.sessions.create_async(session_params(
            payment_intent_data={"application_fee_amount": 1000}))
