"""P4: bill cards exported to the MediPay sandbox (target 100,000 in ≤ 60 s).

Queues N cards of a MediPay book (written straight into the outbox, as the
hourly transfer would have), then times one ``export-queue`` run against a
standalone MediPay sandbox process over HTTP. The baseline in the same run is
the same number of bare ``PUT /v1/claims`` calls to the sandbox with the same
concurrency and no database, so the ratio shows what the pipeline costs.

Besides the wall-clock time, each timed part reports the CPU time the two
processes used per card: this process (the exporter: claims, HTTP client,
SQLite, all in one event loop) and the sandbox's process (read from
``/proc``). On a machine shared with other work the wall-clock figures move
with the load; the CPU per card says what one core would do on its own.

No callbacks flow back during the timed part: a claim exported in mode
``checkout`` gets its SMS and no callback (MediPay calls back on later state
changes: paid, invoice sent, rejected), and the bench's sandbox has no
callback URL. The run counts the events the sandbox raised, to show it.

    python -m bench.p4_medipay_export [--cards 5000] [--concurrency 32]
        [--engine sqlite|postgresql] [--workers N]

With ``--workers N`` the export runs as N ``python -m app run-job
export-queue`` processes side by side (their start-up is in the timed part,
and their CPU is counted as the exporter's); without it, in this process.
``--engine postgresql`` uses a fresh database on 127.0.0.1:5432, dropped after.

prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import harness  # noqa: E402
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


def _cpu_seconds(pid: int) -> float:
    """User plus system CPU time of another process, from ``/proc`` (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")




def _children_cpu() -> float:
    """CPU time of the child processes waited for so far (the worker processes)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class _Timed:
    """Wall-clock and CPU time (this process and the sandbox's) of one timed part."""

    def __init__(self, sandbox_pid: int) -> None:
        self.pid = sandbox_pid

    def __enter__(self) -> _Timed:
        self.wall, self.sandbox_cpu = time.perf_counter(), _cpu_seconds(self.pid)
        self.cpu = time.process_time() + _children_cpu()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() + _children_cpu() - self.cpu
        self.sandbox_cpu = _cpu_seconds(self.pid) - self.sandbox_cpu

    def report(self, n: int) -> dict[str, float]:
        return {"seconds": round(self.wall, 2), "per_second": round(n / self.wall),
                "client_cpu_ms_per_card": round(self.cpu / n * 1000, 3),
                "sandbox_cpu_ms_per_card": round(self.sandbox_cpu / n * 1000, 3)}


async def _events(url: str) -> int:
    import aiohttp

    async with aiohttp.ClientSession() as http, http.get(f"{url}/_control/callbacks") as resp:
        return len((await resp.json())["events"])


async def _baseline(url: str, n: int, concurrency: int) -> None:
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

        await asyncio.gather(*(one(i) for i in range(n)))


async def _worker_processes(rig: Rig, workers: int, concurrency: int) -> int:
    """N export-queue jobs side by side, as N worker machines would run them; the rows they handled."""
    env = dict(rig.env(), MEDIPAY_EXPORT_LEASE_SECONDS="120", MEDIPAY_EXPORT_CONCURRENCY=str(concurrency))
    procs = [await asyncio.create_subprocess_exec(sys.executable, "-m", "app", "run-job", "export-queue",
                                                  cwd=str(ROOT), env=env, stdout=asyncio.subprocess.PIPE)
             for _ in range(workers)]
    outputs = [await p.communicate() for p in procs]
    assert [p.returncode for p in procs] == [0] * workers
    return sum(json.loads(out.splitlines()[-1])["handled"] for out, _ in outputs)


async def run(cards: int, concurrency: int, engine: str = "sqlite", workers: int = 0) -> dict[str, Any]:
    from sqlalchemy import func, select

    from app.clock import SystemClock
    from app.collection.export import MediPayExporter
    from app.consults.notifier import RecordingNotifier
    from app.models import BillCard
    from integrations.medipay.client import MediPayHTTPClient

    async with contextlib.AsyncExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory())
        rig = Rig(Path(tmp), seed=1)
        if engine == "postgresql":
            rig.db_url = await stack.enter_async_context(harness.pg_database("cp_bench_p4"))
        try:
            await rig.start()
            await _bulk_queue(rig, cards)
            assert rig.sandbox is not None
            if workers:
                with _Timed(rig.sandbox.pid) as export:
                    handled = await _worker_processes(rig, workers, concurrency)
            else:
                client = MediPayHTTPClient(rig.sandbox_url)
                exporter = MediPayExporter(rig.db, gateway=client, clock=SystemClock(),
                                           secret_key=rig.env()["SECRET_KEY"], notifier=RecordingNotifier(),
                                           concurrency=concurrency)
                with _Timed(rig.sandbox.pid) as export:
                    handled = await exporter.export_due()
                await client.close()
            events = await _events(rig.sandbox_url)
            async with rig.db.read() as s:
                exported = await s.scalar(select(func.count()).select_from(BillCard)
                                          .where(BillCard.status == "open_exported"))
            with _Timed(rig.sandbox.pid) as baseline:
                await _baseline(rig.sandbox_url, cards, concurrency)
        finally:
            await rig.stop()
    how = f"{workers} export-queue processes side by side" if workers else "one export-queue run in process"
    return {
        "benchmark": "P4 bill cards exported to the MediPay sandbox",
        "measured": f"{how} ({engine}) against a standalone sandbox process over HTTP, then bare PUTs",
        "engine": engine, "workers": workers,
        "cards": cards, "concurrency": concurrency, "handled": handled, "exported": exported,
        "seconds": round(export.wall, 2), "cards_per_second": round(cards / export.wall),
        "baseline_bare_puts_seconds": round(baseline.wall, 2),
        "ratio_to_baseline": round(export.wall / baseline.wall, 2),
        "projected_seconds_for_100000": round(100_000 / (cards / export.wall)),
        "export": export.report(cards), "baseline_bare_puts": baseline.report(cards),
        "callbacks_during_export": events,
        "cpu_cores": os.cpu_count(), "load_average_1min_after": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--engine", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--workers", type=int, default=0, help="export-queue processes (0: in this process)")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.cards, args.concurrency, args.engine, args.workers))))


if __name__ == "__main__":
    main()
