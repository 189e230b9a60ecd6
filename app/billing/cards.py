"""Bill cards made from a call, and the payments registered on them.

A payment request in a call attaches one line to the consultation's card for
that patient (one card per patient per consult). The line counts towards the
card's patient share while the request is open or paid; a request that ends
unpaid (cancelled, expired, failed) voids its line, so the card shows what is
still owed from the call. Money reaches the journal only when it moves: when
a payment is registered the charge (receivable/revenue) and the payment
(clearing/receivable) are posted together.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.billing.books import medipay_book_for
from app.billing.outbox import queue_hourly
from app.billing.statuses import REQUEST_ENDED_UNPAID
from app.ids import new_id
from app.ledger import journal
from app.ledger.journal import Leg
from app.models import BillCard, BillCardEvent, BillCardLine, Consult, ConsultPatient, Payment, PaymentRequest
from app.ready import Driver, Ready, ReadyInsert, in_session

# Built once, on the tables (see journal.py): each runs once per settlement.
# The session flushes pending objects before any statement it executes, so
# these see (and come after) what the transaction added but has not flushed.
_PAID_TOTAL = select(func.coalesce(func.sum(Payment.__table__.c.amount), 0)).where(
    Payment.__table__.c.bill_card_id == bindparam("card_id")
)
_PAYMENT_BY_REFERENCE = select(Payment.__table__.c.id).where(
    Payment.__table__.c.method == bindparam("method"), Payment.__table__.c.reference == bindparam("reference")
)
_INSERT_PAYMENT = Payment.__table__.insert()
_INSERT_CARD_EVENT = BillCardEvent.__table__.insert()
_CARD_OF_PATIENT = select(BillCard).where(
    BillCard.consult_id == bindparam("consult_id"), BillCard.patient_ref == bindparam("patient_ref")
)


async def existing_card(session: AsyncSession, consult_id: str, patient_ref: str) -> BillCard | None:
    """The consultation's card for this patient, if a request already made one."""
    return await session.scalar(_CARD_OF_PATIENT, {"consult_id": consult_id, "patient_ref": patient_ref})


async def card_for_patient(session: AsyncSession, consult: Consult, patient: ConsultPatient, now: datetime) -> BillCard:
    card = await existing_card(session, consult.id, patient.patient_id)
    if card is not None:
        return card
    card = BillCard(**await _new_card_row(session, consult, patient, 0, now))
    session.add(card)
    session.add(
        BillCardEvent(bill_card_id=card.id, status_from=None, status_to="under_work", reason="created in call", at=now)
    )
    # Written with the rest of the transaction at its next flush (parents first, by foreign key).
    return card


async def _new_card_row(
    session: AsyncSession, consult: Consult, patient: ConsultPatient, patient_share: int, now: datetime
) -> dict[str, object]:
    # Whatever the call leaves unpaid is collected through the organisation's MediPay book.
    book_id = await medipay_book_for(session, consult.organisation_id)
    return call_card_row(consult, patient, book_id, patient_share, now)


def call_card_row(consult: Any, patient: Any, book_id: str | None, patient_share: int, now: datetime) -> dict[str, Any]:
    """A new card's columns for a patient of a consult (objects, or rows, with their columns' names)."""
    return {
        "id": new_id("bc"),
        "organisation_id": consult.organisation_id,
        "clinic_id": consult.clinic_id,
        "consult_id": consult.id,
        "book_id": book_id,
        "patient_ref": patient.patient_id,
        "patient_name": patient.name,
        "patient_email": patient.email,
        "national_id": patient.national_id,
        "mobile": patient.mobile,
        "address": patient.address,
        "status": "under_work",
        "currency": consult.currency,
        "patient_share": patient_share,
        "refund_share": 0,
        "admin_fee": True,
        "created_at": now,
        "updated_at": now,
    }


def _line_row(card_id: str, request_id: str, description: str, amount: int, now: datetime) -> dict[str, object]:
    return {"id": new_id("bcl"), "bill_card_id": card_id, "payment_request_id": request_id, "code": "CALL",
            "description": description, "patient_amount": amount, "refund_amount": 0, "voided_at": None,
            "created_at": now}


