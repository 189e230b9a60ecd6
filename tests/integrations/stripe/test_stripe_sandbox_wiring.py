"""Mounting, persistence shared between processes, the form parser, standalone run."""

from __future__ import annotations

import asyncio
import sys

import aiohttp
import stripe
from aiohttp import web
from stripe_sandbox_support import API_KEY, bound_socket, serve

from integrations.stripe.sandbox import SANDBOX, SECRET_KEY, create_sandbox_app
from integrations.stripe.sandbox.connect import onboard
from integrations.stripe.sandbox.forms import parse_form


def test_form_parser_nests_brackets():
    parsed = parse_form(
        "mode=payment&metadata[a]=b&line_items[0][price_data][unit_amount]=45000"
        "&line_items[0][quantity]=1&line_items[1][quantity]=2&expand[]=x&expand[]=y"
        "&payment_method_types[0]=card")
    assert parsed == {
        "mode": "payment", "metadata": {"a": "b"},
        "line_items": [{"price_data": {"unit_amount": "45000"}, "quantity": "1"},
                       {"quantity": "2"}],
        "expand": ["x", "y"], "payment_method_types": ["card"],
    }


async def test_mounted_as_a_sub_app_with_shared_file(tmp_path):
    data = str(tmp_path / "stripe.sqlite3")
    sock = bound_socket()
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    public = base + "/_sandbox/stripe"
    parent = web.Application()
    sandbox_app = create_sandbox_app(public_url=public, webhook_url=None, webhook_secret=None,
                                     data_path=data)
    assert sandbox_app[SECRET_KEY].startswith("whsec_")
    parent.add_subapp("/_sandbox/stripe", sandbox_app)
    runner = await serve(parent, sock)
    # A second app on the same file, as a CLI seeder would have, never served.
    seeder = create_sandbox_app(public_url=public, webhook_url=None, webhook_secret=None,
                                data_path=data)
    http_client = stripe.AIOHTTPClient()
    client = stripe.StripeClient(API_KEY, base_addresses={"api": public, "connect": public},
                                 http_client=http_client, max_network_retries=0)
    try:
        acct = await client.v1.accounts.create_async({"type": "express"})
        onboard(seeder[SANDBOX], acct.id)  # the other "process" onboards it
        assert (await client.v1.accounts.retrieve_async(acct.id)).charges_enabled
        on_acct = stripe.StripeClient(API_KEY, stripe_account=acct.id,
                                      base_addresses={"api": public, "connect": public},
                                      http_client=http_client, max_network_retries=0)
        s = await on_acct.v1.checkout.sessions.create_async({
            "mode": "payment", "success_url": "https://x.example/ok",
            "line_items": [{"price_data": {"currency": "nok", "unit_amount": 45000,
                                           "product_data": {"name": "Consultation"}},
                            "quantity": 1}]})
        assert s.url == f"{public}/checkout/{s.id}"
        async with aiohttp.ClientSession() as http:
            async with http.get(s.url) as resp:
                assert resp.status == 200 and "NOK 450.00" in await resp.text()
    finally:
        await http_client.close_async()
        await runner.cleanup()
        seeder[SANDBOX].store.close()


async def test_standalone_prints_its_base_url():
    sock = bound_socket()
    port = sock.getsockname()[1]
    sock.close()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "integrations.stripe.sandbox", "--port", str(port),
        "--webhook-url", "http://127.0.0.1:9/hook", "--webhook-secret", "whsec_x",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), 10)
        assert f"http://127.0.0.1:{port}" in line.decode()
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/v1/checkout/sessions",
                                headers={"Authorization": f"Bearer {API_KEY}"}) as resp:
                assert resp.status == 200
    finally:
        proc.terminate()
        await proc.communicate()
