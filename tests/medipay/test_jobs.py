"""The MediPay jobs: from the command line, in the scheduler, once per period across workers (R8)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update

from app.billing.card_service import BillCards
from app.db import Database, make_engine
from app.jobs.leases import acquire, once_per, release
from app.keys import DB, SERVICES
from app.models import BillCard, MediPayExport
from tests.factories import PATIENT
from tests.medipay.conftest import Pipeline
from tests.test_config_and_cli import run_cli


def test_run_job_exports_the_queue_through_the_built_in_sandbox(tmp_path: Path) -> None:
    import asyncio

    seeded = run_cli(tmp_path, "seed-demo", "--json")
    assert seeded.returncode == 0, seeded.stderr
    demo = json.loads(seeded.stdout)
    url = f"sqlite+aiosqlite:///{tmp_path / 'cp.db'}"

    async def queue() -> str:
        db = Database(make_engine(url))
        from app.clock import SystemClock

        card = await BillCards(db, clock=SystemClock()).create(demo["organisation_id"], {
            "clinic_id": demo["clinic_id"], "book_id": demo["medipay_book_id"], "patient": dict(PATIENT),
            "lines": [{"code": "2ad", "description": "Consultation", "patient_amount": 45000}]})
        async with db.write() as s:  # the hour has come
            await s.execute(update(MediPayExport).values(available_at=datetime.now(UTC) - timedelta(minutes=1)))
        await db.dispose()
        return card["id"]

    async def status(card_id: str) -> str:
        db = Database(make_engine(url))
        async with db.read() as s:
            card = await s.get(BillCard, card_id)
        await db.dispose()
        assert card is not None
        return card.status

    card_id = asyncio.run(queue())
    for name, handled in (("export-queue", 1), ("export-queue", 0), ("retry-not-exported", 0),
                          ("sync-medipay", 0)):
        done = run_cli(tmp_path, "run-job", name)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == {"job": name, "handled": handled}, name
    assert asyncio.run(status(card_id)) == "open_exported"


async def test_the_scheduler_runs_every_medipay_job(pipeline: Pipeline) -> None:
    names = [job.name for job in pipeline.live.app[SERVICES].jobs()]
    assert names == ["expire-requests", "watch-holds", "no-shows", "export-queue", "retry-not-exported",
                     "sync-medipay"]


async def test_a_daily_job_runs_once_a_day_across_workers_and_restarts(pipeline: Pipeline) -> None:
    db, clock = pipeline.live.app[DB], pipeline.clock
    # Begin at 06:30 UTC on the next day so that "five hours later" is the same day whenever the suite runs.
    now = clock.now()
    next_morning = (now + timedelta(days=1)).replace(hour=6, minute=30, second=0, microsecond=0)
    clock.advance(seconds=(next_morning - now).total_seconds())
    runs: list[str] = []

    def worker(name: str):  # type: ignore[no-untyped-def]
        async def run() -> int:
            runs.append(name)
            return 1
        return once_per(db, clock, "daily-test", name, timedelta(days=1), timedelta(minutes=30), run)

    a, b = worker("a"), worker("b")
    assert await a() == 1 and await b() == 0 and await a() == 0
    clock.advance(hours=5)
    assert await b() == 0  # the same day, even after "restarts"
    clock.advance(days=1)
    assert await b() == 1 and await a() == 0
    assert runs == ["a", "b"]

    # A worker that dies holding the lease: nobody runs it until the lease runs out, then one does.
    clock.advance(days=1)
    assert await acquire(db, "daily-test", "dying", clock.now(), period=timedelta(days=1),
                         lease=timedelta(minutes=30))
    assert await a() == 0
    clock.advance(minutes=31)
    assert await a() == 1 and await b() == 0
    await release(db, "daily-test", "nobody", clock.now())  # not the holder: changes nothing
    assert runs == ["a", "b", "a"]


async def test_daily_retry_fires_once_per_card_per_day(pipeline: Pipeline) -> None:
    p = pipeline
    card = await p.new_card(patient={k: v for k, v in PATIENT.items() if k != "address"})
    await p.send(card["id"])
    async with p.live.app[DB].read() as s:
        first = (await s.scalar(select(BillCard).where(BillCard.id == card["id"]))).next_retry_at
    assert first == p.clock.now() + timedelta(days=1)
    await p.later(days=1)
    assert await p.retry_not_exported() == 1
    assert await p.retry_not_exported() == 0  # a second worker, or a restart, the same day
    rows = await p.exports(card["id"])
    assert [r.trigger for r in rows] == ["send_to_payment", "retry"]