async def add_request_line(
    session: AsyncSession, card: BillCard, request_id: str, description: str, amount: int, now: datetime,
    *, new_card: bool = False,
) -> None:
    """Add the request's line to the card; ``new_card``: made in this transaction, so nothing is paid on it yet."""
    session.add(BillCardLine(**_line_row(card.id, request_id, description, amount, now)))
    card.patient_share += amount
    card.updated_at = now
    paid = 0 if new_card else await paid_total(session, card.id)
    await set_status(session, card, _derived_status(card, paid), "payment requested", now)


async def reinstate_request_line(session: AsyncSession, card: BillCard, request_id: str, now: datetime) -> None:
    """Put an ended-unpaid request's amount back on its card, as a new line, once.

    The request's own line stays void, for the record. A request that is not
    this card's, is not ended unpaid, or already has a live line adds nothing.
    """
    from app.models import PaymentRequest

    request = await session.scalar(
        select(PaymentRequest).where(PaymentRequest.id == request_id, PaymentRequest.bill_card_id == card.id)
    )
    if request is None or request.status not in REQUEST_ENDED_UNPAID:
        return
    live = await session.scalar(
        select(BillCardLine.id).where(
            BillCardLine.payment_request_id == request_id, BillCardLine.voided_at.is_(None)
        )
    )
    if live is None:
        await add_request_line(session, card, request_id, request.description, request.amount, now)


async def void_request_line(session: AsyncSession, card: BillCard, request_id: str, reason: str, now: datetime) -> None:
    line = await session.scalar(
        select(BillCardLine).where(
            BillCardLine.bill_card_id == card.id,
            BillCardLine.payment_request_id == request_id,
            BillCardLine.voided_at.is_(None),
        )
    )
    if line is None:
        return
    line.voided_at = now
    card.patient_share -= line.patient_amount
    card.updated_at = now
    await set_status(session, card, _derived_status(card, await paid_total(session, card.id)), reason, now)


async def paid_total(session: AsyncSession, card_id: str) -> int:
    total = await session.scalar(_PAID_TOTAL, {"card_id": card_id})
    return int(total or 0)


def _derived_status(card: BillCard, paid: int) -> str:
    return derived_status(card.status, card.patient_share, paid)


def derived_status(status: str, patient_share: int, paid: int) -> str:
    """A card's status once ``paid`` of its ``patient_share`` is paid."""
    if status not in ("under_work", "paid"):
        return status  # the MediPay pipeline owns the card from here
    return "paid" if paid > 0 and paid >= patient_share else "under_work"


async def set_status(session: AsyncSession, card: BillCard, status: str, reason: str, now: datetime) -> None:
    if status == card.status:
        return
    event = {"bill_card_id": card.id, "status_from": card.status, "status_to": status, "reason": reason, "at": now}
    batch = session.info.get(_EVENT_BATCH)
    if batch is not None and card not in session.new:
        batch.append(event)  # written with the others at the end of the block (status_events_batched)
    elif card in session.new:
        await session.execute(_INSERT_CARD_EVENT, event)  # the card's own row must be written first
    else:
        # A Core statement flushes every pending change first; the event needs none of
        # them, and a batch of answers (the MediPay exporter) would flush once per card.
        with session.no_autoflush:
            await session.execute(_INSERT_CARD_EVENT, event)
    card.status = status
    card.updated_at = now


_EVENT_BATCH = "bill_card_events"


@asynccontextmanager
async def status_events_batched(session: AsyncSession) -> AsyncIterator[None]:
    """The status events ``set_status`` writes inside the block, in one statement at its end.

    For a batch of cards changed in one transaction (the MediPay exporter's
    answers): one insert of many rows instead of one per card, in the order
    they were made. A card made in the same transaction still has its event
    written at once, after the card. Nothing is written if the block fails.
    """
    batch: list[dict[str, object]] = []
    session.info[_EVENT_BATCH] = batch
    try:
        yield
    finally:
        session.info.pop(_EVENT_BATCH, None)
    if batch:  # on the driver: the events need none of the pending changes, nor SQLAlchemy's per-row work
        await in_session(session, _READY_CARD_EVENT.run_many, batch)


