"""The outbox: queueing a bill card for MediPay, inside the caller's transaction.

Billing writes it; the exporter in ``app.collection.export`` empties it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.billing.books import exports_to_medipay
from app.ids import new_id
from app.models import BillCard, Book, Clinic, MediPayExport

# A card that failed the checks is tried again daily (docs/rules.md, rule M9).
RETRY_EVERY = timedelta(days=1)
BACKOFF_START = timedelta(minutes=1)
BACKOFF_CAP = timedelta(hours=1)
# A card in one of these may be (re)sent to MediPay.
QUEUEABLE = frozenset({"open", "not_exported", "invoice_generated"})
OPEN_ROWS = ("pending", "sending")


def next_hour(now: datetime) -> datetime:
    return now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)


def backoff(attempts: int) -> timedelta:
    return min(BACKOFF_CAP, BACKOFF_START * (2 ** max(0, attempts - 1)))


async def queue_card(
    s: AsyncSession, card: BillCard, *, trigger: str, now: datetime, available_at: datetime | None = None
) -> MediPayExport:
    """Queue ``card`` (locked by the caller) for export; a card already queued is made due sooner, not twice."""
    when = available_at or now
    row = await s.scalar(
        select(MediPayExport).where(MediPayExport.bill_card_id == card.id, MediPayExport.status.in_(OPEN_ROWS))
    )
    if row is not None:
        if row.status == "pending":
            row.mode = "invoice" if card.status == "invoice_generated" else "checkout"
            if row.available_at > when:
                row.available_at = when
            if trigger != "hourly":
                # Sent by hand (or retried): no longer held back by manual office mode.
                row.trigger = trigger
            row.updated_at = now
        return row
    row = MediPayExport(
        id=new_id("mpx"),
        bill_card_id=card.id,
        organisation_id=card.organisation_id,
        book_id=card.book_id,
        mode="invoice" if card.status == "invoice_generated" else "checkout",
        trigger=trigger,
        status="pending",
        attempts=0,
        available_at=when,
        created_at=now,
        updated_at=now,
    )
    s.add(row)
    await s.flush()
    return row


async def queue_hourly(s: AsyncSession, card: BillCard, now: datetime) -> MediPayExport | None:
    """Put a card of a MediPay book into the hourly queue, unless its clinic works in manual office mode."""
    clinic = await s.get(Clinic, card.clinic_id)
    if clinic is None or clinic.manual_office or card.book_id is None:
        return None
    book = await s.get(Book, card.book_id)
    if book is None or not exports_to_medipay(book):
        return None
    return await queue_card(s, card, trigger="hourly", now=now, available_at=next_hour(now))
