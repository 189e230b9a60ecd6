"""Fixtures: the MediPay sandbox and a callback receiver on real sockets, and
the app's MediPay HTTP client pointed at the sandbox."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from medipay_sandbox_support import CALLBACK_SECRET, Clock, Receiver, Running

from integrations.medipay.client import MediPayHTTPClient
from integrations.medipay.sandbox import create_sandbox_app
from tests.sandbox_support import serving


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()
    async with serving(lambda url: rec.app()) as (url, _):
        rec.url = url + "/webhooks/medipay"
        yield rec


@pytest.fixture
async def sandbox(receiver: Receiver) -> AsyncIterator[Running]:
    clock = Clock()

    def make(url: str) -> web.Application:
        return create_sandbox_app(public_url=url, callback_url=receiver.url, callback_secret=CALLBACK_SECRET,
                                  clock=clock, tick_interval_s=0.05, callback_retry_base_s=0.05,
                                  callback_retry_cap_s=0.2)

    async with serving(make) as (url, app), aiohttp.ClientSession() as http:
        client = MediPayHTTPClient(url, timeout=3)
        try:
            yield Running(url, app, clock, receiver, http, client)
        finally:
            await client.close()
