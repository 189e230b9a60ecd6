"""P3: signed ``checkout.session.completed`` webhooks settled into the ledger, one process, SQLite.

``python -m bench.p3_webhooks [--webhooks 10000] [--concurrency 32]``

Setup (not timed): ``--webhooks`` open payment requests, made through the
app's own services. Then the load generator posts one signed event per
request, ``--concurrency`` at a time, to the app and to the baseline (a plain
handler that only verifies the signature). Afterwards the ledger is read:
every request settled once, every transaction balanced. One JSON object out.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import sqlite3
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench import harness

TARGET_PER_S = 2000
TARGET_P99_MS = 50.0


async def make_requests(env: dict[str, str], count: int) -> list[dict[str, Any]]:
    """Open payment requests, one per consult, the way the app makes them."""
    from app.__main__ import _seed, with_services
    from app.billing.serialisers import as_json
    from app.commands import CreateConsult, RequestPayment
    from app.config import Settings
    from app.models import PaymentRequest

    settings = Settings.from_env(env, dotenv=Path("/nonexistent"))
    settings = replace(settings, log_level="WARNING")

    async def action(services: Any) -> list[dict[str, Any]]:
        demo = await _seed(services)
        out = []
        for i in range(count):
            body = CreateConsult.parse(harness.consult_body(demo, i))
            consult = await services.consults.create(demo["organisation_id"], body)
            who = await services.consults.participant(consult.clinician.token)
            r = as_json(await services.payments.request(who, RequestPayment(amount=45000, description="Consultation")))
            out.append(r)
        async with services.db.read() as s:
            rows = dict((await s.execute(
                __import__("sqlalchemy").select(PaymentRequest.id, PaymentRequest.stripe_account_id))).all())
        for r in out:
            r["stripe_account_id"] = rows[r["id"]]
        return out

    return await with_services(settings, action)


def signed_bodies(requests: list[dict[str, Any]]) -> list[dict[str, str]]:
    bodies = []
    ts = int(time.time())
    for n, r in enumerate(requests):
        session_id = f"cs_bench_{n:08d}"
        event = {
            "id": f"evt_bench_{n:08d}", "object": "event", "type": "checkout.session.completed",
            "account": r["stripe_account_id"], "created": ts, "livemode": False,
            "data": {"object": {
                "id": session_id, "object": "checkout.session", "status": "complete", "payment_status": "paid",
                "amount_total": r["amount"], "currency": r["currency"].lower(), "payment_intent": f"pi_bench_{n:08d}",
                "client_reference_id": r["id"], "metadata": {"payment_request_id": r["id"]},
                "expires_at": ts + 1800}},
        }
        body = json.dumps(event)
        mac = hmac.new(harness.WEBHOOK_SECRET.encode(), f"{ts}.{body}".encode(), hashlib.sha256).hexdigest()
        bodies.append({"body": body, "signature": f"t={ts},v1={mac}"})
    return bodies


def ledger_check(db_path: Path) -> dict[str, Any]:
    with sqlite3.connect(db_path) as conn:
        paid = conn.execute("SELECT count(*) FROM payment_requests WHERE status = 'paid'").fetchone()[0]
        payments = conn.execute("SELECT count(*) FROM payments").fetchone()[0]
        unbalanced = conn.execute(
            "SELECT count(*) FROM (SELECT transaction_id FROM ledger_legs GROUP BY transaction_id, currency "
            "HAVING sum(amount) <> 0)").fetchone()[0]
    return {"requests_paid": paid, "payments": payments, "unbalanced_transactions": unbalanced}


async def main() -> None:
    p = harness.parser(__doc__ or "")
    p.add_argument("--webhooks", type=int, default=10000)
    p.add_argument("--concurrency", type=int, default=32)
    args = p.parse_args()
    with harness.workdir() as tmp:
        data = tmp / "app"
        data.mkdir()
        port = harness.free_port()
        env = harness.app_env(data, port)
        t0 = time.monotonic()
        requests = await make_requests(env, args.webhooks)
        setup_s = round(time.monotonic() - t0, 1)

        base_port = harness.free_port()
        baseline = harness.Server(["-m", "bench.webhook_baseline", str(base_port), harness.WEBHOOK_SECRET],
                                  harness.app_env(tmp, None), tmp / "baseline.log", base_port)
        try:
            await baseline.ready()
            base = harness.loadgen({"mode": "webhooks", "url": baseline.url + "/webhooks/stripe",
                                    "bodies": signed_bodies(requests), "concurrency": args.concurrency}, tmp)
        finally:
            baseline.stop()

        server = harness.app_server(env, tmp / "app.log")
        try:
            await server.ready()
            app = harness.loadgen({"mode": "webhooks", "url": server.url + "/webhooks/stripe",
                                   "bodies": signed_bodies(requests), "concurrency": args.concurrency}, tmp)
        finally:
            server.stop()
        ledger = ledger_check(data / "consultpay.db")

    harness.emit({
        "target": "P3", "what": "signed checkout.session.completed settled into the ledger, one process, SQLite",
        "webhooks": args.webhooks, "concurrency": args.concurrency, "setup_seconds": setup_s,
        "per_second": app["per_second"], "p99_ack_ms": app["p99_ms"], "p50_ack_ms": app["p50_ms"],
        "failures": app["failures"],
        "baseline_per_second": base["per_second"], "baseline_p99_ack_ms": base["p99_ms"],
        "ratio_per_second": harness.ratio(app["per_second"], base["per_second"]),
        "ratio_p99": harness.ratio(app["p99_ms"], base["p99_ms"]),
        "ledger": ledger,
        "settled_once_each": ledger["requests_paid"] == args.webhooks == ledger["payments"]
        and ledger["unbalanced_transactions"] == 0,
        "met": {"per_second": app["per_second"] >= TARGET_PER_S, "p99_ack": (app["p99_ms"] or 1e9) <= TARGET_P99_MS},
        "durability": "SQLite WAL, synchronous=NORMAL; webhooks arriving together share one transaction "
                      "(each in its own savepoint), each acknowledged after that transaction commits",
        "baseline_is": "plain aiohttp handler: verify the signature, answer 200",
    })


if __name__ == "__main__":
    asyncio.run(main())
