"""Fixtures: the Vipps sandbox and a webhook receiver on real sockets, and the
client pointed at the sandbox with a merchant of the test's own."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest

from integrations.vipps.client import VippsClient
from integrations.vipps.sandbox import create_sandbox_app
from tests.vipps.support import Clock, Receiver, Running, bound_socket, serve


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()
    sock = bound_socket()
    rec.url = f"http://127.0.0.1:{sock.getsockname()[1]}/webhooks/vipps"
    runner = await serve(rec.app(), sock)
    yield rec
    await asyncio.wait_for(runner.cleanup(), 15)


@pytest.fixture
async def sandbox(receiver: Receiver) -> AsyncIterator[Running]:
    clock = Clock()
    sock = bound_socket()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    app = create_sandbox_app(public_url=url, clock=clock, tick_interval_s=0.05, webhook_retry_base_s=0.05,
                             webhook_retry_cap_s=0.2)
    runner = await serve(app, sock)
    http = aiohttp.ClientSession()
    client = VippsClient(url, timeout=3)
    running = Running(url, app, clock, receiver, http, client, keys=None)  # type: ignore[arg-type]
    running.keys = await running.merchant()
    yield running
    await client.close()
    await http.close()
    await asyncio.wait_for(runner.cleanup(), 15)