def batched_status_event(session: AsyncSession, event: dict[str, object]) -> None:
    """The status event of a card changed by a plain statement inside ``status_events_batched``."""
    session.info[_EVENT_BATCH].append(event)


async def register_stripe_payment(
    session: AsyncSession,
    card: BillCard,
    *,
    request_id: str,
    amount: int,
    currency: str,
    reference: str,
    description: str,
    now: datetime,
    application_fee: int = 0,
) -> bool:
    """Register an in-call payment on the card and post it. False if already registered.

    ``application_fee`` is the platform's fee Stripe took from this direct charge:
    it leaves the clinic's Stripe balance as its own expense leg.
    """
    return await _register_in_call(session, card, "stripe", "Stripe", request_id=request_id, amount=amount,
                                   currency=currency, reference=reference, description=description, now=now,
                                   fee_legs=_fee_legs(application_fee))


# The journal entry of an in-call payment, and the reason on the card's status event.
IN_CALL_PAYMENT_KIND = "in_call_payment"
PAID_IN_CALL = "paid in call (Stripe)"


def settle_reference(session_id: str) -> str:
    """The journal reference of a Checkout Session's payment: unique, so it is posted once."""
    return f"stripe:settle:{session_id}"


def stripe_payment_row(card_id: str, organisation_id: str, request_id: str, amount: int, currency: str,
                       reference: str, now: datetime) -> dict[str, object]:
    """The ``payments`` row of an in-call payment through Stripe (``reference``: the Checkout Session)."""
    return _payment_row("stripe", card_id, organisation_id, request_id, amount, currency, reference, now)


def stripe_payment_legs(amount: int, application_fee: int) -> list[Leg]:
    """The journal legs of an in-call payment through Stripe, less the platform's fee."""
    return _in_call_legs("stripe", amount, _fee_legs(application_fee))


def _fee_legs(application_fee: int) -> list[Leg]:
    # The platform's fee on a Stripe payment never reaches the clinic's balance.
    return [Leg("platform_fees", application_fee), Leg("stripe_clearing", -application_fee)] if application_fee else []


def _payment_row(method: str, card_id: str, organisation_id: str, request_id: str, amount: int, currency: str,
                 reference: str, now: datetime) -> dict[str, object]:
    return {"id": new_id("pay"), "bill_card_id": card_id, "organisation_id": organisation_id,
            "payment_request_id": request_id, "method": method, "amount": amount, "currency": currency,
            "reference": reference, "registered_at": now}


def _in_call_legs(method: str, amount: int, fee_legs: list[Leg]) -> list[Leg]:
    """The charge for the consultation, and the patient paying it through ``method``'s clearing account."""
    return [Leg("patient_receivable", amount), Leg("patient_revenue", -amount),
            Leg(f"{method}_clearing", amount), Leg("patient_receivable", -amount), *fee_legs]


async def register_vipps_payment(
    session: AsyncSession,
    card: BillCard,
    *,
    request_id: str,
    amount: int,
    currency: str,
    reference: str,
    description: str,
    now: datetime,
) -> bool:
    """Register an in-call Vipps payment (its ``reference`` at Vipps) on the card and post it.

    False if already registered: the payment's ``(method, reference)`` and the journal's
    ``vipps:settle:{reference}`` are unique, so a webhook and a poll racing count it once.
    """
    return await _register_in_call(session, card, "vipps", "Vipps", request_id=request_id, amount=amount,
                                   currency=currency, reference=reference, description=description, now=now)


async def _register_in_call(
    session: AsyncSession, card: BillCard, method: str, label: str, *, request_id: str, amount: int, currency: str,
    reference: str, description: str, now: datetime, fee_legs: list[Leg] | None = None,
) -> bool:
    """A payment made in the call with ``method`` (``stripe``, ``vipps``): its row, and the
    ``{method}:settle:{reference}`` journal entry through ``{method}_clearing``. False if already registered."""
    existing = await session.scalar(_PAYMENT_BY_REFERENCE, {"method": method, "reference": reference})
    if existing:
        return False
    # A plain insert: nothing in this transaction needs the row as an object.
    await session.execute(_INSERT_PAYMENT, _payment_row(method, card.id, card.organisation_id, request_id, amount,
                                                        currency, reference, now))
    await journal.post(session, clinic_id=card.clinic_id, kind=IN_CALL_PAYMENT_KIND,
                       reference=f"{method}:settle:{reference}", description=description, currency=currency,
                       bill_card_id=card.id, at=now,
                       legs=_in_call_legs(method, amount, fee_legs or []))
    paid = await paid_total(session, card.id)
    await set_status(session, card, _derived_status(card, paid), f"paid in call ({label})", now)
    return True


