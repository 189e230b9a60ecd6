"""Fixtures: the sandbox and a webhook receiver on real sockets, and the official
SDK pointed at the sandbox."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import stripe
from aiohttp import web
from stripe_sandbox_support import (
    WEBHOOK_SECRET,
    Clients,
    Clock,
    Receiver,
    Running,
    bound_socket,
    serve,
)

from integrations.stripe.sandbox import SECRET_KEY, create_sandbox_app


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()

    async def hook(request: web.Request) -> web.Response:
        rec.calls += 1
        payload = await request.text()
        if rec.fail_next > 0:
            rec.fail_next -= 1
            return web.Response(status=500, text="not now")
        event = stripe.Webhook.construct_event(
            payload, request.headers["Stripe-Signature"], WEBHOOK_SECRET)
        rec.received.append({"event": json.loads(payload), "headers": dict(request.headers),
                             "object": event})
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", hook)
    sock = bound_socket()
    rec.url = f"http://127.0.0.1:{sock.getsockname()[1]}/hook"
    runner = await serve(app, sock)
    yield rec
    await runner.cleanup()


@pytest.fixture
async def sandbox(receiver: Receiver, tmp_path: Any) -> AsyncIterator[Running]:
    clock = Clock()
    sock = bound_socket()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    app = create_sandbox_app(
        public_url=url, webhook_url=receiver.url, webhook_secret=WEBHOOK_SECRET,
        clock=clock, sweep_interval_s=0.1, webhook_retry_base_s=0.2,
    )
    runner = await serve(app, sock)
    http = aiohttp.ClientSession()
    yield Running(url, app, clock, receiver, app[SECRET_KEY], http)
    await http.close()
    await runner.cleanup()


@pytest.fixture
async def clients(sandbox: Running) -> AsyncIterator[Clients]:
    made = Clients(sandbox.url)
    yield made
    await made.close()


@pytest.fixture
def client(clients: Clients) -> stripe.StripeClient:
    return clients.make()
