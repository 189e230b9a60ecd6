"""MediPay's answers to an export, recorded on the cards and their outbox rows (``app.collection.export``).

A chunk of answers is one write transaction. The answer nearly every card
gets — the claim made, ``sent``, for a card still ``open`` or ``not_exported``
— is recorded as plain rows: the chunk's cards are read as columns, and each
such card is changed by one ``UPDATE`` of many rows and its status event
added to the chunk's one insert. That is what ``apply_claim`` and the
transition table would do to it, without an object per card to load, track
and flush. Any other answer (a refusal, a stale or later state, a claim
already held, a card that changed meanwhile) is applied the general way: the
card as an object, through ``apply_claim`` or the checks' refusal, in the
same transaction.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.billing.card_views import card_summary
from app.billing.cards import batched_status_event, status_events_batched
from app.billing.outbox import QUEUEABLE, RETRY_EVERY, backoff
from app.billing.transitions import transition
from app.clock import Clock
from app.collection.claims import apply_claim, path
from app.models import BillCard, MediPayExport
from app.ready import Ready, in_session
from integrations.medipay.protocol import ClaimState, ProviderError


@dataclass(frozen=True)
class Job:
    export_id: str
    card_id: str
    mode: str
    attempts: int


@dataclass(frozen=True)
class Outcome:
    job: Job
    kind: str  # exported | not_exported | retry | finish
    state: ClaimState | None = None
    reason_code: str = ""
    message: str = ""
    error: ProviderError | None = None
    finish_status: str = ""


_EXPORTED = "open_exported"
# The statuses from which apply_claim takes a card to ``open_exported`` in one step (the transition table).
PLAIN_FROM = frozenset(s for s in ("open", "not_exported") if path(s, _EXPORTED) == [_EXPORTED])
_REASON = "MediPay: sent (export)"  # as apply_claim words it

_CARDS = BillCard.__table__
# What the plain path reads of a card: what it decides on, and what a call's panel is told.
_CARD_COLUMNS = (_CARDS.c.id, _CARDS.c.status, _CARDS.c.consult_id, _CARDS.c.patient_ref,
                 _CARDS.c.patient_share, _CARDS.c.currency, _CARDS.c.medipay_version,
                 _CARDS.c.exported_at, _CARDS.c.exported_patient_share)
# A card the claim just made has exported, as apply_claim leaves it for a ``sent`` claim.
_CARD_EXPORTED = Ready(
    _CARDS.update()
    .where(_CARDS.c.id == bindparam("card_id"))
    .values(status=_EXPORTED, medipay_version=bindparam("version"), medipay_state="sent",
            medipay_admin_fee=bindparam("fee"), medipay_reason_code=None, medipay_message=None,
            exported_at=bindparam("first_exported"), exported_patient_share=bindparam("first_share"),
            next_retry_at=None, updated_at=bindparam("at"))
)

_ROWS = MediPayExport.__table__
# A row another worker finished after our lease ran out stays as that worker left it.
_FINISH_ROW = Ready(
    _ROWS.update()
    # (three comparisons, not NOT IN: a list parameter cannot be sent many rows at a time)
    .where(_ROWS.c.id == bindparam("row_id"), _ROWS.c.status != "sent", _ROWS.c.status != "refused",
           _ROWS.c.status != "failed")
    .values(status=bindparam("to_status"), lease_owner=None, lease_until=None, last_error=bindparam("error"),
            finished_at=bindparam("at"), updated_at=bindparam("at"))
)
# Sent again later, unless it is no longer out (finished meanwhile).
_RETRY_ROW = Ready(
    _ROWS.update()
    .where(_ROWS.c.id == bindparam("row_id"), _ROWS.c.status == "sending")
    .values(status="pending", available_at=bindparam("due"), lease_owner=None, lease_until=None,
            last_error=bindparam("error"), updated_at=bindparam("at"))
)


def plain(o: Outcome, card: Any) -> bool:
    """True when ``o`` is the common answer for ``card`` (a row of ``_CARD_COLUMNS``), recorded as plain rows:
    a new claim ``sent``, newer than what the card holds, and the card one step from ``open_exported``."""
    state = o.state
    return (o.kind == "exported" and state is not None and state.state == "sent"
            and card.status in PLAIN_FROM and state.version > card.medipay_version)


async def record_chunk(s: AsyncSession, outcomes: list[Outcome], clock: Clock, *, lock: bool
                       ) -> list[dict[str, Any]]:
    """Record ``outcomes`` in the write transaction of ``s``; the summaries for the calls' panels.

    ``lock``: lock the chunk's cards, then its rows (PostgreSQL), as every
    writer of a card does.
    """
    summaries: list[dict[str, Any]] = []
    finished: list[dict[str, Any]] = []
    retried: list[dict[str, Any]] = []
    exported: list[dict[str, Any]] = []
    # The chunk's cards in one query and its rows' locks in another (PostgreSQL), not two per card.
    card_q = select(*_CARD_COLUMNS).where(_CARDS.c.id.in_([o.job.card_id for o in outcomes]))
    if lock:
        card_q = card_q.with_for_update()
    cards = {row.id: row for row in (await s.execute(card_q)).all()}
    if lock:  # the cards first, then the rows, as before
        await s.execute(select(MediPayExport.id).with_for_update()
                        .where(MediPayExport.id.in_([o.job.export_id for o in outcomes])))
    # A card answered twice in one chunk goes the general way too: its second answer must see the first.
    touched = Counter(o.job.card_id for o in outcomes if o.kind in ("exported", "not_exported"))
    general = {o.job.card_id for o in outcomes if o.kind in ("exported", "not_exported")
               and (touched[o.job.card_id] > 1 or not plain(o, cards[o.job.card_id]))}
    objects: dict[str, BillCard] = {}
    if general:
        objects = {c.id: c for c in (await s.scalars(select(BillCard).where(BillCard.id.in_(general)))).all()}
    async with status_events_batched(s):
        for o in outcomes:
            now = clock.now()
            if o.kind == "finish":
                finished.append(_finish(o.job, o.finish_status, o.message or None, now))
            elif o.kind == "retry":
                assert o.error is not None
                retried.append({"row_id": o.job.export_id, "due": now + backoff(o.job.attempts), "at": now,
                                "error": f"{o.error.code}: {o.error.message}"[:500]})
            elif o.job.card_id in objects:
                card = objects[o.job.card_id]
                if await _apply_general(s, o, card, now, finished) and card.consult_id:
                    # Only a card from a call has a panel to tell (notify_card).
                    summaries.append(card_summary(card))
            else:
                change = _exported(s, o, cards[o.job.card_id], now)
                exported.append(change)
                finished.append(_finish(o.job, "sent", None, now))
                if cards[o.job.card_id].consult_id:
                    summaries.append(card_summary(_as_changed(cards[o.job.card_id], change)))
        # On the driver (app/ready.py): the session holds none of these rows as objects.
        await in_session(s, _CARD_EXPORTED.run_many, exported)
    # The rows as plain UPDATEs of many rows each: nothing here needs them as objects.
    await in_session(s, _FINISH_ROW.run_many, finished)
    await in_session(s, _RETRY_ROW.run_many, retried)
    return summaries


def _exported(s: AsyncSession, o: Outcome, card: Any, now: datetime) -> dict[str, Any]:
    """The plain path: the card's new columns (``_CARD_EXPORTED``), its status event added to the chunk's."""
    state = o.state
    assert state is not None
    batched_status_event(s, {"bill_card_id": card.id, "status_from": card.status, "status_to": _EXPORTED,
                             "reason": _REASON[:200], "at": now})
    first = card.exported_at is None
    return {"card_id": card.id, "version": state.version, "fee": state.admin_fee_amount, "at": now,
            "first_exported": now if first else card.exported_at,
            "first_share": state.amount if first else card.exported_patient_share}


def _as_changed(card: Any, change: dict[str, Any]) -> Any:
    """A card row with a plain change applied, as ``card_summary`` reads a card."""
    return SimpleNamespace(
        id=card.id, consult_id=card.consult_id, patient_ref=card.patient_ref, status=_EXPORTED,
        patient_share=card.patient_share, currency=card.currency, medipay_state="sent",
        medipay_reason_code=None, medipay_message=None, exported_at=change["first_exported"],
        exported_patient_share=change["first_share"], medipay_admin_fee=change["fee"], next_retry_at=None)


async def _apply_general(s: AsyncSession, o: Outcome, card: BillCard, now: datetime,
                         finished: list[dict[str, Any]]) -> bool:
    """Apply an answer to its card as an object, and add its row's ending to ``finished``.

    True when the card changed in a way its call's panel should hear of.
    """
    job = o.job
    if o.kind == "exported":
        assert o.state is not None
        if card.exported_at is None:
            card.exported_at = now
            card.exported_patient_share = o.state.amount
        changed = await apply_claim(s, card, o.state, now, source="export")
        finished.append(_finish(job, "sent", None, now))
        return changed
    # not exported: the checks failed, or MediPay refused the patient's data
    if card.status in QUEUEABLE:
        if card.status == "open":
            await transition(s, card, "not_exported", f"not exported: {o.reason_code}", now)
        card.medipay_reason_code = o.reason_code
        card.medipay_message = o.message[:500]
        card.next_retry_at = now + RETRY_EVERY
        card.updated_at = now
    finished.append(_finish(job, "refused", f"{o.reason_code}: {o.message}", now))
    return True


def _finish(job: Job, status: str, error: str | None, now: datetime) -> dict[str, Any]:
    return {"row_id": job.export_id, "to_status": status, "error": error[:500] if error else None, "at": now}
