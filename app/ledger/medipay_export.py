"""The outgoing queue to MediPay: the outbox, and the exporter that empties it.

Queueing a card writes a ``medipay_exports`` row in the same transaction that
changes the card, so a card is never queued without its row or the reverse.
A card of a MediPay book becomes due at the next full hour (the hourly
transfer); *Send to payment* makes it due at once and starts the sender.

The exporter works in three steps, so that a worker may die at any point:

1. Claim due rows in one short transaction: ``pending`` rows whose time has
   come, and ``sending`` rows whose lease ran out (their worker died). On
   PostgreSQL ``SELECT … FOR UPDATE SKIP LOCKED`` lets several workers claim
   side by side without taking the same row; SQLite has one writer.
2. Check the card and ``PUT /v1/claims/{card id}`` outside any transaction,
   several at a time (bounded). The card's id is the claim id and so the
   idempotency key: sending again after a crash or a timeout answers with the
   claim MediPay already has; it never makes a second claim or SMS.
3. Apply the answer to the card and finish the row in one transaction.

A timeout, a dropped connection or a 5xx leaves the row ``pending`` with a
growing back-off (1 min, doubling, at most 1 h), for as long as MediPay is
down. A card failing the checks, or refused by MediPay as invalid, goes to
*not exported* with the reason and is retried daily (``retry_not_exported``).

Service functions: ``outbox.queue_card`` (in a caller's transaction),
``MediPayExporter.send_to_payment``, ``.export_due``, ``.retry_not_exported``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app import audit
from app.clock import Clock
from app.consults.notifier import Notifier, clinician_room, patient_room, request_changed
from app.db import Database
from app.errors import Conflict
from app.ids import new_id
from app.ledger.card_service import owned_card
from app.ledger.cards import card_view, paid_total
from app.ledger.export_checks import check
from app.ledger.medipay_books import credentials_for_book
from app.ledger.medipay_claims import apply_claim, card_summary
from app.ledger.outbox import QUEUEABLE, RETRY_EVERY, backoff, queue_card
from app.ledger.secrets import SecretBox
from app.ledger.transitions import transition
from app.models import BillCard, Clinic, MediPayExport, PaymentRequest
from integrations.medipay.protocol import (
    Address,
    Claim,
    ClaimPatient,
    ClaimRefused,
    ClaimState,
    InvalidCredentials,
    MediPayGateway,
    ProviderError,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Job:
    export_id: str
    card_id: str
    mode: str
    attempts: int


class MediPayExporter:
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

    # ------------------------------------------------------------ send to payment

    async def send_to_payment(
        self, organisation_id: str, card_id: str, *, actor_type: str = "api", actor_id: str | None = None,
        wait: float = 5.0,
    ) -> dict[str, Any]:
        """*Send til betaling*: queue one card due now and send it at once.

        Waits up to ``wait`` seconds for MediPay's answer; a slower export goes
        on in the background (and its row is there for the next run anyway).
        """
        async with self.db.write() as s:
            card = await owned_card(s, organisation_id, card_id, lock=True)
            now = self.clock.now()
            if card.status in ("paid", "invoice_paid"):
                raise Conflict("card_settled", "The card is paid: there is nothing to send.")
            if card.status not in QUEUEABLE | {"under_work"}:
                raise Conflict("already_exported", "The card has already been sent to MediPay.",
                               status=card.status)
            if await credentials_for_book(s, card.book_id, self.box) is None:
                raise Conflict("book_not_medipay",
                               "The card's book does not export to MediPay, or its MediPay account is not verified.")
            if card.patient_share - await paid_total(s, card.id) <= 0:
                raise Conflict("nothing_to_collect", "The card has no unpaid patient share to send.")
            taken_over: list[Any] = []
            if card.status == "under_work":
                taken_over = await self._take_over_requests(s, card, now)
                await transition(s, card, "open", "sent to payment", now)
            await queue_card(s, card, trigger="send_to_payment", now=now)
            audit.record(s, organisation_id=organisation_id, clinic_id=card.clinic_id, actor_type=actor_type,
                         actor_id=actor_id, action="bill_card.sent_to_payment", subject_type="bill_card",
                         subject_id=card.id, at=now, details=None)
        for view in taken_over:
            await request_changed(self.notifier, view)
        task = asyncio.create_task(self.export_due(card_ids=[card_id]))
        self._kicks.add(task)
        task.add_done_callback(self._kicks.discard)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(task), wait)
        async with self.db.read() as s:
            return await card_view(s, await owned_card(s, organisation_id, card_id))

    @staticmethod
    async def _take_over_requests(s: AsyncSession, card: BillCard, now: datetime) -> list[dict[str, Any]]:
        """The call's open requests on this card now go through MediPay: the patient cannot also pay them in the call.

        A checkout already open may be being paid this minute, so that card waits.
        """
        from app.consults.payments import finish_unpaid
        from app.consults.views import request_view

        requests = (await s.scalars(select(PaymentRequest).where(
            PaymentRequest.bill_card_id == card.id, PaymentRequest.status.in_(("requested", "checkout_open")))
            .with_for_update())).all()
        if any(r.status == "checkout_open" for r in requests):
            raise Conflict("checkout_open", "The patient has the payment page open; wait for it to finish.")
        for r in requests:
            await finish_unpaid(s, r, "cancelled", "sent to MediPay", now, keep_line=True)
        return [request_view(r) for r in requests]

    async def close(self) -> None:
        for task in list(self._kicks):
            task.cancel()
        for task in list(self._kicks):
            with contextlib.suppress(BaseException):
                await task

    # ------------------------------------------------------------ the jobs

    async def export_due(self, *, card_ids: Iterable[str] | None = None) -> int:
        """Send every row due now (``export-queue``); returns how many rows were handled."""
        only = list(card_ids) if card_ids is not None else None
        now = self.clock.now()
        handled = 0
        limit = asyncio.Semaphore(self.concurrency)

        async def one(job: _Job) -> None:
            async with limit:
                try:
                    await self._export(job)
                except Exception:
                    # The row keeps its lease and is taken again when it runs out.
                    log.exception("export of card %s failed", job.card_id)

        while True:
            jobs = await self._claim(now, only)
            if not jobs:
                return handled
            await asyncio.gather(*(one(job) for job in jobs))
            handled += len(jobs)

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

    async def _claim(self, now: datetime, only: list[str] | None) -> list[_Job]:
        due = or_(
            and_(MediPayExport.status == "pending", MediPayExport.available_at <= now),
            and_(MediPayExport.status == "sending", MediPayExport.lease_until < self.clock.now()),
        )
        query = (
            select(MediPayExport)
            .join(BillCard, BillCard.id == MediPayExport.bill_card_id)
            .join(Clinic, Clinic.id == BillCard.clinic_id)
            .where(due)
            # Manual office: the clinic's cards go only when sent one by one.
            .where(or_(MediPayExport.trigger != "hourly", Clinic.manual_office.is_(False)))
            .order_by(MediPayExport.available_at, MediPayExport.id)
            .limit(self.batch)
        )
        if only is not None:
            query = query.where(MediPayExport.bill_card_id.in_(only))
        if not self.db.is_sqlite:
            query = query.with_for_update(skip_locked=True, of=MediPayExport)
        async with self.db.write() as s:
            rows = list((await s.scalars(query)).all())
            stamp = self.clock.now()
            for row in rows:
                row.status = "sending"
                row.lease_owner = self.owner
                row.lease_until = stamp + self.lease
                row.attempts += 1
                row.updated_at = stamp
            return [_Job(r.id, r.bill_card_id, r.mode, r.attempts) for r in rows]

    async def _export(self, job: _Job) -> None:
        async with self.db.read() as s:
            card = await s.get(BillCard, job.card_id)
            assert card is not None
            creds = await credentials_for_book(s, card.book_id, self.box)
            due = card.patient_share - await paid_total(s, card.id)
            status = card.status
        if status not in QUEUEABLE:
            # Exported by an earlier row, settled, or taken back: nothing to send.
            await self._finish(job, "sent" if card.exported_at else "failed",
                               None if card.exported_at else f"card is {status}")
            return
        if creds is None:
            await self._not_exported(job, "no_medipay_account",
                                     "The card's book has no verified MediPay account.")
            return
        failure = check(card)
        if failure is not None:
            await self._not_exported(job, failure.reason_code, failure.message)
            return
        if due <= 0:
            await self._finish(job, "failed", "nothing to collect")
            return
        claim = Claim(
            id=card.id,
            patient=ClaimPatient(
                name=card.patient_name, national_id=card.national_id, mobile=card.mobile, email=card.patient_email,
                address=Address.from_wire(card.address),
            ),
            amount=due,
            description=f"Consultation {card.created_at:%d.%m.%Y}",
            admin_fee=card.admin_fee,
            # An invoice made by hand goes as an invoice, whatever the card was queued as.
            mode="invoice" if status == "invoice_generated" else "checkout",
            currency=card.currency,
        )
        try:
            state = await self.gateway.export_claim(creds, claim)
        except ClaimRefused as e:
            if e.code == "claim_conflict":
                # MediPay already holds this claim (an earlier attempt got through
                # before the card was corrected): take its state as it is.
                try:
                    state = await self.gateway.get_claim(creds, card.id)
                except ProviderError as again:
                    await self._retry_later(job, again)
                    return
            else:
                await self._not_exported(job, (e.reason_code or e.code)[:40], e.message)
                return
        except InvalidCredentials as e:
            await self._retry_later(job, e)
            return
        except ProviderError as e:
            await self._retry_later(job, e)
            return
        await self._exported(job, state)

    async def _exported(self, job: _Job, state: ClaimState) -> None:
        async with self.db.write() as s:
            card = await s.get(BillCard, job.card_id, with_for_update=True)
            assert card is not None
            now = self.clock.now()
            if card.exported_at is None:
                card.exported_at = now
                card.exported_patient_share = state.amount
            changed = await apply_claim(s, card, state, now, source="export")
            await self._close_row(s, job, "sent", None, now)
            summary = card_summary(card)
        if changed:
            await notify_card(self.notifier, summary)

    async def _not_exported(self, job: _Job, reason_code: str, message: str) -> None:
        async with self.db.write() as s:
            card = await s.get(BillCard, job.card_id, with_for_update=True)
            assert card is not None
            now = self.clock.now()
            if card.status in ("open", "not_exported", "invoice_generated"):
                if card.status == "open":
                    await transition(s, card, "not_exported", f"not exported: {reason_code}", now)
                card.medipay_reason_code = reason_code
                card.medipay_message = message[:500]
                card.next_retry_at = now + RETRY_EVERY
                card.updated_at = now
            await self._close_row(s, job, "refused", f"{reason_code}: {message}", now)
            summary = card_summary(card)
        await notify_card(self.notifier, summary)

    async def _retry_later(self, job: _Job, error: ProviderError) -> None:
        async with self.db.write() as s:
            row = await s.get(MediPayExport, job.export_id, with_for_update=True)
            assert row is not None
            if row.status != "sending":
                return
            now = self.clock.now()
            row.status = "pending"
            row.available_at = now + backoff(job.attempts)
            row.lease_owner = None
            row.lease_until = None
            row.last_error = f"{error.code}: {error.message}"[:500]
            row.updated_at = now
        log.warning("MediPay export of %s will be retried: %s", job.card_id, error.message)

    async def _finish(self, job: _Job, status: str, error: str | None) -> None:
        async with self.db.write() as s:
            await self._close_row(s, job, status, error, self.clock.now())

    @staticmethod
    async def _close_row(s: AsyncSession, job: _Job, status: str, error: str | None, now: datetime) -> None:
        row = await s.get(MediPayExport, job.export_id, with_for_update=True)
        assert row is not None
        if row.status in ("sent", "refused", "failed"):
            return  # another worker finished it after our lease ran out
        row.status = status
        row.lease_owner = None
        row.lease_until = None
        row.last_error = error[:500] if error else None
        row.finished_at = now
        row.updated_at = now


async def notify_card(notifier: Notifier, summary: dict[str, Any]) -> None:
    """Tell the clinician (and that card's patient) in the call the card came from."""
    consult_id = summary.get("consult_id")
    if not consult_id:
        return
    payload = {"card": summary}
    try:
        await notifier.emit("bill_card:updated", payload, room=clinician_room(consult_id))
        if summary.get("patient_id"):
            await notifier.emit("bill_card:updated", payload, room=patient_room(consult_id, summary["patient_id"]))
    except Exception:  # the ledger is right whether or not the panel hears of it
        log.exception("could not emit bill_card:updated for %s", summary.get("id"))