async def queue_after_call(session: AsyncSession, consult: Consult, now: datetime) -> list[BillCard]:
    """The call ended: its cards with an unpaid patient share join the hourly transfer to MediPay.

    A card with a checkout still open stays *under work*: Stripe may yet settle it.
    """
    from app.models import PaymentRequest

    queued = []
    for card in (await session.scalars(
        select(BillCard).where(BillCard.consult_id == consult.id, BillCard.status == "under_work")
        .with_for_update()
    )).all():
        still_open = await session.scalar(
            select(PaymentRequest.id).where(PaymentRequest.bill_card_id == card.id,
                                            PaymentRequest.status.in_(("requested", "checkout_open")))
        )
        if still_open or card.patient_share - await paid_total(session, card.id) <= 0:
            continue
        if await queue_hourly(session, card, now) is not None:
            await set_status(session, card, "open", "call ended unpaid: queued for MediPay", now)
            queued.append(card)
    return queued


async def finish_unpaid(
    s: AsyncSession, r: PaymentRequest, status: str, reason: str, now: datetime, *, keep_line: bool = False
) -> None:
    """End an open request without payment; its line no longer counts on the card.

    With ``keep_line`` the amount stays owed on the card: the call ended with
    it unpaid and the card's MediPay book collects it (docs/rules.md, rule L2).
    """
    r.status = status
    r.updated_at = now
    r.failure_reason = reason if status == "failed" else r.failure_reason
    card = await s.get(BillCard, r.bill_card_id)
    if card is not None and not keep_line:
        await void_request_line(s, card, r.id, f"request {status}", now)


# -- a payment request's card, written on the driver (app/ready.py) ------------------------------
# What ``card_for_patient`` and ``add_request_line`` write, for the request path's transaction.

_READY_CARD = ReadyInsert(BillCard.__table__)
_READY_CARD_EVENT = ReadyInsert(BillCardEvent.__table__)
_READY_LINE = ReadyInsert(BillCardLine.__table__)
_cards = BillCard.__table__.c
_READY_CARD_SHARE = Ready(
    update(BillCard.__table__)
    .where(_cards.id == bindparam("card_id"))
    .values(patient_share=_cards.patient_share + bindparam("amount"), status=bindparam("new_status"),
            updated_at=bindparam("now"))
)


def write_new_card(conn: Driver, card: Mapping[str, Any], now: datetime) -> None:
    """A card made by a request (``call_card_row``), born *under work*, and its first status event."""
    _READY_CARD.run(conn, card)
    _READY_CARD_EVENT.run(conn, {"bill_card_id": card["id"], "status_from": None, "status_to": "under_work",
                                 "reason": "created in call", "at": now})


def write_share_added(conn: Driver, card_id: str, status: str, patient_share: int, paid: int, amount: int,
                      now: datetime) -> None:
    """A request's ``amount`` added to an existing card owing ``patient_share`` with ``paid`` paid on it:
    the share, and the status (with its event) as ``add_request_line`` derives it."""
    new_status = derived_status(status, patient_share + amount, paid)
    _READY_CARD_SHARE.run(conn, {"card_id": card_id, "amount": amount, "new_status": new_status, "now": now})
    if new_status != status:
        _READY_CARD_EVENT.run(conn, {"bill_card_id": card_id, "status_from": status, "status_to": new_status,
                                     "reason": "payment requested", "at": now})


def write_request_line(conn: Driver, card_id: str, request_id: str, description: str, amount: int,
                       now: datetime) -> None:
    _READY_LINE.run(conn, _line_row(card_id, request_id, description, amount, now))
