"""The sandbox built into the app (mounted at /_sandbox/medipay, signing with
MEDIPAY_CALLBACK_SECRET, calling back to /webhooks/medipay), and standalone as
``python -m integrations.medipay.sandbox`` on a data file that survives a
restart without firing a timer twice."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import aiohttp
from medipay_sandbox_support import CALLBACK_SECRET, CREDENTIALS, Receiver, bound_socket, make_claim, serve

from integrations.medipay.client import MediPayHTTPClient
from integrations.medipay.sandbox import CALLBACK_SECRET as SECRET_KEY
from integrations.medipay.sandbox import SANDBOX
from tests.conftest import make_settings


async def test_built_in_sandbox_is_mounted_where_the_client_points(tmp_path: Path):
    from app.factory import create_app

    settings = make_settings(tmp_path)
    assert settings.medipay_sandbox
    assert settings.medipay_base == f"{settings.public_url}/_sandbox/medipay"
    app = create_app(settings, run_jobs=False)
    runner = aiohttp.web.AppRunner(app)
    await runner.setup()
    await aiohttp.web.TCPSite(runner, settings.host, settings.port).start()
    client = MediPayHTTPClient(settings.medipay_base)
    try:
        sub = next(r for r in app.router.resources() if getattr(r, "canonical", "") == "/_sandbox/medipay")
        sandbox_app = sub._app  # type: ignore[attr-defined]
        assert sandbox_app[SECRET_KEY] == settings.medipay_callback_secret
        sb = sandbox_app[SANDBOX]
        assert sb.callbacks.url == f"{settings.public_url}/webhooks/medipay"
        assert (await client.verify_account(CREDENTIALS)).status == "active"
        state = await client.export_claim(CREDENTIALS, make_claim("card_1"))
        assert state.checkout_url and state.checkout_url.startswith(
            f"{settings.public_url}/_sandbox/medipay/checkout/card_1?t=")
        async with aiohttp.ClientSession() as http:
            async with http.get(state.checkout_url, headers={"Accept-Language": "en"}) as resp:
                assert resp.status == 200 and "How do you want to pay?" in await resp.text()
            async with http.get(f"{settings.medipay_base}/") as resp:
                assert resp.status == 200 and "card_1" in await resp.text()
        assert (tmp_path / "var" / "medipay-sandbox.db").is_file()
    finally:
        await client.close()
        await runner.cleanup()


async def _start(port: int, data: Path, callback_url: str) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "integrations.medipay.sandbox", "--port", str(port),
        "--callback-url", callback_url, "--callback-secret", CALLBACK_SECRET, "--data", str(data),
        "--tick", "0.1", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    assert proc.stdout
    line = await asyncio.wait_for(proc.stdout.readline(), 15)
    assert f"http://127.0.0.1:{port}" in line.decode() and "medipay-test" in line.decode()
    return proc


async def _stop(proc: asyncio.subprocess.Process) -> None:
    proc.terminate()
    await proc.communicate()


async def test_standalone_survives_a_restart_and_fires_each_timer_once(tmp_path: Path):
    rec = Receiver()
    rsock = bound_socket()
    rec.url = f"http://127.0.0.1:{rsock.getsockname()[1]}/webhooks/medipay"
    receiver = await serve(rec.app(), rsock)
    sock = bound_socket()
    port = sock.getsockname()[1]
    sock.close()
    base = f"http://127.0.0.1:{port}"
    data = tmp_path / "medipay.sqlite3"
    client = MediPayHTTPClient(base)
    http = aiohttp.ClientSession()
    proc = await _start(port, data, rec.url)
    try:
        await client.export_claim(CREDENTIALS, make_claim("c1", amount=100_000))
        async with http.post(base + "/_control/clock/advance", json={"hours": 41}) as resp:
            assert [f["type"] for f in (await resp.json())["fired"]] == ["claim.reminder_sent"]
        await rec.wait_for(lambda r: len(r.received) == 1, timeout=10)
        await _stop(proc)
        await client.close()  # its kept-alive connection went with the old process

        proc = await _start(port, data, rec.url)
        state = await client.get_claim(CREDENTIALS, "c1")  # the claim and the clock survived
        assert state.state == "sent" and state.reminder_sent_at is not None and state.version == 2
        async with http.post(base + "/_control/clock/advance", json={"hours": 8}) as resp:
            assert [f["type"] for f in (await resp.json())["fired"]] == ["claim.invoice_sent"]
        await rec.wait_for(lambda r: len(r.received) == 2, timeout=10)
        await asyncio.sleep(0.3)  # a few ticks: nothing fires twice
        assert [e["type"] for e in rec.received] == ["claim.reminder_sent", "claim.invoice_sent"]
        async with http.get(base + "/_control/sms?claim_id=c1") as resp:
            assert [s["kind"] for s in (await resp.json())["sms"]] == ["checkout_link", "reminder", "invoice"]
    finally:
        await _stop(proc)
        await client.close()
        await http.close()
        await receiver.cleanup()


async def test_two_processes_on_one_file_fire_each_timer_once(tmp_path: Path):
    """Two sandboxes sharing a state file (as two processes would) tick at the same
    moment, each on its own thread and connection: every reminder and invoice once."""
    from concurrent.futures import ThreadPoolExecutor

    from integrations.medipay.sandbox import claims
    from integrations.medipay.sandbox.callbacks import Callbacks, DeliveryDefaults
    from integrations.medipay.sandbox.context import Sandbox
    from integrations.medipay.sandbox.store import Store
    from integrations.medipay.sandbox.validation import claim_body

    data = str(tmp_path / "shared.sqlite3")

    def sandbox() -> Sandbox:
        store = Store(data)
        return Sandbox(store=store, callbacks=Callbacks(store, None, "s", DeliveryDefaults()),
                       public_url="http://sandbox.example")

    one, two = sandbox(), sandbox()
    for i in range(40):
        claims.export(one, "clinic", f"c{i}", claim_body(make_claim(f"c{i}", amount=100_000).to_wire()))
    two.store.advance_clock(49 * 3600)  # the offset lives in the file: both see it
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(claims.fire_due, [one, two, one, two]))
    fired = [f for r in results for f in r]
    assert len(fired) == 80
    assert sorted((f["claim_id"], f["type"]) for f in fired) == sorted(
        [(f"c{i}", "claim.reminder_sent") for i in range(40)]
        + [(f"c{i}", "claim.invoice_sent") for i in range(40)])
    assert len(one.store.all("event")) == 80
    assert {c["state"] for c in two.store.all("claim")} == {"invoice_sent"}
    assert len(two.store.all("sms")) == 40 * 3
    one.store.close()
    two.store.close()
