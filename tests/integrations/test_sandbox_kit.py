"""Both sandboxes run on one small kit: the store base, the signed sender, the
app set-up and the command line — and each still behaves as its provider does."""

from __future__ import annotations

import asyncio
import re
import sys

import aiohttp

from integrations.medipay.sandbox.callbacks import Callbacks
from integrations.medipay.sandbox.store import Store as MediPayStore
from integrations.sandbox_kit.delivery import Sender
from integrations.sandbox_kit.store import SqliteStore
from integrations.stripe.sandbox.store import Store as StripeStore
from integrations.stripe.sandbox.webhooks import Webhooks

API_KEY = "sk_test_kit123456789"


def test_both_sandboxes_stand_on_the_kit() -> None:
    assert issubclass(StripeStore, SqliteStore) and issubclass(MediPayStore, SqliteStore)
    assert issubclass(Webhooks, Sender) and issubclass(Callbacks, Sender)


def test_the_sandbox_clock_moves_the_same_way_in_both() -> None:
    stripe_store, medipay_store = StripeStore(clock=lambda: 1_000.5), MediPayStore(clock=lambda: 1_000.5)
    try:
        assert stripe_store.advance_clock(60) == 1_060  # Stripe's timestamps are whole seconds
        assert medipay_store.advance_clock(60) == 1_060.5
    finally:
        stripe_store.close()
        medipay_store.close()


async def _start(*args: str) -> tuple[asyncio.subprocess.Process, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", *args, "--port", "0",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    line = (await asyncio.wait_for(proc.stdout.readline(), 15)).decode()  # type: ignore[union-attr]
    match = re.search(r"listening on (http://127\.0\.0\.1:(\d+))", line)
    assert match and match.group(2) != "0", line
    return proc, match.group(1)


async def test_a_stripe_sandbox_on_a_free_port_hands_out_links_to_that_port() -> None:
    proc, base = await _start("integrations.stripe.sandbox", "--webhook-url", "http://127.0.0.1:9/hook",
                              "--webhook-secret", "whsec_kit")
    try:
        body = {"mode": "payment", "success_url": "https://app.example/ok", "cancel_url": "https://app.example/no",
                "line_items[0][quantity]": "1", "line_items[0][price_data][currency]": "nok",
                "line_items[0][price_data][unit_amount]": "45000",
                "line_items[0][price_data][product_data][name]": "Consultation"}
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {API_KEY}"}) as http:
            async with http.post(f"{base}/v1/checkout/sessions", data=body) as resp:
                assert resp.status == 200, await resp.text()
                session = await resp.json()
            assert session["url"] == f"{base}/checkout/{session['id']}"
            async with http.get(session["url"]) as page:
                assert page.status == 200
    finally:
        proc.terminate()
        await proc.communicate()


async def test_a_medipay_sandbox_on_a_free_port_says_where_it_is() -> None:
    proc, base = await _start("integrations.medipay.sandbox", "--callback-secret", "mpsec_kit")
    try:
        auth = aiohttp.encode_basic_auth("clinic", "medipay-test")
        async with aiohttp.ClientSession(headers={"Authorization": auth}) as http:
            async with http.get(f"{base}/v1/account") as resp:
                assert resp.status == 200
                assert (await resp.json())["currency"] == "NOK"
    finally:
        proc.terminate()
        await proc.communicate()
