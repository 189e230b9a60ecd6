"""The sandbox built into the app (mounted at /_sandbox/vipps where Services.vipps
points), switched by the same rules as the other sandboxes, and standalone as
``python -m integrations.vipps.sandbox`` on a data file that survives a restart."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import aiohttp
import pytest

from app.config import VIPPS_PRODUCTION, ConfigError
from app.keys import SERVICES, VIPPS, VIPPS_SANDBOX_APP
from integrations.vipps.client import VippsClient
from integrations.vipps.protocol import PaymentState, UserFlow
from integrations.vipps.sandbox import DEMO_KEYS, SANDBOX
from tests.conftest import make_settings, start_live
from tests.vipps.support import bound_socket, new_payment

PRODUCTION = {"STRIPE_SECRET_KEY": "sk_live_x", "STRIPE_WEBHOOK_SECRET": "whsec_x",
              "STRIPE_CONNECT_WEBHOOK_SECRET": "whsec_y", "MEDIPAY_URL": "https://medipay.example",
              "MEDIPAY_CALLBACK_SECRET": "mpsec_x"}


def test_the_sandbox_is_switched_by_the_same_rules_as_the_others(tmp_path: Path) -> None:
    embedded = make_settings(tmp_path)
    assert "vipps" in embedded.sandboxes and embedded.vipps_base == f"{embedded.public_url}/_sandbox/vipps"
    elsewhere = make_settings(tmp_path, VIPPS_API_BASE="https://apitest.vipps.no/")
    assert "vipps" not in elsewhere.sandboxes and elsewhere.vipps_base == "https://apitest.vipps.no"
    real = make_settings(tmp_path, **PRODUCTION)
    assert "vipps" not in real.sandboxes and real.vipps_base == VIPPS_PRODUCTION
    asked = make_settings(tmp_path, **PRODUCTION, SANDBOXES="medipay,vipps")
    assert asked.vipps_base == f"{asked.public_url}/_sandbox/vipps"
    with pytest.raises(ConfigError, match="VIPPS_API_BASE"):
        make_settings(tmp_path, VIPPS_API_BASE="ftp://vipps.example")
    with pytest.raises(ConfigError, match="SANDBOXES"):
        make_settings(tmp_path, SANDBOXES="stripe,medipay,mobilepay")


async def test_services_vipps_reaches_the_mounted_sandbox(tmp_path: Path) -> None:
    live, runner = await start_live(make_settings(tmp_path), vipps_sandbox_options={"tick_interval_s": 0.1})
    try:
        client = live.app[VIPPS]
        assert client is live.app[SERVICES].vipps and client.base_url == live.settings.vipps_base
        created = await client.create_payment(DEMO_KEYS, new_payment(UserFlow.QR), idempotency_key="wired")
        assert created.redirect_url and created.redirect_url.startswith(f"{live.url}/_sandbox/vipps/landing?token=")
        assert live.http
        landing = created.redirect_url
        async with live.http.get(landing, headers={"Accept-Language": "en"}) as resp:
            assert resp.status == 200 and "Pay with Vipps" in await resp.text()
        token = created.redirect_url.split("token=", 1)[1]
        async with live.http.post(f"{live.settings.vipps_base}/pay", allow_redirects=False,
                                  data={"token": token, "action": "approve", "from": "landing"}) as resp:
            assert resp.status == 303 and resp.headers["Location"].startswith("/_sandbox/vipps/landing?")
        assert (await client.get_payment(DEMO_KEYS, created.reference)).state is PaymentState.AUTHORIZED
        assert live.app[VIPPS_SANDBOX_APP][SANDBOX].public_url == live.settings.vipps_base
        assert (tmp_path / "var" / "vipps-sandbox.db").is_file()
    finally:
        await live.close()
        await runner.cleanup()


async def _start(port: int, data: Path) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "integrations.vipps.sandbox", "--port", str(port), "--data", str(data),
        "--tick", "0.1", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    assert proc.stdout
    line = await asyncio.wait_for(proc.stdout.readline(), 15)
    assert f"http://127.0.0.1:{port}" in line.decode() and DEMO_KEYS.merchant_serial_number in line.decode()
    return proc


async def _stop(proc: asyncio.subprocess.Process) -> None:
    proc.terminate()
    await asyncio.wait_for(proc.wait(), 15)


async def test_standalone_keeps_its_payments_across_a_restart(tmp_path: Path) -> None:
    sock = bound_socket()
    port = sock.getsockname()[1]
    sock.close()
    data = tmp_path / "vipps.db"
    client = VippsClient(f"http://127.0.0.1:{port}", timeout=5)
    proc = await _start(port, data)
    try:
        created = await client.create_payment(DEMO_KEYS, new_payment(), idempotency_key="standalone")
    finally:
        await _stop(proc)
    proc = await _start(port, data)
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/phone/4791234567") as resp:
                assert resp.status == 200 and 'name="token"' in await resp.text()
        again = await client.create_payment(DEMO_KEYS, new_payment(reference=created.reference),
                                            idempotency_key="standalone")
        assert again == created
    finally:
        await client.close()
        await _stop(proc)


async def test_a_process_without_http_reaches_the_built_in_sandbox_on_the_shared_file(tmp_path: Path) -> None:
    from app.__main__ import with_services
    from integrations.vipps.sandbox.store import Store

    settings = make_settings(tmp_path)

    async def create(services) -> str:  # type: ignore[no-untyped-def]
        assert services.vipps.base_url.startswith("http://127.0.0.1:")  # this process's own port
        created = await services.vipps.create_payment(DEMO_KEYS, new_payment(UserFlow.WEB_REDIRECT),
                                                      idempotency_key="worker")
        assert created.redirect_url and created.redirect_url.startswith(settings.vipps_base)  # the web server's
        return created.reference

    reference = await with_services(settings, create)
    store = Store(str(tmp_path / "var" / "vipps-sandbox.db"))
    try:
        assert [p["reference"] for p in store.all("payment")] == [reference]
    finally:
        store.close()
