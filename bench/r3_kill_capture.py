"""R3: the web process killed with SIGKILL mid-capture of card holds, then ``run-job watch-holds``.

Each round authorises a few card holds the way patients do (the waiting room's
Checkout, paid at a standalone Stripe sandbox whose webhooks reach the web
process), asks the web process (``python -m app serve``, a real process) to
capture each of them over REST, all at once, some captures slowed or their
answers lost, and kills it with SIGKILL at a random point once a capture is
stored (its amount and idempotency key written before Stripe is called): before
Stripe acted, after Stripe captured but before our answer was applied, or after.
Then ``python -m app run-job watch-holds`` runs, with the web process still
dead and Stripe's webhooks failing, until no stored capture is left; then the
web process starts again and the late webhooks arrive. After every round it
checks every hold so far, from the app's database and the sandbox's own records:

- lost: a stored capture left unsent, or a hold captured at Stripe and not paid here;
- captured_twice: more than one capture at Stripe, payment, receipt or journal entry for one hold;
- wrong_amount: what Stripe captured, what we booked and what was asked differ;
- unbalanced: a journal entry's legs do not sum to zero;
- webhooks_failed: a webhook our restarted web process never took (a handler that kept failing);
- server_errors: a capture answered with anything but 200, 503 (Stripe unreachable) or nothing (killed).

    python bench/r3_kill_capture.py [--rounds 50] [--holds 4] [--seed 1]

prints one JSON object. The test suite runs a few rounds of the same rig.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import socketio
from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parent.parent
WEBHOOK_SECRET = "whsec_r3_kill_capture_secret"
HOLD = {"kind": "hold", "amount": 80000, "description": "Consultation, up to"}
# What may happen to one capture's call at Stripe: an outage before Stripe acts (the SDK
# retries with the same key), or Stripe captures and the answer is lost.
FAULTS = (None, "timeout", "drop_answer", "drop_answer")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Rig:
    def __init__(self, folder: Path, seed: int, database_url: str | None = None) -> None:
        self.folder = folder
        self.random = random.Random(seed)
        self.database_url = database_url or f"sqlite:///{folder / 'consultpay.db'}"
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.sandbox: asyncio.subprocess.Process | None = None
        self.sandbox_url = ""
        self.web: asyncio.subprocess.Process | None = None
        self.http: aiohttp.ClientSession | None = None
        self.db: Any = None
        self.demo: dict[str, Any] = {}
        self.asked: dict[str, int] = {}  # request id -> the amount its capture asked for

    # ------------------------------------------------------------ setting up
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "SYSTEMROOT")}
        env.update({
            "DATABASE_URL": self.database_url,
            "DATA_DIR": str(self.folder / "var"),
            "SECRET_KEY": "r3-kill-capture-secret-key-0123456789abcdef",
            "STRIPE_API_BASE": self.sandbox_url,
            "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "MEDIPAY_CALLBACK_SECRET": "mpsec_r3_kill_capture_secret",
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "PUBLIC_URL": self.url,
            "LOG_LEVEL": "ERROR",
            # A loaded machine stalls the loop now and then; the load gate has its own tests.
            "OVERLOAD_LAG_MS": "0", "OVERLOAD_QUEUE_MS": "0",
        })
        return env

    async def start(self) -> None:
        from app.config import normalise_database_url
        from app.db import Database, make_engine

        (self.folder / "var").mkdir(exist_ok=True)
        self.sandbox = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "integrations.stripe.sandbox", "--port", "0", "--data",
            str(self.folder / "stripe.db"), "--webhook-url", f"{self.url}/webhooks/stripe",
            "--webhook-secret", WEBHOOK_SECRET, cwd=ROOT, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL)
        assert self.sandbox.stdout is not None
        while True:
            line = (await asyncio.wait_for(self.sandbox.stdout.readline(), 30)).decode()
            if not line:
                raise RuntimeError("the Stripe sandbox did not start")
            if " on " in line:
                self.sandbox_url = line.split(" on ", 1)[1].split()[0]
                break
        self.http = aiohttp.ClientSession()
        # Deliveries to the dead web process are retried often enough to outlast a round.
        await self.control("POST", "/webhooks", {"retry_base_s": 0.2, "retry_cap_s": 0.5, "max_attempts": 60})
        await self.start_web()
        seed = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "app", "seed-demo", "--json", cwd=ROOT, env=self.env(),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(seed.communicate(), 120)
        if seed.returncode != 0:
            raise RuntimeError(f"seed-demo exited {seed.returncode}: {err.decode()[-2000:]}")
        self.demo = json.loads(out)
        self.db = Database(make_engine(normalise_database_url(self.database_url)))

    async def start_web(self) -> None:
        assert self.http
        log = (self.folder / "web.log").open("ab")
        self.web = await asyncio.create_subprocess_exec(sys.executable, "-m", "app", "serve", cwd=ROOT,
                                                        env=self.env(), stdout=log, stderr=log)
        log.close()
        for _ in range(600):
            if self.web.returncode is not None:
                raise RuntimeError(f"web exited: {(self.folder / 'web.log').read_text(errors='replace')[-2000:]}")
            try:
                async with self.http.get(self.url + "/readyz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
        raise RuntimeError("web process not ready")

    async def stop(self) -> None:
        for proc in (self.web, self.sandbox):
            if proc is not None and proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(proc.wait(), 15)
                except TimeoutError:
                    proc.kill()
                    await proc.wait()
        if self.http is not None:
            await self.http.close()
        if self.db is not None:
            await self.db.dispose()

    async def control(self, method: str, path: str, body: Any = None) -> Any:
        assert self.http
        async with self.http.request(method, f"{self.sandbox_url}/_control{path}", json=body) as resp:
            assert resp.status < 300, await resp.text()
            return await resp.json()

    async def api(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        assert self.http
        async with self.http.request(method, self.url + path, json=body,
                                     headers={"Authorization": f"Bearer {self.demo['api_key']}"}) as resp:
            return resp.status, await resp.json()

    # ------------------------------------------------------------ one hold, authorised
    async def authorise(self) -> str:
        """A consult whose patient authorised a hold of 800 kr in the waiting room; its request id."""
        status, consult = await self.api("POST", "/api/v1/consults", {
            "clinic_id": self.demo["clinic_id"], "external_id": "r3", "currency": "NOK", "language": "en",
            "clinician": {"id": "u-1", "name": "Dr. Nordmann"}, "payment_policy": HOLD,
            "patients": [{"id": "p-1", "name": "Kari Nordmann", "email": "kari@example.no"}]})
        assert status == 201, consult
        request_id = consult["patients"][0]["gate"]["request_id"]
        patient = socketio.AsyncClient(reconnection=False)
        try:
            await patient.connect(self.url, namespaces=["/consult"], transports=["websocket"], wait_timeout=10,
                                  auth={"token": consult["patients"][0]["token"]})
            ack = await patient.call("payment:checkout", {"request_id": request_id}, namespace="/consult",
                                     timeout=20)
        finally:
            await patient.disconnect()
        assert ack["ok"], ack
        # The patient pays on Stripe's page; checkout.session.completed tells the web process.
        await self.control("POST", f"/checkout/sessions/{ack['url'].rstrip('/').rsplit('/', 1)[1]}/pay", {})
        for _ in range(300):
            if await self.status(request_id) == "authorised":
                return request_id
            await asyncio.sleep(0.05)
        raise RuntimeError(f"hold {request_id} not authorised")

    async def status(self, request_id: str) -> str | None:
        from app.models import PaymentRequest

        async with self.db.read() as s:
            return await s.scalar(select(PaymentRequest.status).where(PaymentRequest.id == request_id))

    # ------------------------------------------------------------ one round
    async def capture(self, request_id: str, amount: int) -> int:
        """The API's answer to the capture (0: none, the web process died under it)."""
        try:
            status, _ = await self.api("POST", f"/api/v1/payment-requests/{request_id}/capture", {"amount": amount})
        except (TimeoutError, aiohttp.ClientError, ValueError):
            return 0
        return status

    async def round(self, n: int) -> dict[str, Any]:
        from app.models import PaymentRequest

        if self.web is None or self.web.returncode is not None:
            await self.start_web()
        ids = [await self.authorise() for _ in range(n)]
        async with self.db.read() as s:
            intents = dict((await s.execute(select(PaymentRequest.id, PaymentRequest.payment_intent_id)
                                            .where(PaymentRequest.id.in_(ids)))).all())
        for request_id in ids:
            fault = self.random.choice(FAULTS)
            if fault is not None:
                rule: dict[str, Any] = {"path_prefix": f"/v1/payment_intents/{intents[request_id]}/capture",
                                        "mode": fault, "count": 1}
                if fault == "timeout":
                    rule["seconds"] = round(self.random.uniform(0.05, 0.3), 2)
                await self.control("POST", "/fail", rule)
            self.asked[request_id] = self.random.randrange(20000, 80001, 100)
        tasks = [asyncio.create_task(self.capture(i, self.asked[i])) for i in ids]
        # Kill at a random point once a capture is stored: Stripe not asked yet, asked, answered, applied.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not await self.stored(ids):
            await asyncio.sleep(0.005)
        await asyncio.sleep(self.random.uniform(0.0, 0.6))
        assert self.web is not None
        killed = self.web.returncode is None
        if killed:
            self.web.send_signal(signal.SIGKILL)
        await self.web.wait()
        answers = await asyncio.gather(*tasks)
        at_kill = await self.at_kill(ids, intents)

        runs = 0
        for _ in range(5):
            job = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "app", "run-job", "watch-holds", cwd=ROOT, env=self.env(),
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
            _, err = await asyncio.wait_for(job.communicate(), 120)
            runs += 1
            if job.returncode != 0:
                raise RuntimeError(f"run-job watch-holds exited {job.returncode}: {err.decode()[-2000:]}")
            if not await self.capturing(ids):
                break
        await self.start_web()  # Stripe's late webhooks now arrive, after the job settled the captures
        return {"killed": killed, **at_kill, "job_runs": runs,
                "server_errors": sum(1 for a in answers if a not in (0, 200, 503))}

    async def at_kill(self, ids: list[str], intents: dict[str, str]) -> dict[str, int]:
        """Where each capture was when the process died: stored only, captured at Stripe only, or applied."""
        from app.models import PaymentRequest

        events = (await self.control("GET", "/events"))["events"]
        at_stripe = {e["event"]["data"]["object"]["id"] for e in events
                     if e["event"]["type"] == "payment_intent.succeeded"}
        async with self.db.read() as s:
            rows = (await s.execute(select(PaymentRequest.id, PaymentRequest.status, PaymentRequest.problem)
                                    .where(PaymentRequest.id.in_(ids)))).all()
        where = Counter("applied" if status == "paid" else "not_stored" if problem != "capturing"
                        else "captured_not_applied" if intents[i] in at_stripe else "stored_not_captured"
                        for i, status, problem in rows)
        return {k: where[k] for k in ("not_stored", "stored_not_captured", "captured_not_applied", "applied")}

    async def stored(self, ids: list[str]) -> bool:
        from app.models import PaymentRequest

        async with self.db.read() as s:
            return bool(await s.scalar(select(func.count()).select_from(PaymentRequest).where(
                PaymentRequest.id.in_(ids),
                (PaymentRequest.problem == "capturing") | (PaymentRequest.status == "paid"))))

    async def capturing(self, ids: list[str]) -> int:
        from app.models import PaymentRequest

        async with self.db.read() as s:
            return int(await s.scalar(select(func.count()).select_from(PaymentRequest).where(
                PaymentRequest.id.in_(ids), PaymentRequest.status == "authorised",
                PaymentRequest.problem == "capturing")) or 0)

    async def settle_webhooks(self, timeout: float = 30) -> dict[str, int]:
        """Wait for every webhook to be delivered or given up; how many of each."""
        deadline = time.monotonic() + timeout
        while True:
            log = (await self.control("GET", "/events"))["events"]
            states = Counter(e["delivery_status"] for e in log)
            if not states["pending"] or time.monotonic() > deadline:
                return dict(states)
            await asyncio.sleep(0.2)

    async def check(self) -> dict[str, int]:
        """Every hold so far, from our database and the sandbox's record of what it captured."""
        from app.models import LedgerLeg, LedgerTransaction, Payment, PaymentRequest, Receipt

        ids = list(self.asked)
        events = (await self.control("GET", "/events"))["events"]
        captures = Counter(e["event"]["data"]["object"]["id"] for e in events
                           if e["event"]["type"] == "payment_intent.succeeded")
        received = {e["event"]["data"]["object"]["id"]: e["event"]["data"]["object"]["amount_received"]
                    for e in events if e["event"]["type"] == "payment_intent.succeeded"}
        async with self.db.read() as s:
            rows = {r.id: r for r in await s.scalars(select(PaymentRequest).where(PaymentRequest.id.in_(ids)))}
            payments = Counter((await s.scalars(select(Payment.payment_request_id).where(
                Payment.payment_request_id.in_(ids)))).all())
            booked = dict((await s.execute(select(Payment.payment_request_id, Payment.amount).where(
                Payment.payment_request_id.in_(ids)))).all())
            receipts = Counter((await s.scalars(select(Receipt.payment_request_id).where(
                Receipt.payment_request_id.in_(ids)))).all())
            entries = Counter((await s.scalars(select(LedgerTransaction.bill_card_id).where(
                LedgerTransaction.bill_card_id.in_([r.bill_card_id for r in rows.values()])))).all())
            unbalanced = (await s.execute(select(LedgerLeg.transaction_id).group_by(LedgerLeg.transaction_id)
                                          .having(func.sum(LedgerLeg.amount) != 0))).all()
        lost = twice = wrong = captured = 0
        for i in ids:
            r = rows[i]
            at_stripe = captures[r.payment_intent_id]
            if r.status == "paid":
                captured += 1
                twice += at_stripe > 1 or payments[i] > 1 or receipts[i] > 1 or entries[r.bill_card_id] > 1
                lost += at_stripe == 0 or payments[i] == 0 or receipts[i] == 0 or entries[r.bill_card_id] == 0
                wrong += not (r.amount == booked.get(i) == received.get(r.payment_intent_id) == self.asked[i])
            else:
                # Never captured (killed before the capture was stored): nothing anywhere, nothing pending.
                lost += r.status != "authorised" or r.problem == "capturing" or at_stripe > 0
                twice += payments[i] > 0 or receipts[i] > 0
        return {"holds": len(ids), "captured": captured, "lost": lost, "captured_twice": twice,
                "wrong_amount": wrong, "unbalanced": len(unbalanced)}


