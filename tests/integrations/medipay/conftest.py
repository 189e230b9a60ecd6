"""Fixtures: the MediPay sandbox and a callback receiver on real sockets, and
the app's MediPay HTTP client pointed at the sandbox."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from medipay_sandbox_support import CALLBACK_SECRET, Clock, Receiver, Running, bound_socket, serve

from integrations.medipay.client import MediPayHTTPClient
from integrations.medipay.sandbox import create_sandbox_app


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()
    sock = bound_socket()
    rec.url = f"http://127.0.0.1:{sock.getsockname()[1]}/webhooks/medipay"
    runner = await serve(rec.app(), sock)
    yield rec
    await runner.cleanup()


@pytest.fixture
async def sandbox(receiver: Receiver) -> AsyncIterator[Running]:
    clock = Clock()
    sock = bound_socket()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    app = create_sandbox_app(public_url=url, callback_url=receiver.url, callback_secret=CALLBACK_SECRET,
                             clock=clock, tick_interval_s=0.05, callback_retry_base_s=0.05,
                             callback_retry_cap_s=0.2)
    runner = await serve(app, sock)
    http = aiohttp.ClientSession()
    client = MediPayHTTPClient(url, timeout=3)
    yield Running(url, app, clock, receiver, http, client)
    await client.close()
    await http.close()
    await runner.cleanup()
