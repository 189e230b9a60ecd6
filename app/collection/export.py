"""The outgoing queue to MediPay: the exporter that empties the outbox (``app.billing.outbox``).

Queueing a card writes a ``medipay_exports`` row in the same transaction that
changes the card, so a card is never queued without its row or the reverse.
A card of a MediPay book becomes due at the next full hour (the hourly
transfer); *Send to payment* makes it due at once and starts the sender
(docs/rules.md, rule M1).

The exporter works in three steps, so that a worker may die at any point:

1. Claim due rows in one short transaction: ``pending`` rows whose time has
   come, and ``sending`` rows whose lease ran out (their worker died). On
   PostgreSQL ``SELECT … FOR UPDATE SKIP LOCKED`` lets several workers claim
   side by side without taking the same row; SQLite has one writer.
2. Check the card and ``PUT /v1/claims/{card id}`` outside any transaction,
   several at a time (bounded). The card's id is the claim id and so the
   idempotency key: sending again after a crash or a timeout answers with the
   claim MediPay already has; it never makes a second claim or SMS.
3. Apply the answers to the cards and finish the rows, a chunk per
   transaction (``app.collection.export_answers``), while the next batch,
   claimed while this one was out, is sent.

A timeout, a dropped connection or a 5xx leaves the row ``pending`` with a
growing back-off (1 min, doubling, at most 1 h), for as long as MediPay is
down. A card failing the checks, or refused by MediPay as invalid, goes to
*not exported* with the reason and is retried daily (``retry_not_exported``).

Service functions: ``outbox.queue_card`` (in a caller's transaction),
``MediPayExporter.send_to_payment`` (``app.collection.send_now``), ``.export_due``,
``.retry_not_exported``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update

from app.billing.outbox import QUEUEABLE, RETRY_EVERY, queue_card
from app.clock import Clock
from app.collection.book_credentials import credentials_for_book
from app.collection.claims import claim_for, claim_texts, notify_card
from app.collection.export_answers import Job, Outcome, record_chunk
from app.collection.export_checks import check
from app.collection.secret_box import SecretBox
from app.collection.send_now import SendToPayment
from app.consults.notifier import Notifier
from app.db import Database
from app.ids import new_id
from app.models import BillCard, Clinic, MediPayExport, Payment
from integrations.medipay.protocol import (
    Claim,
    ClaimRefused,
    Credentials,
    MediPayGateway,
    ProviderError,
)

log = logging.getLogger(__name__)
_CARDS = BillCard.__table__
# What deciding, checking and building a card's claim read of it (claim_for, check, claim_texts).
_SENT_COLUMNS = [_CARDS.c[name] for name in (
    "id", "book_id", "consult_id", "status", "exported_at", "patient_share", "national_id", "mobile", "address",
    "patient_name", "patient_email", "created_at", "admin_fee", "currency")]
# Answers recorded per write transaction: few commits, and the SQLite writer is never held for long.
APPLY_CHUNK = 100


class MediPayExporter(SendToPayment):
    def __init__(
        self,
        db: Database,
        *,
        gateway: MediPayGateway,
        clock: Clock,
        secret_key: str,
        notifier: Notifier,
        lease_seconds: int = 120,
        concurrency: int = 16,
        batch: int = 500,
    ) -> None:
        self.db = db
        self.gateway = gateway
        self.clock = clock
        self.box = SecretBox(secret_key)
        self.notifier = notifier
        self.lease = timedelta(seconds=lease_seconds)
        self.concurrency = concurrency
        self.batch = batch
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{new_id('w')[-8:]}"
        self._kicks: set[asyncio.Task[int]] = set()

    async def close(self) -> None:
        for task in list(self._kicks):
            task.cancel()
        for task in list(self._kicks):
            with contextlib.suppress(BaseException):
                await task

    # ------------------------------------------------------------ the jobs

    async def export_due(self, *, card_ids: Iterable[str] | None = None) -> int:
        """Send every row due now (``export-queue``); returns how many rows were handled.

        MediPay is not left waiting on our database between batches: the next
        batch is claimed, read and queued for sending while this one is still
        out (one pool of ``concurrency`` requests serves both, this batch's
        first), and its answers are recorded while the next one is sent. The
        batch after that is claimed only once these answers are recorded, so
        at most two batches are claimed at a time, each well inside its lease.
        """
        only = list(card_ids) if card_ids is not None else None
        now = self.clock.now()
        limit = asyncio.Semaphore(self.concurrency)
        handled = 0
        out: list[asyncio.Task[list[Outcome]]] = []  # the batches claimed, being sent, oldest first
        try:
            while True:
                jobs = await self._claim(now, only)
                if jobs:
                    out.append(asyncio.create_task(self._send_batch(jobs, limit)))
                    handled += len(jobs)
                if not out:
                    return handled
                if jobs and len(out) < 2:
                    continue  # the first batch: claim the next one while it is sent
                outcomes = await out[0]
                out.pop(0)
                await self._record(outcomes)
        finally:
            # Answers already in hand are recorded even if claiming or sending stopped with an
            # error; a batch still out is stopped, its rows keep their leases and go again later.
            for task in out:
                task.cancel()  # nothing for a batch already answered
            if out:
                await asyncio.wait(out)
            for task in out:
                if not task.cancelled() and task.exception() is None:
                    await self._record(task.result())

    async def retry_not_exported(self) -> int:
        """The daily retry: queue every *not exported* card whose day has come, then send them."""
        now = self.clock.now()
        async with self.db.write() as s:
            query = select(BillCard).where(BillCard.status == "not_exported", BillCard.next_retry_at <= now)
            if not self.db.is_sqlite:
                query = query.with_for_update(skip_locked=True)
            cards = list((await s.scalars(query.limit(10_000))).all())
            for card in cards:
                # Tried once for this day; a failure sets the next day again.
                card.next_retry_at = now + RETRY_EVERY
                await queue_card(s, card, trigger="retry", now=now)
            ids = [c.id for c in cards]
        if ids:
            await self.export_due(card_ids=ids)
        return len(ids)

    # ------------------------------------------------------------ the steps

    async def _claim(self, now: datetime, only: list[str] | None) -> list[Job]:
        """Take up to a batch of due rows: first those whose lease ran out, then pending ones, oldest first.

        Two queries rather than one with ``OR``: each walks ``ix_medipay_exports_due``
        in order and stops at the batch's size. With the ``OR`` SQLite gathered
        and sorted every due row for each batch, so a queue of 100,000 cost
        about 0.15 s per 10,000 due rows for every batch of 500.
        """
        expired = and_(MediPayExport.status == "sending", MediPayExport.lease_until < self.clock.now())
        pending = and_(MediPayExport.status == "pending", MediPayExport.available_at <= now)
        async with self.db.write() as s:
            rows = list((await s.execute(self._due(expired, only, self.batch))).all())
            if len(rows) < self.batch:
                rows += (await s.execute(self._due(pending, only, self.batch - len(rows)))).all()
            if not rows:
                return []
            # The batch's leases in one statement: the rows are not needed as objects.
            stamp = self.clock.now()
            await s.execute(
                update(MediPayExport)
                .where(MediPayExport.id.in_([r.id for r in rows]))
                .values(status="sending", lease_owner=self.owner, lease_until=stamp + self.lease,
                        attempts=MediPayExport.attempts + 1, updated_at=stamp)
                .execution_options(synchronize_session=False)
            )
            return [Job(r.id, r.bill_card_id, r.mode, r.attempts + 1) for r in rows]

    def _due(self, due: Any, only: list[str] | None, limit: int) -> Any:
        """The rows matching ``due`` that may go now, oldest due first (locked, skipping locked ones, on PostgreSQL)."""
        query = (
            select(MediPayExport.id, MediPayExport.bill_card_id, MediPayExport.mode, MediPayExport.attempts)
            .join(BillCard, BillCard.id == MediPayExport.bill_card_id)
            .join(Clinic, Clinic.id == BillCard.clinic_id)
            .where(due)
            # Manual office: the clinic's cards go only when sent one by one.
            .where(or_(MediPayExport.trigger != "hourly", Clinic.manual_office.is_(False)))
            # Not also by id: rows queued in the same hour share ``available_at``,
            # and a tie-break outside the index makes the database sort them all.
            .order_by(MediPayExport.available_at)
            .limit(limit)
        )
        if only is not None:
            query = query.where(MediPayExport.bill_card_id.in_(only))
        if not self.db.is_sqlite:
            query = query.with_for_update(skip_locked=True, of=MediPayExport)
        return query

    async def _send_batch(self, jobs: list[Job], limit: asyncio.Semaphore) -> list[Outcome]:
        """One claimed batch: read its cards at once and send the claims, ``limit`` at a time; the outcomes."""
        outcomes, sendable = await self._prepare(jobs)

        async def send(job: Job, claim: Claim, creds: Credentials) -> Outcome:
            async with limit:
                return await self._send(job, claim, creds)

        return outcomes + list(await asyncio.gather(*(send(*item) for item in sendable)))

    async def _record(self, outcomes: list[Outcome]) -> None:
        """Record a batch's answers, ``APPLY_CHUNK`` per write transaction."""
        for start in range(0, len(outcomes), APPLY_CHUNK):
            await self._apply(outcomes[start:start + APPLY_CHUNK])

    async def _prepare(self, jobs: list[Job]) -> tuple[list[Outcome], list[tuple[Job, Claim, Credentials]]]:
        ids = [job.card_id for job in jobs]
        outcomes: list[Outcome] = []
        sendable: list[tuple[Job, Claim, Credentials]] = []
        async with self.db.read() as s:
            # As rows of columns, not objects: they are only read (the checks and the claim take either).
            cards = {c.id: c for c in (await s.execute(select(*_SENT_COLUMNS).where(_CARDS.c.id.in_(ids)))).all()}
            paid = dict((await s.execute(
                select(Payment.bill_card_id, func.sum(Payment.amount))
                .where(Payment.bill_card_id.in_(ids)).group_by(Payment.bill_card_id))).all())
            texts = await claim_texts(s, list(cards.values()))
            books: dict[str | None, Credentials | None] = {}
            for book_id in {c.book_id for c in cards.values()}:
                books[book_id] = await credentials_for_book(s, book_id, self.box)
        for job in jobs:
            card = cards[job.card_id]
            creds = books.get(card.book_id)
            due = card.patient_share - int(paid.get(card.id) or 0)
            if card.status not in QUEUEABLE:
                # Exported by an earlier row, settled, or taken back: nothing to send.
                outcomes.append(Outcome(job, "finish", finish_status="sent" if card.exported_at else "failed",
                                         message="" if card.exported_at else f"card is {card.status}"))
            elif creds is None:
                outcomes.append(Outcome(job, "not_exported", reason_code="no_medipay_account",
                                         message="The card's book has no verified MediPay account."))
            elif (failure := check(card)) is not None:
                outcomes.append(Outcome(job, "not_exported", reason_code=failure.reason_code,
                                         message=failure.message))
            elif due <= 0:
                outcomes.append(Outcome(job, "finish", finish_status="failed", message="nothing to collect"))
            else:
                sendable.append((job, claim_for(card, due, *texts[card.id]), creds))
        return outcomes, sendable

    async def _send(self, job: Job, claim: Claim, creds: Credentials) -> Outcome:
        try:
            return Outcome(job, "exported", state=await self.gateway.export_claim(creds, claim))
        except ClaimRefused as e:
            if e.code != "claim_conflict":
                return Outcome(job, "not_exported", reason_code=(e.reason_code or e.code)[:40], message=e.message)
            # MediPay already holds this claim (an earlier attempt got through
            # before the card was corrected): take its state as it is.
            try:
                return Outcome(job, "exported", state=await self.gateway.get_claim(creds, claim.id))
            except ProviderError as again:
                return Outcome(job, "retry", error=again)
        except ProviderError as e:  # unreachable, timeout, 5xx, 429, bad credentials, unreadable answer
            return Outcome(job, "retry", error=e)

    async def _apply(self, outcomes: list[Outcome]) -> None:
        """Record a chunk of answers in one write transaction.

        Should one card's answer fail to record, the chunk is recorded again
        card by card, so the others are not held back; the failing card's row
        keeps its lease and is sent again when it runs out.
        """
        try:
            summaries = await self._apply_chunk(outcomes)
        except Exception:
            summaries = []
            for outcome in outcomes:
                try:
                    summaries += await self._apply_chunk([outcome])
                except Exception:
                    log.exception("export of card %s could not be recorded", outcome.job.card_id)
        for summary in summaries:
            await notify_card(self.notifier, summary)
        for outcome in outcomes:
            if outcome.kind == "retry" and outcome.error is not None:
                log.warning("MediPay export of %s will be retried: %s", outcome.job.card_id, outcome.error.message)

    async def _apply_chunk(self, outcomes: list[Outcome]) -> list[dict[str, Any]]:
        async with self.db.write() as s:
            return await record_chunk(s, outcomes, self.clock, lock=not self.db.is_sqlite)
