"""The exporter records a chunk of MediPay's answers in one transaction, not card by card."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from app.collection.export import MediPayExporter
from app.keys import DB
from app.models import BillCardEvent
from tests.medipay.conftest import Pipeline


async def test_a_batch_of_answers_is_recorded_as_one_chunk(pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    p = pipeline
    cards = [await p.new_card() for _ in range(3)]
    chunks: list[tuple[int, str]] = []
    apply_chunk = MediPayExporter._apply_chunk

    async def recorded(self: MediPayExporter, outcomes: list[Any]) -> list[dict[str, Any]]:
        try:
            summaries = await apply_chunk(self, outcomes)
        except Exception as e:
            chunks.append((len(outcomes), f"failed: {e}"))
            raise
        chunks.append((len(outcomes), "recorded"))
        return summaries

    monkeypatch.setattr(MediPayExporter, "_apply_chunk", recorded)
    await p.later(minutes=30)  # the hourly transfer is due
    assert await p.export_queue() == 3

    # One transaction for the three answers; a failing chunk would be retried card by card.
    assert chunks == [(3, "recorded")]
    for card in cards:
        assert await p.status(card["id"]) == "open_exported"
        [row] = await p.exports(card["id"])
        assert row.status == "sent" and row.lease_owner is None and row.finished_at is not None
        async with p.live.app[DB].read() as s:
            events = (await s.execute(select(BillCardEvent.status_from, BillCardEvent.status_to)
                                      .where(BillCardEvent.bill_card_id == card["id"])
                                      .order_by(BillCardEvent.id))).all()
        assert [tuple(e) for e in events][-1] == ("open", "open_exported")
    async with p.live.app[DB].read() as s:
        exported = await s.scalar(select(func.count()).select_from(BillCardEvent)
                                  .where(BillCardEvent.status_to == "open_exported"))
    assert exported == 3
    assert sorted(p.medipay.puts) == sorted(c["id"] for c in cards)
    assert await p.export_queue() == 0  # nothing left, nothing sent twice
