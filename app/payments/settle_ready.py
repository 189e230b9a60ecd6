"""A paid Checkout Session settled in ready-built statements: the webhooks' common case.

``settlement.apply_session`` says what a session means for its request; this
module does the same for the case almost every webhook is — a first
``checkout.session.completed`` (or ``async_payment_succeeded``) paying an open
request — in ten statements run at the driver (``app/prepared.py``), with the
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
from types import SimpleNamespace
from typing import Any

from sqlalchemy import bindparam, exists, func, select, update

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
from app.prepared import Ready, Rows
from app.receipts.numbering import next_number_upsert, receipt_row
from integrations.stripe.protocol import CheckoutSession

_R, _C, _CL, _CO = PaymentRequest.__table__, BillCard.__table__, Clinic.__table__, Consult.__table__
_P, _A = Payment.__table__, LedgerAccount.__table__
_ACCOUNTS = ("patient_receivable", "patient_revenue", "stripe_clearing", "platform_fees")
_REQUEST_COLUMNS = tuple(c.key for c in _R.c)


def _account(code: str) -> Any:
    return (select(_A.c.id).where(_A.c.clinic_id == _C.c.clinic_id, _A.c.code == code, _A.c.currency == _R.c.currency)
            .scalar_subquery())


READ = Ready(
    select(
        *_R.c,
        _C.c.status, _C.c.patient_share, _C.c.organisation_id, _C.c.clinic_id,
        _CL.c.id, _CL.c.organisation_id, _CL.c.name, _CL.c.legal_name, _CL.c.registration_number, _CL.c.currency,
        _CL.c.time_zone, _CO.c.language,
        exists().where(StripeEvent.__table__.c.id == bindparam("event_id")),
        exists().where(_P.c.method == "stripe", _P.c.reference == bindparam("session_id")),
        select(func.coalesce(func.sum(_P.c.amount), 0)).where(_P.c.bill_card_id == _C.c.id).scalar_subquery(),
        *(_account(code) for code in _ACCOUNTS),
    )
    .select_from(_R.join(_C, _C.c.id == _R.c.bill_card_id).join(_CL, _CL.c.id == _R.c.clinic_id)
                 .outerjoin(_CO, _CO.c.id == _R.c.consult_id))
    .where(_R.c.id == bindparam("request_id"))
    .with_for_update(of=_R)
)
_INSERT_PAYMENT = Ready(_P.insert())
_INSERT_LEGS = Ready(LedgerLeg.__table__.insert())
_INSERT_TRANSACTION = Ready(LedgerTransaction.__table__.insert())
_INSERT_CARD_EVENT = Ready(BillCardEvent.__table__.insert())
_CARD_STATUS = Ready(update(_C).where(_C.c.id == bindparam("card_id"))
                     .values(status=bindparam("new_status"), updated_at=bindparam("at")))
_NEXT_NUMBER = Ready(next_number_upsert)
_INSERT_RECEIPT = Ready(Receipt.__table__.insert())
_PAID = Ready(update(_R).where(_R.c.id == bindparam("request_id")).values(
    status="paid", paid_at=bindparam("at"), updated_at=bindparam("at"),
    checkout_session_id=func.coalesce(_R.c.checkout_session_id, bindparam("session_id")),
    payment_intent_id=bindparam("intent_id"), receipt_reference=bindparam("receipt_ref"),
    receipt_token=bindparam("receipt_key"),
))


class _Seller:
    """The clinic's columns a receipt copies (``numbering.receipt_row``)."""

    __slots__ = ("id", "organisation_id", "name", "legal_name", "registration_number", "currency", "time_zone")

    def __init__(self, values: tuple[Any, ...]) -> None:
        for name, value in zip(self.__slots__, values, strict=True):
            setattr(self, name, value)


class Fallback(Exception):
    """Not the common case: ``apply_session`` decides (nothing was written)."""


async def settle_paid(
    rows: Rows, event_id: str, session: CheckoutSession, request_id: str, *, account: str | None, now: datetime
) -> tuple[str, dict[str, Any] | None]:
    """Settle a paid session in ready statements; ``duplicate`` if the event was seen; else ``Fallback``."""
    row = await rows.first(READ, {"request_id": request_id, "event_id": event_id, "session_id": session.id})
    if row is None:
        raise Fallback
    n = len(_REQUEST_COLUMNS)
    # The request as read, for the checks and the view: a plain record, not an object the session tracks.
    r: Any = SimpleNamespace(**dict(zip(_REQUEST_COLUMNS, row[:n], strict=True)))
    card_status, patient_share, card_org, card_clinic = row[n:n + 4]
    seller = _Seller(row[n + 4:n + 11])
    language, seen, registered, paid = row[n + 11:n + 15]
    accounts = {code: found for code, found in zip(_ACCOUNTS, row[n + 15:], strict=True) if found}
    if seen:
        return "duplicate", None
    legs = cards.stripe_payment_legs(r.amount, r.application_fee_amount)
    if (
        (r.stripe_account_id or None) != (account or None)
        or r.status not in REQUEST_OPEN
        or session.amount_total != r.amount
        or session.currency != r.currency
        or registered
        or r.receipt_reference
        or any(leg.account not in accounts for leg in legs)
    ):
        raise Fallback
    await _register(rows, r, card_org, card_clinic, session.id, legs, accounts, now)
    status = cards.derived_status(card_status, patient_share, int(paid) + r.amount)
    if status != card_status:
        await rows.run(_INSERT_CARD_EVENT, {"bill_card_id": r.bill_card_id, "status_from": card_status,
                                            "status_to": status, "reason": cards.PAID_IN_CALL, "at": now})
        await rows.run(_CARD_STATUS, {"card_id": r.bill_card_id, "new_status": status, "at": now})
    numbered = await rows.first(_NEXT_NUMBER, {"org": seller.organisation_id})
    assert numbered is not None  # an upsert's RETURNING always gives the row
    number = numbered[0]
    receipt = receipt_row(seller, number, kind="receipt", request_id=r.id, amount=r.amount, currency=r.currency,
                          description=r.description, language=language or "nb", now=now)
    await rows.run(_INSERT_RECEIPT, receipt)
    await rows.run(_PAID, {"request_id": r.id, "at": now, "session_id": session.id,
                           "intent_id": session.payment_intent_id, "receipt_ref": receipt["reference"],
                           "receipt_key": receipt["token"]})
    r.status, r.paid_at, r.updated_at = "paid", now, now
    r.checkout_session_id = r.checkout_session_id or session.id
    r.payment_intent_id = session.payment_intent_id
    r.receipt_reference, r.receipt_token = receipt["reference"], receipt["token"]
    return "settled", request_view(r)


async def _register(rows: Rows, r: Any, organisation_id: str, clinic_id: str, session_id: str,
                    legs: list[Leg], accounts: dict[str, str], now: datetime) -> None:
    """The payment and its journal transaction (``cards.register_stripe_payment``'s rows)."""
    reference = cards.settle_reference(session_id)
    journal.check(legs, reference)
    await rows.run(_INSERT_PAYMENT, cards.stripe_payment_row(r.bill_card_id, organisation_id, r.id, r.amount,
                                                             r.currency, session_id, now))
    txn_id = new_id("txn")
    # Legs first, then the transaction row the database checks them against.
    await rows.run(_INSERT_LEGS, journal.leg_rows(txn_id, legs, accounts, r.currency))
    await rows.run(_INSERT_TRANSACTION, journal.transaction_row(
        txn_id, clinic_id, cards.STRIPE_PAYMENT_KIND, reference, r.description, r.bill_card_id, now))
