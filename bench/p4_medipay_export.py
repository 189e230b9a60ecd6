"""P4: bill cards exported to the MediPay sandbox (target 100,000 in ≤ 60 s).

Queues N cards of a MediPay book (written straight into the outbox, as the
hourly transfer would have), then times one ``export-queue`` run against a
standalone MediPay sandbox process over HTTP. The baseline in the same run is
the same number of bare ``PUT /v1/claims`` calls to the sandbox with the same
concurrency and no database, so the ratio shows what the pipeline costs.

    python -m bench.p4_medipay_export [--cards 5000] [--concurrency 32]

prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.r2_kill_export import Rig  # noqa: E402


async def _bulk_queue(rig: Rig, n: int) -> list[str]:
    from sqlalchemy import insert

    from app.ids import new_id
    from app.models import BillCard, MediPayExport

    now = datetime.now(UTC)
    due = now - timedelta(minutes=1)
    patient = {"national_id": "15076500565", "mobile": "+4791234567",
               "address": {"line1": "Storgata 1", "postal_code": "0150", "city": "Oslo"}}
    ids = [new_id("bc") for _ in range(n)]
    cards = [dict(id=i, organisation_id="org_r2", clinic_id="cli_r2", consult_id=None, book_id=rig.book_id,
                  patient_ref=None, patient_name="Pasient", patient_email=None, address=patient["address"],
                  national_id=patient["national_id"], mobile=patient["mobile"], status="open", currency="NOK",
                  patient_share=45000, refund_share=0, admin_fee=True, created_at=now, updated_at=now,
                  medipay_version=0, medipay_admin_fee=0) for i in ids]
    rows = [dict(id=new_id("mpx"), bill_card_id=i, organisation_id="org_r2", book_id=rig.book_id, mode="checkout",
                 trigger="hourly", status="pending", attempts=0, available_at=due, created_at=now, updated_at=now)
            for i in ids]
    async with rig.db.write() as s:
        for start in range(0, n, 2000):
            await s.execute(insert(BillCard), cards[start:start + 2000])
            await s.execute(insert(MediPayExport), rows[start:start + 2000])
    return ids


async def _baseline(url: str, n: int, concurrency: int) -> float:
    import aiohttp

    from integrations.medipay.sandbox.context import SANDBOX_PASSWORD

    body = {"patient": {"name": "Pasient", "national_id": "15076500565", "mobile": "+4791234567",
                        "address": {"line1": "Storgata 1", "postal_code": "0150", "city": "Oslo"}},
            "amount": 45000, "currency": "NOK", "admin_fee": True, "description": "Consultation",
            "mode": "checkout"}
    limit = asyncio.Semaphore(concurrency)
    auth = {"Authorization": aiohttp.encode_basic_auth("baseline", SANDBOX_PASSWORD)}
    async with aiohttp.ClientSession() as http:
        async def one(i: int) -> None:
            async with limit, http.put(f"{url}/v1/claims/base_{i}", json=body, headers=auth) as resp:
                assert resp.status in (200, 201), await resp.text()

        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(n)))
        return time.perf_counter() - started


async def run(cards: int, concurrency: int) -> dict[str, Any]:
    from sqlalchemy import func, select

    from app.clock import SystemClock
    from app.consults.notifier import RecordingNotifier
    from app.ledger.medipay_export import MediPayExporter
    from app.models import BillCard
    from integrations.medipay.client import MediPayHTTPClient

    with tempfile.TemporaryDirectory() as tmp:
        rig = Rig(Path(tmp), seed=1)
        await rig.start()
        try:
            await _bulk_queue(rig, cards)
            client = MediPayHTTPClient(rig.sandbox_url)
            exporter = MediPayExporter(rig.db, gateway=client, clock=SystemClock(), secret_key=rig.env()["SECRET_KEY"],
                                       notifier=RecordingNotifier(), concurrency=concurrency)
            started = time.perf_counter()
            handled = await exporter.export_due()
            seconds = time.perf_counter() - started
            await client.close()
            async with rig.db.read() as s:
                exported = await s.scalar(select(func.count()).select_from(BillCard)
                                          .where(BillCard.status == "open_exported"))
            baseline = await _baseline(rig.sandbox_url, cards, concurrency)
        finally:
            await rig.stop()
    return {
        "benchmark": "P4 bill cards exported to the MediPay sandbox",
        "cards": cards, "concurrency": concurrency, "handled": handled, "exported": exported,
        "seconds": round(seconds, 2), "cards_per_second": round(cards / seconds),
        "baseline_bare_puts_seconds": round(baseline, 2), "ratio_to_baseline": round(seconds / baseline, 2),
        "projected_seconds_for_100000": round(100_000 / (cards / seconds)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.cards, args.concurrency))))


if __name__ == "__main__":
    main()
