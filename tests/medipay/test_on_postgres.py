"""The pipeline on PostgreSQL: several exporters side by side, concurrent callbacks."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

from sqlalchemy import func, select, update

from app.collection.export import MediPayExporter
from app.keys import DB, SETTINGS
from app.models import MediPayEvent, MediPayExport, Payment
from tests.medipay.conftest import Pipeline


async def test_paths_on_postgres(pipeline_pg: Pipeline) -> None:
    p = pipeline_pg
    card = await p.new_card()
    await p.later(hours=1)
    assert await p.export_queue() == 1
    await p.medipay.choose(card["id"], "vipps")
    after = await p.card(card["id"])
    assert after["status"] == "paid" and [x["method"] for x in after["payments"]] == ["vipps"]
    status, body = await p.live.api("PATCH", f"/api/v1/bill-cards/{card['id']}", {"patient_share": 1})
    assert status == 409
    assert await p.live.ledger_balanced()


async def test_two_exporters_at_once_claim_each_row_once(pipeline_pg: Pipeline) -> None:
    p = pipeline_pg
    cards = [await p.new_card() for _ in range(30)]
    await p.later(hours=1)
    p.medipay.delay = 0.02
    settings = p.live.app[SETTINGS]
    workers = [
        MediPayExporter(p.live.app[DB], gateway=p.medipay, clock=p.clock, secret_key=settings.secret_key,
                        notifier=_Quiet(),
                        concurrency=4, batch=5)
        for _ in range(2)
    ]
    handled = await asyncio.gather(*(w.export_due() for w in workers))
    assert sum(handled) == 30 and all(h > 0 for h in handled)  # both did work, neither twice
    assert Counter(p.medipay.puts) == Counter({c["id"]: 1 for c in cards})
    assert [await p.status(c["id"]) for c in cards] == ["open_exported"] * 30
    rows = await p.live.rows(select(MediPayExport.status, func.count()).group_by(MediPayExport.status))
    assert dict(rows) == {"sent": 30}


async def test_a_dead_workers_rows_are_taken_again_after_the_lease(pipeline_pg: Pipeline) -> None:
    p = pipeline_pg
    card = await p.new_card()
    await p.later(hours=1)
    # A worker claimed the row and died before sending.
    async with p.live.app[DB].write() as s:
        await s.execute(update(MediPayExport).values(status="sending", lease_owner="dead",
                                                     lease_until=p.clock.now() + timedelta(seconds=120), attempts=1))
    assert await p.export_queue() == 0  # still leased
    await p.later(minutes=3)
    assert await p.export_queue() == 1
    assert await p.status(card["id"]) == "open_exported" and p.medipay.puts == [card["id"]]


async def test_concurrent_duplicate_callbacks_settle_once(pipeline_pg: Pipeline) -> None:
    p = pipeline_pg
    card = await p.new_card()
    await p.send(card["id"])
    p.medipay.deliver = False
    await p.medipay.choose(card["id"], "card")
    body, header = p.medipay.events[-1]
    answers = await asyncio.gather(*(p.medipay.post(body, header) for _ in range(6)))
    outcomes = Counter(a[1]["outcome"] for a in answers)
    assert all(a[0] == 200 for a in answers)
    assert outcomes["applied"] == 1 and outcomes["duplicate"] == 5
    assert await p.live.scalar(select(func.count()).select_from(Payment)) == 1
    assert await p.live.scalar(select(func.count()).select_from(MediPayEvent)) == 1
    assert await p.live.ledger_balanced()


class _Quiet:
    async def emit(self, event: str, data: dict, *, room: str) -> None:
        return None

    async def consult_ended(self, consult_id: str, data: dict) -> None:
        return None
