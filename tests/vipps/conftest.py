"""Fixtures: the Vipps sandbox and a webhook receiver on real sockets, and the
client pointed at the sandbox with a merchant of the test's own."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from integrations.vipps.client import VippsClient
from integrations.vipps.sandbox import create_sandbox_app
from tests.sandbox_support import Clock, serving
from tests.vipps.support import Receiver, Running


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()
    async with serving(lambda url: rec.app()) as (url, _):
        rec.url = url + "/webhooks/vipps"
        yield rec


@pytest.fixture
async def sandbox(receiver: Receiver) -> AsyncIterator[Running]:
    clock = Clock()

    def make(url: str) -> web.Application:
        return create_sandbox_app(public_url=url, clock=clock, tick_interval_s=0.05, webhook_retry_base_s=0.05,
                                  webhook_retry_cap_s=0.2)

    async with serving(make) as (url, app), aiohttp.ClientSession() as http:
        client = VippsClient(url, timeout=3)
        running = Running(url, app, clock, receiver, http, client, keys=None)  # type: ignore[arg-type]
        try:
            running.keys = await running.merchant()
            yield running
        finally:
            await client.close()
