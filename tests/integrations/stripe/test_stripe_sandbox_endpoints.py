"""Delivery as Stripe does it with Connect: connected accounts' events go to the
Connect endpoint and the platform's own to the account endpoint, each signed
with its endpoint's secret (with every secret of a roll)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import stripe
from aiohttp import web
from stripe_sandbox_support import Clients, Receiver, Running, bound_socket, serve

from integrations.stripe.sandbox import CONNECT_SECRET_KEY, SECRET_KEY, create_sandbox_app

ACCOUNT_SECRET = "whsec_sandbox_account"
CONNECT_SECRETS = ("whsec_sandbox_connect_new", "whsec_sandbox_connect_old")


def verifying_hook(receiver: Receiver, secrets: tuple[str, ...]) -> Any:
    """A receiver that keeps an event only if every one of ``secrets`` verifies it."""

    async def hook(request: web.Request) -> web.Response:
        receiver.calls += 1
        payload = await request.text()
        for secret in secrets:
            stripe.Webhook.construct_event(payload, request.headers["Stripe-Signature"], secret)
        receiver.received.append({"event": json.loads(payload), "headers": dict(request.headers)})
        return web.Response(text="ok")

    return hook


@pytest.fixture
async def endpoints(tmp_path: Any) -> AsyncIterator[tuple[Running, Receiver, Receiver]]:
    platform, connect = Receiver(), Receiver()
    hooks = web.Application()
    hooks.router.add_post("/account", verifying_hook(platform, (ACCOUNT_SECRET,)))
    hooks.router.add_post("/connect", verifying_hook(connect, CONNECT_SECRETS))
    hooks_sock = bound_socket()
    hooks_url = f"http://127.0.0.1:{hooks_sock.getsockname()[1]}"
    hooks_runner = await serve(hooks, hooks_sock)

    sock = bound_socket()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    app = create_sandbox_app(
        public_url=url, webhook_url=f"{hooks_url}/account", webhook_secret=ACCOUNT_SECRET,
        connect_webhook_url=f"{hooks_url}/connect", connect_webhook_secret=",".join(CONNECT_SECRETS),
        sweep_interval_s=0.1, webhook_retry_base_s=0.2,
    )
    assert (app[SECRET_KEY], app[CONNECT_SECRET_KEY]) == (ACCOUNT_SECRET, ",".join(CONNECT_SECRETS))
    runner = await serve(app, sock)
    http = aiohttp.ClientSession()
    yield Running(url, app, None, platform, ACCOUNT_SECRET, http), platform, connect  # type: ignore[arg-type]
    await http.close()
    await runner.cleanup()
    await hooks_runner.cleanup()


async def test_a_refund_on_a_connected_account_goes_to_the_connect_endpoint(
        endpoints: tuple[Running, Receiver, Receiver], tmp_path: Any) -> None:
    sandbox, platform, connect = endpoints
    clients = Clients(sandbox.url)
    try:
        client = clients.make()
        acct = await client.v1.accounts.create_async({
            "type": "express", "country": "NO", "business_profile": {"name": "Oslo Clinic"}})
        await sandbox.control(f"/_control/accounts/{acct.id}/onboard")
        on_clinic = clients.make(account=acct.id)
        session = await on_clinic.v1.checkout.sessions.create_async({
            "mode": "payment", "success_url": "https://app.example/paid", "cancel_url": "https://app.example/no",
            "line_items": [{"quantity": 1, "price_data": {
                "currency": "nok", "unit_amount": 45000, "product_data": {"name": "Consultation"}}}],
        })
        await sandbox.control(f"/_control/checkout/sessions/{session.id}/pay", {"email": "kari@example.no"})
        paid = await on_clinic.v1.checkout.sessions.retrieve_async(session.id)
        # A refund made in the clinic's dashboard: on its account, not through the platform's code.
        refund = await on_clinic.v1.refunds.create_async({"payment_intent": paid.payment_intent,
                                                          "amount": 12000})
        # And one event of the platform's own: a session on the platform account expires.
        own = await client.v1.checkout.sessions.create_async({
            "mode": "payment", "success_url": "https://app.example/paid", "cancel_url": "https://app.example/no",
            "line_items": [{"quantity": 1, "price_data": {
                "currency": "nok", "unit_amount": 45000, "product_data": {"name": "Consultation"}}}],
        })
        await client.v1.checkout.sessions.expire_async(own.id)

        await connect.wait_for(lambda r: bool(r.events("refund.created")) and bool(r.events("charge.refunded")))
        await platform.wait_for(lambda r: bool(r.events("checkout.session.expired")))
    finally:
        await clients.close()

    [created] = connect.events("refund.created")
    assert created["account"] == acct.id and created["data"]["object"]["id"] == refund.id
    assert created["livemode"] is False and created["api_version"]
    assert {e["type"] for e in connect.events()} >= {"account.updated", "checkout.session.completed",
                                                     "charge.refunded", "refund.created"}
    assert all(e["account"] == acct.id for e in connect.events())
    # Signed once per secret of the roll.
    header = connect.received[-1]["headers"]["Stripe-Signature"]
    assert re.fullmatch(r"t=\d+,v1=[0-9a-f]{64},v1=[0-9a-f]{64}", header)

    assert [e["type"] for e in platform.events()] == ["checkout.session.expired"]
    assert "account" not in platform.events()[0] and platform.events()[0]["livemode"] is False
    logged = {entry["event"]["id"]: entry for entry in await sandbox.events()}
    assert logged[created["id"]]["deliveries"][0]["endpoint"] == "connect"


async def test_without_a_connect_endpoint_connect_events_go_to_the_account_endpoint(
        sandbox: Running, client: stripe.StripeClient) -> None:
    # As ``stripe listen --forward-to`` does when no ``--forward-connect-to`` is given.
    acct = await client.v1.accounts.create_async({"type": "express", "country": "NO"})
    await sandbox.control(f"/_control/accounts/{acct.id}/onboard")
    await sandbox.receiver.wait_for(lambda r: bool(r.events("account.updated")))
    assert sandbox.receiver.events("account.updated")[0]["account"] == acct.id
