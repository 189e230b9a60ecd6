"""A paid Checkout Session settled in ready-built statements: the webhooks' common case.

``settlement.apply_session`` says what a session means for its request; this
module does the same for the case almost every webhook is — a first
``checkout.session.completed`` (or ``async_payment_succeeded``) paying an open
request — in ten statements run at the driver (``app/ready.py``), with the
same rules and the same rows written:

1. One read, under the request's row lock (``FOR UPDATE OF`` on PostgreSQL;
   on SQLite the transaction holds the database): whether the event id was
   seen, the request, its card, the clinic and consult the receipt copies,
   whether a payment with the session's reference exists, what the card has
   paid, and the ids of the ledger accounts the legs go to.
2. The payment; the legs, then the transaction the database checks them
   against; the card's status event and status when it changes; the
   organisation's next receipt number (one upsert, under the counter's row
   lock) and the receipt; the request, paid, with its receipt's reference.

The event's own row is written by the caller (``stripe_events``). Anything
else — an unknown request, another account, a wrong amount, a request that is
no longer open, a payment already there, an account not made yet, a session
not paid — is left to ``apply_session``, which decides it as it always has
(``Fallback``).
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from types import SimpleNamespace
from typing import Any

from sqlalchemy import bindparam, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.billing import cards
from app.billing.serialisers import request_view
from app.billing.statuses import REQUEST_OPEN
from app.ids import new_id
from app.ledger import journal
from app.ledger.journal import Leg
from app.models import (
    BillCard,
    BillCardEvent,
    Clinic,
    Consult,
    LedgerAccount,
    LedgerLeg,
    LedgerTransaction,
    Payment,
    PaymentRequest,
    Receipt,
    StripeEvent,
)
from app.ready import Driver, Ready, ReadyInsert, in_session
from app.receipts.numbering import next_number_upsert, receipt_row
from integrations.stripe.protocol import CheckoutSession

_R, _C, _CL, _CO = PaymentRequest.__table__, BillCard.__table__, Clinic.__table__, Consult.__table__
_P, _A = Payment.__table__, LedgerAccount.__table__
_ACCOUNTS = ("patient_receivable", "patient_revenue", "stripe_clearing", "platform_fees")
_REQUEST_COLUMNS = tuple(c.key for c in _R.c)


def _account(code: str) -> Any:
    return (select(_A.c.id).where(_A.c.clinic_id == _C.c.clinic_id, _A.c.code == code, _A.c.currency == _R.c.currency)
            .scalar_subquery())


_SELLER = ("id", "organisation_id", "name", "legal_name", "registration_number", "currency", "time_zone")

READ = Ready(
    select(
        *_R.c,
        _C.c.status.label("card_status"), _C.c.patient_share.label("card_share"),
        _C.c.organisation_id.label("card_organisation_id"), _C.c.clinic_id.label("card_clinic_id"),
        *(_CL.c[name].label(f"seller_{name}") for name in _SELLER), _CO.c.language.label("consult_language"),
        exists().where(StripeEvent.__table__.c.id == bindparam("event_id")).label("seen"),
        exists().where(_P.c.method == "stripe", _P.c.reference == bindparam("session_id")).label("registered"),
        select(func.coalesce(func.sum(_P.c.amount), 0)).where(_P.c.bill_card_id == _C.c.id).scalar_subquery()
        .label("card_paid"),
        *(_account(code).label(f"account_{code}") for code in _ACCOUNTS),
    )
    .select_from(_R.join(_C, _C.c.id == _R.c.bill_card_id).join(_CL, _CL.c.id == _R.c.clinic_id)
                 .outerjoin(_CO, _CO.c.id == _R.c.consult_id))
    .where(_R.c.id == bindparam("request_id"))
    .with_for_update(of=_R)
)
_INSERT_PAYMENT = ReadyInsert(_P)
_INSERT_LEGS = ReadyInsert(LedgerLeg.__table__)
_INSERT_TRANSACTION = ReadyInsert(LedgerTransaction.__table__)
_INSERT_CARD_EVENT = ReadyInsert(BillCardEvent.__table__)
_CARD_STATUS = Ready(update(_C).where(_C.c.id == bindparam("card_id"))
                     .values(status=bindparam("new_status"), updated_at=bindparam("at")))
_NEXT_NUMBER = Ready(next_number_upsert)
_INSERT_RECEIPT = ReadyInsert(Receipt.__table__)
_PAID = Ready(update(_R).where(_R.c.id == bindparam("request_id")).values(
    status="paid", paid_at=bindparam("at"), updated_at=bindparam("at"),
    checkout_session_id=func.coalesce(_R.c.checkout_session_id, bindparam("session_id")),
    payment_intent_id=bindparam("intent_id"), receipt_reference=bindparam("receipt_ref"),
    receipt_token=bindparam("receipt_key"),
))


class Fallback(Exception):
    """Not the common case: ``apply_session`` decides (nothing was written)."""


async def settle_paid(
    s: AsyncSession, event_id: str, session: CheckoutSession, request_id: str, *, account: str | None,
    now: datetime,
) -> tuple[str, dict[str, Any] | None]:
    """Settle a paid session in ready statements on the session's connection, in its transaction;
    ``duplicate`` if the event was seen; else ``Fallback``."""
    return await in_session(s, partial(_settle, event_id=event_id, session=session, request_id=request_id,
                                       account=account, now=now))


def _settle(
    conn: Driver, *, event_id: str, session: CheckoutSession, request_id: str, account: str | None, now: datetime
) -> tuple[str, dict[str, Any] | None]:
    row = READ.first(conn, {"request_id": request_id, "event_id": event_id, "session_id": session.id})
    if row is None:
        raise Fallback
    # The request as read, for the checks and the view: a plain record, not an object the session tracks.
    r: Any = SimpleNamespace(**{name: row[name] for name in _REQUEST_COLUMNS})
    card_status = row["card_status"]
    seller = SimpleNamespace(**{name: row[f"seller_{name}"] for name in _SELLER})
    accounts = {code: found for code in _ACCOUNTS if (found := row[f"account_{code}"])}
    if row["seen"]:
        return "duplicate", None
    legs = cards.stripe_payment_legs(r.amount, r.application_fee_amount)
    if (
        (r.stripe_account_id or None) != (account or None)
        or r.status not in REQUEST_OPEN
        # A card hold is authorised, a card on file saved, never paid by its session (holds, cards_on_file).
        or r.kind in ("hold", "card_on_file")
        or session.amount_total != r.amount
        or session.currency != r.currency
        or row["registered"]
        or r.receipt_reference
        or any(leg.account not in accounts for leg in legs)
    ):
        raise Fallback
    _register(conn, r, row["card_organisation_id"], row["card_clinic_id"], session.id, legs, accounts, now)
    status = cards.derived_status(card_status, row["card_share"], int(row["card_paid"]) + r.amount)
    if status != card_status:
        _INSERT_CARD_EVENT.run(conn, {"bill_card_id": r.bill_card_id, "status_from": card_status,
                                      "status_to": status, "reason": cards.PAID_IN_CALL, "at": now})
        _CARD_STATUS.run(conn, {"card_id": r.bill_card_id, "new_status": status, "at": now})
    numbered = _NEXT_NUMBER.first(conn, {"org": seller.organisation_id})
    assert numbered is not None  # an upsert's RETURNING always gives the row
    number = numbered["last_number"]
    receipt = receipt_row(seller, number, kind="receipt", request_id=r.id, amount=r.amount, currency=r.currency,
                          description=r.description, language=row["consult_language"] or "nb", now=now)
    _INSERT_RECEIPT.run(conn, receipt)
    _PAID.run(conn, {"request_id": r.id, "at": now, "session_id": session.id, "intent_id": session.payment_intent_id,
                     "receipt_ref": receipt["reference"], "receipt_key": receipt["token"]})
    r.status, r.paid_at, r.updated_at = "paid", now, now
    r.checkout_session_id = r.checkout_session_id or session.id
    r.payment_intent_id = session.payment_intent_id
    r.receipt_reference, r.receipt_token = receipt["reference"], receipt["token"]
    return "settled", request_view(r)


def _register(conn: Driver, r: Any, organisation_id: str, clinic_id: str, session_id: str,
              legs: list[Leg], accounts: dict[str, str], now: datetime) -> None:
    """The payment and its journal transaction (``cards.register_stripe_payment``'s rows)."""
    reference = cards.settle_reference(session_id)
    journal.check(legs, reference)
    _INSERT_PAYMENT.run(conn, cards.stripe_payment_row(r.bill_card_id, organisation_id, r.id, r.amount,
                                                       r.currency, session_id, now))
    txn_id = new_id("txn")
    # Legs first, then the transaction row the database checks them against.
    _INSERT_LEGS.run_many(conn, journal.leg_rows(txn_id, legs, accounts, r.currency))
    _INSERT_TRANSACTION.run(conn, journal.transaction_row(
        txn_id, clinic_id, cards.IN_CALL_PAYMENT_KIND, reference, r.description, r.bill_card_id, now))