async def run(rounds: int, holds: int, seed: int, folder: Path | None = None, database_url: str | None = None,
              progress: bool = False) -> dict[str, Any]:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        rig = Rig(folder or Path(tmp), seed, database_url)
        try:
            await rig.start()
            results = []
            for i in range(rounds):
                results.append(await rig.round(holds))
                if progress:
                    print(f"round {i + 1}/{rounds}: {results[-1]}", file=sys.stderr, flush=True)
            webhooks = await rig.settle_webhooks()
            checked = await rig.check()
        finally:
            await rig.stop()
    return {
        "benchmark": "R3 kill the web process mid-capture",
        "rounds": rounds,
        "holds_per_round": holds,
        "killed": sum(r["killed"] for r in results),
        **{k: sum(r[k] for r in results) for k in ("not_stored", "stored_not_captured", "captured_not_applied",
                                                  "applied")},
        "job_runs": sum(r["job_runs"] for r in results),
        "server_errors": sum(r["server_errors"] for r in results),
        **checked,
        "webhooks_failed": webhooks.get("failed", 0),
        "seconds": round(time.perf_counter() - started, 1),
        "ok": not sum(r["server_errors"] for r in results)
        and checked["lost"] == checked["captured_twice"] == checked["wrong_amount"] == checked["unbalanced"] == 0
        and not webhooks.get("failed") and not webhooks.get("pending"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--holds", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.rounds, args.holds, args.seed, progress=True))))


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
