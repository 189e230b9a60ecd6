"""The exporter records a chunk of MediPay's answers in one transaction, not card by card."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event, func, select, update

from app.collection import export_answers
from app.collection.export import MediPayExporter
from app.collection.export_answers import Job, Outcome, record_chunk
from app.keys import DB
from app.models import BillCard, BillCardEvent
from integrations.medipay.protocol import ClaimState
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


# ---------------------------------------------------------------- the plain path of an answer

async def _chunk(p: Pipeline, cards: list[dict[str, Any]], *, version: int = 1) -> list[Outcome]:
    """The answer MediPay gives a new claim (``sent``), for each card's open outbox row."""
    outcomes = []
    for card in cards:
        [row] = await p.exports(card["id"])
        state = ClaimState(id=card["id"], state="sent", mode="checkout", amount=card["patient_share"],
                           admin_fee_amount=3900, total=card["patient_share"] + 3900, currency="NOK",
                           version=version, created_at=p.clock.now())
        outcomes.append(Outcome(Job(row.id, card["id"], "checkout", 1), "exported", state=state))
    return outcomes


async def _record(p: Pipeline, outcomes: list[Outcome]) -> list[dict[str, Any]]:
    async with p.live.app[DB].write() as s:
        return await record_chunk(s, outcomes, p.clock, lock=False)


async def _card_and_events(p: Pipeline, card_id: str) -> tuple[dict[str, Any], list[tuple[Any, ...]]]:
    async with p.live.app[DB].read() as s:
        row = (await s.execute(select(BillCard.__table__).where(BillCard.id == card_id))).one()._asdict()
        events = (await s.execute(select(BillCardEvent.status_from, BillCardEvent.status_to, BillCardEvent.reason,
                                         BillCardEvent.at).where(BillCardEvent.bill_card_id == card_id)
                                  .order_by(BillCardEvent.id))).all()
    return {k: v for k, v in row.items() if k != "id"}, [tuple(e) for e in events]


async def test_the_plain_path_leaves_a_card_as_the_general_path_does(
        pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> None:
    p = pipeline
    consults = [(await p.live.consult())["id"], (await p.live.consult())["id"]]
    # One card from a call (its panel is told) and one over REST, each way.
    plain_cards = [await p.new_card(), await p.new_card()]
    general_cards = [await p.new_card(), await p.new_card()]
    for pair, consult_id in zip((plain_cards, general_cards), consults, strict=True):
        async with p.live.app[DB].write() as s:
            await s.execute(update(BillCard).where(BillCard.id == pair[0]["id"]).values(consult_id=consult_id))
    await p.later(minutes=1)
    plain_summaries = await _record(p, await _chunk(p, plain_cards))
    monkeypatch.setattr(export_answers, "plain", lambda o, card: False)
    general_summaries = await _record(p, await _chunk(p, general_cards))

    for made_plain, made_general in zip(plain_cards, general_cards, strict=True):
        plain_card, plain_events = await _card_and_events(p, made_plain["id"])
        general_card, general_events = await _card_and_events(p, made_general["id"])
        assert plain_card["status"] == "open_exported" and plain_card["medipay_version"] == 1
        assert plain_card == {**general_card, "consult_id": plain_card["consult_id"]}
        assert plain_events == general_events
    assert [s["consult_id"] for s in plain_summaries + general_summaries] == consults
    assert [{**s, "id": None, "consult_id": None} for s in plain_summaries] == \
        [{**s, "id": None, "consult_id": None} for s in general_summaries]
    for card in plain_cards + general_cards:
        [row] = await p.exports(card["id"])
        assert row.status == "sent" and row.lease_owner is None


async def test_an_answer_the_card_is_not_ready_for_goes_the_general_way(pipeline: Pipeline) -> None:
    p = pipeline
    stale, twice, taken_back = await p.new_card(), await p.new_card(), await p.new_card()
    async with p.live.app[DB].write() as s:
        # The card already holds a newer claim; the other was taken back to be worked on.
        await s.execute(update(BillCard).where(BillCard.id == stale["id"]).values(medipay_version=5))
        await s.execute(update(BillCard).where(BillCard.id == taken_back["id"]).values(status="under_work"))
    outcomes = await _chunk(p, [stale, twice, taken_back])
    outcomes.append(outcomes[1])  # the same card answered twice in one chunk
    await _record(p, outcomes)

    card, events = await _card_and_events(p, stale["id"])
    assert card["status"] == "open" and card["medipay_version"] == 5 and events[-1][1] == "open"
    card, events = await _card_and_events(p, twice["id"])
    assert card["status"] == "open_exported" and [e[1] for e in events].count("open_exported") == 1
    card, events = await _card_and_events(p, taken_back["id"])
    assert card["status"] == "under_work" and card["medipay_state"] == "sent"  # apply_claim's own rule


async def test_a_chunk_of_answers_is_the_same_statements_whatever_its_size(pipeline: Pipeline) -> None:
    p = pipeline
    counts = []
    for size in (2, 6):
        outcomes = await _chunk(p, [await p.new_card() for _ in range(size)])
        statements: list[str] = []

        def heard(conn: Any, cursor: Any, sql: str, *args: Any, into: list[str] = statements) -> None:
            into.append(sql.split()[0])

        engine = p.live.app[DB].engine.sync_engine
        event.listen(engine, "before_cursor_execute", heard)
        try:
            await _record(p, outcomes)
        finally:
            event.remove(engine, "before_cursor_execute", heard)
        counts.append(statements)
    # After BEGIN: the cards read (as columns, no objects), one UPDATE of the cards, one insert of
    # their status events, one UPDATE of the rows.
    assert counts[0] == counts[1] == ["SELECT", "UPDATE", "INSERT", "UPDATE"]
