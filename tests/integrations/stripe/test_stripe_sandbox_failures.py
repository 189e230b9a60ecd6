"""Injected API failures surface as the SDK's own exceptions."""

from __future__ import annotations

import pytest
import stripe
from stripe_sandbox_support import Clients, Running, session_params


async def _fail(sandbox: Running, mode: str, **extra) -> None:
    await sandbox.control("/_control/fail", {"path_prefix": "/v1/checkout/sessions",
                                             "mode": mode, "count": 1, **extra})


async def test_rate_limit(sandbox: Running, client: stripe.StripeClient):
    await _fail(sandbox, "rate_limit")
    with pytest.raises(stripe.RateLimitError):
        await client.v1.checkout.sessions.list_async()
    await client.v1.checkout.sessions.list_async()


async def test_server_error_then_idempotent_retry_creates_once(sandbox: Running,
                                                               client: stripe.StripeClient):
    await _fail(sandbox, "server_error")
    opts = {"idempotency_key": "retry-me"}
    with pytest.raises(stripe.APIError):
        await client.v1.checkout.sessions.create_async(session_params(), opts)
    a = await client.v1.checkout.sessions.create_async(session_params(), opts)
    b = await client.v1.checkout.sessions.create_async(session_params(), opts)
    assert a.id == b.id
    assert len((await client.v1.checkout.sessions.list_async()).data) == 1


async def test_sdk_retries_through_a_server_error(sandbox: Running, clients: Clients):
    await _fail(sandbox, "server_error")
    retrying = clients.make(retries=2)
    s = await retrying.v1.checkout.sessions.create_async(session_params())
    assert s.status == "open"


async def test_timeout_and_disconnect(sandbox: Running, clients: Clients):
    quick = clients.make(timeout=0.3)
    await _fail(sandbox, "timeout", seconds=0.6)
    with pytest.raises(stripe.APIConnectionError):
        await quick.v1.checkout.sessions.list_async()
    # A POST: aiohttp itself retries an idempotent GET once on a dropped connection.
    await _fail(sandbox, "disconnect")
    with pytest.raises(stripe.APIConnectionError):
        await quick.v1.checkout.sessions.create_async(session_params())
    assert (await quick.v1.checkout.sessions.list_async()).object == "list"
