"""R2: the MediPay export worker killed with SIGKILL at random points, then restarted.

Each round queues a batch of bill cards, starts ``python -m app run-job
export-queue`` as a real process against a standalone MediPay sandbox that is
made slow and lossy (answers delayed, dropped or failed after the claim was
stored), kills the process with SIGKILL at a random moment, then runs the job
again until the queue is empty. After every round it checks, from the app's
database and the sandbox's own records:

- lost: a card not exported, or an outbox row left unfinished;
- exported_twice: a card with more than one claim-link SMS at MediPay or more
  than one finished export row;
- unbalanced: the ledger's legs do not sum to zero.

    python bench/r2_kill_export.py [--rounds 200] [--cards 8] [--seed 1]

prints one JSON object. The test suite runs a few rounds of the same rig.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import func, select, update

ROOT = Path(__file__).resolve().parent.parent
SECRET = "mpsec_r2_kill_export_bench_secret"
FAULTS = ("timeout", "drop_after_commit", "error_after_commit", "server_error", "disconnect")


class Rig:
    def __init__(self, folder: Path, seed: int) -> None:
        self.folder = folder
        self.random = random.Random(seed)
        self.db_url = f"sqlite:///{folder / 'consultpay.db'}"
        self.sandbox: subprocess.Popen[str] | None = None
        self.sandbox_url = ""
        self.db: Any = None
        self.cards: Any = None

    # ------------------------------------------------------------ setting up
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "MEDIPAY_", "DATABASE_"))}
        env.update({
            "DATABASE_URL": self.db_url,
            "DATA_DIR": str(self.folder / "var"),
            "SECRET_KEY": "r2-kill-export-secret-key-0123456789abcdef",
            "MEDIPAY_URL": self.sandbox_url,
            "MEDIPAY_CALLBACK_SECRET": SECRET,
            # A killed worker's rows are taken again after one second.
            "MEDIPAY_EXPORT_LEASE_SECONDS": "1",
            "MEDIPAY_EXPORT_CONCURRENCY": "4",
            "LOG_LEVEL": "ERROR",
            "PORT": "1",
        })
        return env

    async def start(self) -> None:
        self.sandbox = subprocess.Popen(
            [sys.executable, "-m", "integrations.medipay.sandbox", "--port", "0", "--callback-secret", SECRET,
             "--data", str(self.folder / "medipay.db"), "--tick", "3600"],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert self.sandbox.stdout is not None
        line = self.sandbox.stdout.readline()
        self.sandbox_url = line.split(" on ", 1)[1].split()[0]

        from app.accounts.organisations import Organisations
        from app.billing.books import Books
        from app.billing.card_service import BillCards
        from app.clock import SystemClock
        from app.collection.medipay_accounts import MediPayAccounts
        from app.collection.secret_box import SecretBox
        from app.db import Database, make_engine, migrate
        from app.models import User
        from integrations.medipay.client import MediPayHTTPClient
        from integrations.medipay.sandbox.context import SANDBOX_PASSWORD

        (self.folder / "var").mkdir(exist_ok=True)
        engine = make_engine(self.db_url.replace("sqlite://", "sqlite+aiosqlite://"))
        await migrate(engine)
        self.db = Database(engine)
        clock = SystemClock()
        orgs = Organisations(self.db, clock=clock)
        await orgs.create("R2 Helse", organisation_id="org_r2")
        await orgs.add_clinic("org_r2", "R2 Legesenter", clinic_id="cli_r2")
        async with self.db.write() as s:
            s.add(User.new(organisation_id="org_r2", clinic_id="cli_r2", email="r2@example.no", name="R2",
                           role="organisation_admin", password_hash="-", now=clock.now()))
            await s.flush()
            owner = await s.scalar(select(User.id))
        book = await Books(self.db, clock=clock).create("org_r2", owner_user_id=owner, description="R2 MediPay",
                                                        export_format="medipay")
        self.book_id = book["id"]
        client = MediPayHTTPClient(self.sandbox_url)
        account = await MediPayAccounts(self.db, gateway=client, clock=clock,
                                        box=SecretBox(self.env()["SECRET_KEY"])).save(
            "org_r2", self.book_id, username="r2-clinic", password=SANDBOX_PASSWORD, actor_id=None)
        await client.close()
        assert account.status == "active", account
        self.cards = BillCards(self.db, clock=clock)

    async def stop(self) -> None:
        if self.db is not None:
            await self.db.dispose()
        if self.sandbox is not None:
            self.sandbox.send_signal(signal.SIGTERM)
            try:
                self.sandbox.wait(10)
            except subprocess.TimeoutExpired:
                self.sandbox.kill()
                self.sandbox.wait()
            if self.sandbox.stdout is not None:
                self.sandbox.stdout.close()

    # ------------------------------------------------------------ one round
    async def queue(self, n: int) -> list[str]:
        ids = []
        for i in range(n):
            card = await self.cards.create("org_r2", {
                "clinic_id": "cli_r2", "book_id": self.book_id,
                "patient": {"name": f"Pasient {i}", "national_id": "15076500565", "mobile": "+4791234567",
                            "address": {"line1": "Storgata 1", "postal_code": "0150", "city": "Oslo"}},
                "lines": [{"code": "2ad", "description": "Consultation", "patient_amount": 45000 + i,
                           "refund_amount": 0}]})
            ids.append(card["id"])
        await self.make_due()
        return ids

    async def make_due(self) -> None:
        """Time passes: the hourly transfer and every back-off are due now."""
        from datetime import UTC, datetime

        from app.models import MediPayExport

        async with self.db.write() as s:
            await s.execute(update(MediPayExport).where(MediPayExport.status == "pending")
                            .values(available_at=datetime.now(UTC) - timedelta(hours=2)))

    async def control(self, method: str, path: str, body: Any = None) -> Any:
        async with aiohttp.ClientSession() as http:
            async with http.request(method, f"{self.sandbox_url}/_control{path}", json=body) as resp:
                assert resp.status < 300, await resp.text()
                return await resp.json()

    def run_job(self, stderr: int = subprocess.DEVNULL) -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, "-m", "app", "run-job", "export-queue"], cwd=ROOT, env=self.env(),
                                stdout=subprocess.DEVNULL, stderr=stderr)

    async def round(self, n: int) -> dict[str, Any]:
        from app.models import MediPayExport

        ids = await self.queue(n)
        await self.control("DELETE", "/faults")
        for _ in range(self.random.randint(1, 3)):
            kind = self.random.choice(FAULTS)
            fault: dict[str, Any] = {"kind": kind, "path": "/v1/claims/", "next": self.random.randint(1, n)}
            if kind == "timeout":
                fault["seconds"] = round(self.random.uniform(0.1, 0.6), 2)
            await self.control("POST", "/faults", fault)
        # Slow every claim a little so the kill can land between MediPay's commit and ours.
        await self.control("POST", "/faults", {"kind": "timeout", "seconds": 0.05, "next": 1, "path": "/v1/acc"})

        worker = self.run_job()
        # Kill at a random point once the export has begun: a row claimed, a PUT
        # under way or answered, our commit done or not.
        deadline = time.monotonic() + 30
        while worker.poll() is None and time.monotonic() < deadline and not await self.begun(ids):
            await asyncio.sleep(0.01)
        await asyncio.sleep(self.random.uniform(0.0, 0.25))
        killed = worker.poll() is None
        if killed:
            worker.send_signal(signal.SIGKILL)
        worker.wait()
        async with self.db.read() as s:
            states = Counter(dict((await s.execute(
                select(MediPayExport.status, func.count()).where(MediPayExport.bill_card_id.in_(ids))
                .group_by(MediPayExport.status))).all()))
        mid_export = killed and (states["sending"] > 0 or 0 < states["sent"] + states["refused"] < n)

        await self.control("DELETE", "/faults")
        restarts = 0
        for _ in range(6):
            await asyncio.sleep(1.1)  # the dead worker's lease runs out
            await self.make_due()
            again = self.run_job(stderr=subprocess.PIPE)
            restarts += 1
            _, err = again.communicate(timeout=120)
            if again.returncode != 0:
                raise RuntimeError(f"run-job export-queue exited {again.returncode}: {err.decode()[-2000:]}")
            if await self.unfinished(ids) == 0:
                break
        return {"killed": killed, "mid_export": mid_export, "restarts": restarts, **await self.check(ids)}

    async def begun(self, ids: list[str]) -> bool:
        from app.models import MediPayExport

        async with self.db.read() as s:
            return bool(await s.scalar(select(func.count()).select_from(MediPayExport).where(
                MediPayExport.bill_card_id.in_(ids), MediPayExport.status != "pending")))

    async def unfinished(self, ids: list[str]) -> int:
        from app.models import MediPayExport

        async with self.db.read() as s:
            return int(await s.scalar(select(func.count()).select_from(MediPayExport).where(
                MediPayExport.bill_card_id.in_(ids), MediPayExport.status.in_(("pending", "sending")))) or 0)

    async def check(self, ids: list[str]) -> dict[str, int]:
        from app.models import BillCard, LedgerLeg, MediPayExport

        sms = Counter(s["claim_id"] for s in (await self.control("GET", "/sms"))["sms"]
                      if s["kind"] == "checkout_link")
        claims = Counter(c["id"] for c in (await self.control("GET", "/claims"))["claims"])
        async with self.db.read() as s:
            statuses = dict((await s.execute(select(BillCard.id, BillCard.status).where(BillCard.id.in_(ids)))).all())
            sent_rows = Counter(r for (r,) in (await s.execute(select(MediPayExport.bill_card_id).where(
                MediPayExport.bill_card_id.in_(ids), MediPayExport.status == "sent"))).all())
            totals = (await s.execute(select(func.sum(LedgerLeg.amount)).group_by(LedgerLeg.currency))).all()
        lost = sum(1 for i in ids if statuses.get(i) != "open_exported" or claims[i] != 1 or sms[i] < 1)
        lost += await self.unfinished(ids)
        twice = sum(1 for i in ids if sms[i] > 1 or claims[i] > 1 or sent_rows[i] > 1)
        return {"lost": lost, "exported_twice": twice, "unbalanced": int(any(t for (t,) in totals))}


async def run(rounds: int, cards: int, seed: int, folder: Path | None = None,
              progress: bool = False) -> dict[str, Any]:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        rig = Rig(folder or Path(tmp), seed)
        await rig.start()
        try:
            results = []
            for i in range(rounds):
                results.append(await rig.round(cards))
                if progress:
                    print(f"round {i + 1}/{rounds}: {results[-1]}", file=sys.stderr, flush=True)
        finally:
            await rig.stop()
    return {
        "benchmark": "R2 kill the export worker",
        "rounds": rounds,
        "cards_per_round": cards,
        "cards": rounds * cards,
        "killed": sum(r["killed"] for r in results),
        "killed_mid_export": sum(r["mid_export"] for r in results),
        "restarts": sum(r["restarts"] for r in results),
        "lost": sum(r["lost"] for r in results),
        "exported_twice": sum(r["exported_twice"] for r in results),
        "unbalanced_runs": sum(r["unbalanced"] for r in results),
        "seconds": round(time.perf_counter() - started, 1),
        "ok": all(r["lost"] == r["exported_twice"] == r["unbalanced"] == 0 for r in results),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--cards", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.rounds, args.cards, args.seed, progress=True))))


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
