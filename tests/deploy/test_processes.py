"""Scale-out for real: two web processes and a worker, as separate processes, on PostgreSQL and Redis.

The clinician is connected to one web process and the patient to the other;
the request, the payment on the sandbox's hosted checkout, and "paid" reach
both through Redis. The built-in Stripe sandbox is served by web process A
only; B and the worker reach it through STRIPE_API_BASE, as docs/deploy.md
describes.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import func, select

from app.db import Database, make_engine
from app.models import LedgerLeg, Payment, PaymentRequest
from tests.conftest import free_port, pg_database, redis_env
from tests.factories import Peer, consult_body

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.postgres, pytest.mark.redis]


class Process:
    def __init__(self, name: str, args: list[str], env: dict[str, str], log: Path) -> None:
        self.name = name
        self.log = log
        self._out = log.open("wb")
        full = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "SYSTEMROOT")}
        full.update(env)
        self.proc = subprocess.Popen([sys.executable, "-m", "app", *args], cwd=ROOT, env=full,
                                     stdout=self._out, stderr=subprocess.STDOUT)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    async def stop(self, timeout: float = 15) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            for _ in range(int(timeout * 20)):
                if self.proc.poll() is not None:
                    break
                await asyncio.sleep(0.05)
            else:
                self.proc.kill()
        code = self.proc.wait()
        self._out.close()
        return code


async def wait_ready(http: aiohttp.ClientSession, url: str, proc: Process, timeout: float = 30) -> None:
    for _ in range(int(timeout * 10)):
        if proc.proc.poll() is not None:
            raise AssertionError(f"{proc.name} exited: {proc.output()}")
        try:
            async with http.get(url + "/readyz") as resp:
                if resp.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError(f"{proc.name} not ready in {timeout}s: {proc.output()}")


@asynccontextmanager
async def cluster(tmp_path: Path) -> AsyncIterator[dict]:
    async with AsyncExitStack() as stack:
        database_url = await stack.enter_async_context(pg_database())
        redis = await redis_env()
        http = await stack.enter_async_context(aiohttp.ClientSession())
        port_a, port_b = free_port(), free_port()
        url_a, url_b = f"http://127.0.0.1:{port_a}", f"http://127.0.0.1:{port_b}"
        common = {
            "DATABASE_URL": database_url,
            **redis,
            "SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
            "STRIPE_WEBHOOK_SECRET": "whsec_test_secret",
            "STRIPE_CONNECT_WEBHOOK_SECRET": "whsec_test_connect_secret",
            "MEDIPAY_CALLBACK_SECRET": "mpsec_test_secret",
            "LOG_LEVEL": "WARNING",
            # A loaded test machine stalls the loop now and then; the load gate has its own tests.
            "OVERLOAD_LAG_MS": "0", "OVERLOAD_QUEUE_MS": "0",
            "HOST": "127.0.0.1",
            "SHUTDOWN_TIMEOUT_SECONDS": "5",
        }
        # A serves the one Stripe sandbox; everyone else talks to it there.
        sandbox = f"{url_a}/_sandbox/stripe"
        env_a = {**common, "PORT": str(port_a), "DATA_DIR": str(tmp_path / "a")}
        env_b = {**common, "PORT": str(port_b), "DATA_DIR": str(tmp_path / "b"), "STRIPE_API_BASE": sandbox}
        env_w = {**common, "DATA_DIR": str(tmp_path / "w"), "STRIPE_API_BASE": sandbox}
        procs: list[Process] = []

        async def stop_all() -> None:
            for p in reversed(procs):
                await p.stop()

        stack.push_async_callback(stop_all)
        a = Process("web.1", ["serve"], env_a, tmp_path / "web1.log")
        procs.append(a)
        await wait_ready(http, url_a, a)
        b = Process("web.2", ["serve"], env_b, tmp_path / "web2.log")
        procs.append(b)
        w = Process("worker.1", ["worker"], env_w, tmp_path / "worker.log")
        procs.append(w)
        await wait_ready(http, url_b, b)
        seed = subprocess.run([sys.executable, "-m", "app", "seed-demo", "--json"], cwd=ROOT, capture_output=True,
                              env={**{k: os.environ[k] for k in ("PATH",) if k in os.environ}, **env_w}, timeout=60)
        assert seed.returncode == 0, seed.stderr.decode()
        demo = json.loads(seed.stdout)
        yield {"a": url_a, "b": url_b, "sandbox": sandbox, "demo": demo, "http": http, "procs": procs,
               "database_url": database_url}


async def test_clinician_on_one_process_patient_on_another(tmp_path: Path) -> None:
    async with cluster(tmp_path) as c:
        http: aiohttp.ClientSession = c["http"]
        headers = {"Authorization": f"Bearer {c['demo']['api_key']}"}
        async with http.post(c["b"] + "/api/v1/consults", json=consult_body(c["demo"]["clinic_id"]),
                             headers=headers) as resp:
            assert resp.status == 201, await resp.text()
            consult = await resp.json()

        clinician, patient = Peer(), Peer()
        try:
            await clinician.connect(c["a"], consult["clinician"]["token"])
            await patient.connect(c["b"], consult["patients"][0]["token"])
            await clinician.wait_for("consult:state")
            await patient.wait_for("consult:state")

            ack = await clinician.call("payment:request", {"amount": 45000, "description": "Consultation"})
            assert ack["ok"], ack
            request_id = ack["request"]["id"]
            # Stored on A, pushed to the patient on B through Redis.
            pushed = await patient.wait_for("payment:requested", timeout=10)
            assert pushed["request"]["id"] == request_id

            # B opens the checkout at the sandbox A serves.
            ack = await patient.call("payment:checkout", {"request_id": request_id})
            assert ack["ok"], ack
            assert ack["url"].startswith(c["sandbox"] + "/checkout/cs_")
            form = {"email": "kari@example.no", "card_number": "4242 4242 4242 4242", "exp": "12/34", "cvc": "123"}
            async with http.post(ack["url"], data=form) as resp:
                assert resp.status == 200
                assert str(resp.url).startswith(c["b"] + "/checkout/return")

            # The signed webhook lands on A; both people see "paid", wherever they are connected.
            received = await clinician.wait_for("payment:received", timeout=15)
            assert received["request"]["status"] == "paid"
            done = await patient.wait_for("payment:updated", lambda d: d["request"]["status"] == "paid", timeout=15)
            assert done["request"]["id"] == request_id
        finally:
            await clinician.close()
            await patient.close()

        engine = make_engine(c["database_url"].replace("postgresql://", "postgresql+asyncpg://"))
        try:
            db = Database(engine)
            async with db.read() as s:
                assert await s.scalar(select(PaymentRequest.status).where(PaymentRequest.id == request_id)) == "paid"
                assert list((await s.execute(select(Payment.amount, Payment.method))).all()) == [(45000, "stripe")]
                sums = (await s.execute(select(func.sum(LedgerLeg.amount)).group_by(LedgerLeg.currency))).all()
                assert all(total == 0 for (total,) in sums)
        finally:
            await engine.dispose()

        # SIGTERM: each process finishes what it is doing and exits cleanly.
        for proc in reversed(c["procs"]):
            assert await proc.stop() == 0, proc.output()
