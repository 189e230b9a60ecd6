"""Issuing receipts and credit notes, numbered per organisation with no gaps.

Order of work, inside the caller's write transaction (the one that settles
the payment or posts the refund):

1. Make sure the organisation has a counter row (an insert that does nothing
   when the row is there, so two first settlements never collide).
2. Read the counter ``FOR UPDATE``: on PostgreSQL a concurrent settlement of
   the same organisation waits here until this transaction ends; on SQLite
   every write transaction already holds the database (``BEGIN IMMEDIATE``).
3. Write the counter plus one, and the document with that number. If the
   transaction (or its savepoint) rolls back, the number goes back with it,
   so no number is skipped and none is used twice; ``uq_receipts_number``
   makes the database refuse a duplicate all the same.

The seller's details are copied onto the document (docs/rules.md, rule P11:
bokføringsforskriften § 5-1 — pre-numbered, dated, the seller with its
organisation number, the service and the price; kept five years).
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.i18n.zones import clinic_zone
from app.ids import new_id
from app.models import Clinic, Consult, PaymentRefund, PaymentRequest, Receipt, ReceiptCounter
from app.regions import country_for_currency

REFERENCE_PREFIX = "CP"
# Payments in the call are taken by Stripe Checkout; the patient pays by card.
METHOD_CARD = "card"
# A card hold captured after the call (docs/rules.md, rule H2): its receipt says so.
METHOD_CARD_HOLD = "card_hold"
METHOD_VIPPS = "vipps"
# A saved card charged after the call (rule H6).
METHOD_CARD_ON_FILE = "card_on_file"

_COUNTERS = ReceiptCounter.__table__


def clinic_country(clinic: Clinic | None) -> str | None:
    """The clinic's country (ISO 3166 alpha-2), from the currency it takes (app/regions.py)."""
    return country_for_currency(clinic.currency) if clinic is not None else None


def reference(number: int, issued_at: datetime, zone: ZoneInfo) -> str:
    """``CP-2026-000123``: what a person reads, says on the phone and types into a search."""
    return f"{REFERENCE_PREFIX}-{issued_at.astimezone(zone).year}-{number:06d}"


async def next_number(s: AsyncSession, organisation_id: str) -> int:
    """The organisation's next document number, taken under the counter's row lock."""
    dialect = s.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    await s.execute(
        insert(_COUNTERS)
        .values(organisation_id=organisation_id, last_number=0)
        .on_conflict_do_nothing(index_elements=["organisation_id"])
    )
    last = await s.scalar(
        select(_COUNTERS.c.last_number).where(_COUNTERS.c.organisation_id == organisation_id).with_for_update()
    )
    number = int(last or 0) + 1
    await s.execute(update(_COUNTERS).where(_COUNTERS.c.organisation_id == organisation_id).values(last_number=number))
    return number


def receipt_row(
    clinic: Any, number: int, *, kind: str, request_id: str, amount: int, currency: str, description: str,
    language: str, now: datetime, refund_id: str | None = None, original_id: str | None = None,
    method: str = METHOD_CARD,
) -> dict[str, Any]:
    """A document's row, numbered ``number``, the seller's details copied from ``clinic``.

    ``clinic``: the ``Clinic``, or anything with its ``id``, ``organisation_id``, ``name``,
    ``legal_name``, ``registration_number``, ``currency`` and ``time_zone``.
    """
    return {
        "id": new_id("rcp"),
        "organisation_id": clinic.organisation_id,
        "clinic_id": clinic.id,
        "number": number,
        "reference": reference(number, now, clinic_zone(clinic)),
        "kind": kind,
        "payment_request_id": request_id,
        "refund_id": refund_id,
        "original_receipt_id": original_id,
        "token": secrets.token_urlsafe(32),
        "amount": amount,
        "currency": currency,
        "description": description,
        "method": method,  # how it was paid: card (through Stripe) or Vipps
        "seller_name": (clinic.legal_name or clinic.name)[:200],
        "seller_registration_number": clinic.registration_number,
        "seller_country": clinic_country(clinic),
        "language": language,
        "issued_at": now,
    }


def next_number_upsert(dialect: str) -> Any:
    """One statement for the organisation's next number (``:org``, its id), returning it.

    The counter is made at one or moved on by one, under its row lock (PostgreSQL
    holds it to the end of the transaction); a rollback gives the number back.
    """
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = insert(_COUNTERS).values(organisation_id=bindparam("org"), last_number=1)
    return stmt.on_conflict_do_update(
        index_elements=["organisation_id"], set_={"last_number": _COUNTERS.c.last_number + 1}
    ).returning(_COUNTERS.c.last_number)


async def _issue(
    s: AsyncSession, r: PaymentRequest, *, kind: str, amount: int, now: datetime,
    refund_id: str | None = None, original_id: str | None = None,
) -> Receipt:
    clinic = await s.get(Clinic, r.clinic_id)
    consult = await s.get(Consult, r.consult_id)
    assert clinic is not None
    number = await next_number(s, clinic.organisation_id)
    receipt = Receipt(**receipt_row(
        clinic, number, kind=kind, request_id=r.id, amount=amount, currency=r.currency, description=r.description,
        language=consult.language if consult is not None else "nb", now=now, refund_id=refund_id,
        original_id=original_id, method=_method(r),
    ))
    s.add(receipt)
    await s.flush()
    return receipt


async def issue_receipt(s: AsyncSession, r: PaymentRequest, now: datetime) -> Receipt | None:
    """The receipt of a request just settled; None if it has one already."""
    if r.receipt_reference:
        return None
    receipt = await _issue(s, r, kind="receipt", amount=r.amount, now=now)
    r.receipt_reference = receipt.reference
    r.receipt_token = receipt.token
    return receipt


async def issue_credit_note(s: AsyncSession, r: PaymentRequest, refund: PaymentRefund, now: datetime) -> Receipt | None:
    """The credit note of a refund just posted, pointing at the request's receipt; None if it has one."""
    if refund.credit_note_reference:
        return None
    original = await s.scalar(
        select(Receipt.id).where(Receipt.payment_request_id == r.id, Receipt.kind == "receipt")
    )
    note = await _issue(s, r, kind="credit_note", amount=refund.amount, now=now, refund_id=refund.id,
                        original_id=original)
    refund.credit_note_reference = note.reference
    refund.credit_note_token = note.token
    return note


def _method(r: PaymentRequest) -> str:
    """How a request was paid, as its receipt says it."""
    if r.method == METHOD_VIPPS:
        return METHOD_VIPPS
    kind = getattr(r, "kind", None)
    return METHOD_CARD_HOLD if kind == "hold" else METHOD_CARD_ON_FILE if kind == "card_on_file" else METHOD_CARD
