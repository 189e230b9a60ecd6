"""Storing a clinician's payment request: one write transaction of ready-built statements.

``PaymentService.request`` validates what it can without the database, then
hands the rest here, run on the driver (``app/ready.py``, ``Database.run_write``)
because SQLAlchemy's own cost per statement was most of a request's time
(docs/performance.md, P1). Every rule of the request is kept, in this order:

1. One statement: the consult, its clinic, row-locked (removing an account
   takes this lock too, so no request slips onto it), and the patient. The
   consult's *active* check and the clinic's guard rails are checked on it
   before anything else is read.
2. One statement after the lock: the clinician's chosen account, the
   duplicates (the idempotency key, the double click), the patient's card with
   what is paid on it, and the organisation's MediPay books. It is separate
   because on PostgreSQL a locked row is re-read when the lock is granted but
   the other tables of the same statement are not, and these must see what the
   transaction that held the lock wrote. Then the routing and the patient rule,
   in the order they always had, so the same error wins.
3. The writes, in foreign-key order: a new card and its first status event
   (or the existing card's share and status), the request, its line, the
   audit entry. Nothing is pushed from here: the caller tells the panels after
   the commit. A waiting room's gate (``Ask.kind``, app/payments/policies.py)
   comes the same way, inside the consult's creating transaction; a ``hold``
   has its card but no line and adds nothing to the card's share: only what is
   captured is owed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import and_, bindparam, func, or_, select

from app import audit
from app.billing import cards
from app.billing.books import exports_to_medipay
from app.connect.routing import NO_ACCOUNT, application_fee, chosen_account, route_of
from app.errors import Conflict, Invalid
from app.ids import new_id
from app.models import BillCard, Book, Clinic, Consult, ConsultPatient, Payment, PaymentRequest
from app.payments.amount_limits import check_amount
from app.ready import Driver, Ready, ReadyInsert

# A second identical request within this window is the same click twice.
DOUBLE_CLICK = timedelta(seconds=10)


@dataclass(frozen=True)
class Ask:
    """A request as the clinician sent it, checked for what needs no database."""

    consult_id: str
    patient_id: Any  # as sent: the consult's patient is found (or not) under the lock
    amount: int
    description: str
    idempotency_key: str | None
    confirmed: object
    actor_type: str
    actor_id: str
    now: datetime
    # ``in_call``, or a waiting room's gate made with the consult (app/payments/policies.py): a
    # ``before_join`` request is stored as an in-call one; a ``hold`` puts ``amount`` on hold and
    # nothing on the card yet (its line comes with the capture).
    kind: str = "in_call"


def store(conn: Driver, ask: Ask) -> tuple[SimpleNamespace, bool]:
    """The request's row, and whether it is new (False: the same request already stored)."""
    call = _in_call(conn, ask)
    if call is None or call.status != "active" or call.expires_at <= ask.now:
        raise Conflict("consult_ended", "The consultation has ended.")
    # The clinic's guard rails (docs/api.md, payment:request): before anything is written.
    check_amount(SimpleNamespace(max_request_amount=call.max_request_amount,
                                 confirm_above_amount=call.confirm_above_amount, currency=call.clinic_currency),
                 ask.amount, ask.confirmed)
    seen = _AFTER_LOCK.rows(conn, {
        "consult_id": call.id, "clinic_id": call.clinic_id, "clinician_ref": call.clinician_id or None,
        "organisation_id": call.organisation_id, "patient_ref": call.patient_id, "idem": ask.idempotency_key,
        "amount": ask.amount, "description": ask.description, "since": ask.now - DOUBLE_CLICK,
    })
    if not seen:  # the consult went while the lock was awaited
        raise Conflict("consult_ended", "The consultation has ended.")
    route = route_of(call, seen[0]["chosen_account"])
    if route.account is None:
        raise Conflict(route.code or "no_stripe_account", route.reason or NO_ACCOUNT)
    if call.patient_id is None:
        raise Invalid("unknown_patient", "Unknown patient.")
    duplicate = seen[0]["by_key"] or seen[0]["same_click"]
    if duplicate is not None:
        return SimpleNamespace(**_REQUEST_BY_ID.rows(conn, {"id": duplicate})[0]), False

    request_id, now, amount = new_id("pr"), ask.now, ask.amount
    # A hold owes nothing until captured, a card on file nothing until charged (rules H1, H6).
    hold = ask.kind in ("hold", "card_on_file")
    owed = 0 if hold else amount
    card_id = seen[0]["card_id"]
    if card_id is None:
        book_id = next((b["book_id"] for b in seen if b["book_id"] and exports_to_medipay(_book(b))), None)
        card = cards.call_card_row(call, _patient(call), book_id, owed, now)
        cards.write_new_card(conn, card, now)
        card_id = card["id"]
    elif owed:
        cards.write_share_added(conn, card_id, seen[0]["card_status"], seen[0]["card_share"], seen[0]["card_paid"],
                                amount, now)
    row = {
        **_REQUEST_NONE, "id": request_id, "consult_id": call.id, "clinic_id": call.clinic_id,
        "patient_id": call.patient_id, "amount": amount, "currency": call.currency,
        "description": ask.description, "status": "requested", "idempotency_key": ask.idempotency_key,
        "bill_card_id": card_id, "created_at": now, "updated_at": now, "stripe_account_id": route.account,
        "application_fee_amount": application_fee(amount, call.fee_basis_points, call.fee_fixed),
        "refunded_amount": 0, "checkout_attempt": 0,
        "method": "card",  # until the patient chooses Vipps (app.payments.vipps)
        "kind": ask.kind, "hold_amount": amount if ask.kind == "hold" else None,
    }
    _INSERT_REQUEST.run(conn, row)
    if not hold:
        cards.write_request_line(conn, card_id, request_id, ask.description, amount, now)
    audit.write(conn, organisation_id=call.organisation_id, clinic_id=call.clinic_id, actor_type=ask.actor_type,
                    actor_id=ask.actor_id, action="payment.requested", subject_type="payment_request",
                    subject_id=request_id, at=now,
                    details={"consult_id": call.id, "currency": call.currency, "amount": amount,
                             "patient_id": call.patient_id, **({} if ask.kind == "in_call" else {"kind": ask.kind})})
    return SimpleNamespace(**row), True


def _in_call(conn: Driver, ask: Ask) -> SimpleNamespace | None:
    """The consult, its clinic (locked) and the patient: the one named, or the only one when none is
    named (``patient_in``'s rule); ``patient_id`` None when there is no such patient."""
    patient_id = ask.patient_id
    if patient_id is None:
        rows = _IN_CALL_ONLY_PATIENT.rows(conn, {"consult_id": ask.consult_id})
    else:
        named = isinstance(patient_id, str | int) and not isinstance(patient_id, bool)
        rows = _IN_CALL_BY_PATIENT.rows(conn, {"consult_id": ask.consult_id,
                                               "patient_id": str(patient_id) if named else None})
    if not rows:
        return None
    call = SimpleNamespace(**rows[0])
    if len(rows) != 1:
        call.patient_id = None
    return call


def _patient(call: SimpleNamespace) -> SimpleNamespace:
    return SimpleNamespace(patient_id=call.patient_id, name=call.patient_name, email=call.patient_email,
                           national_id=call.national_id, mobile=call.mobile, address=call.address)


def _book(row: dict[str, Any]) -> SimpleNamespace:
    return SimpleNamespace(active=row["book_active"], description=row["book_description"],
                           export_format=row["book_export_format"])


def _in_call_statement(by_patient: bool) -> Ready:
    on = ConsultPatient.consult_id == Consult.id
    if by_patient:
        on = and_(on, ConsultPatient.patient_id == bindparam("patient_id"))
    return Ready(
        select(
            Consult.id, Consult.organisation_id, Consult.clinic_id, Consult.clinician_id, Consult.currency,
            Consult.status, Consult.expires_at,
            Clinic.currency.label("clinic_currency"), Clinic.max_request_amount, Clinic.confirm_above_amount,
            Clinic.payment_app_enabled,
            Clinic.stripe_account_id, Clinic.stripe_charges_enabled, Clinic.fee_basis_points, Clinic.fee_fixed,
            ConsultPatient.patient_id, ConsultPatient.name.label("patient_name"),
            ConsultPatient.email.label("patient_email"), ConsultPatient.national_id, ConsultPatient.mobile,
            ConsultPatient.address,
        )
        .join(Clinic, Clinic.id == Consult.clinic_id)
        .outerjoin(ConsultPatient, on)
        .where(Consult.id == bindparam("consult_id"))
        .limit(2)
        .with_for_update(of=Clinic)
    )


_IN_CALL_BY_PATIENT = _in_call_statement(True)
_IN_CALL_ONLY_PATIENT = _in_call_statement(False)

_requests = PaymentRequest.__table__.c
_cards = BillCard.__table__.c
_BY_KEY = (
    select(_requests.id)
    .where(_requests.consult_id == bindparam("consult_id"), _requests.idempotency_key == bindparam("idem"))
    .scalar_subquery()
)
_SAME_CLICK = (
    select(_requests.id)
    .where(
        _requests.consult_id == bindparam("consult_id"),
        _requests.patient_id == bindparam("patient_ref"),
        _requests.amount == bindparam("amount"),
        _requests.description == bindparam("description"),
        or_(_requests.status == "requested", _requests.status == "checkout_open"),
        _requests.created_at >= bindparam("since"),
    )
    .limit(1)
    .scalar_subquery()
)
_PAID = (
    select(func.coalesce(func.sum(Payment.__table__.c.amount), 0))
    .where(Payment.__table__.c.bill_card_id == _cards.id)
    .scalar_subquery()
)
# One row per candidate MediPay book (at least one row), oldest book first, as ``medipay_book_for``.
_AFTER_LOCK = Ready(
    select(
        chosen_account(bindparam("clinic_id"), bindparam("clinician_ref")).label("chosen_account"),
        _BY_KEY.label("by_key"),
        _SAME_CLICK.label("same_click"),
        _cards.id.label("card_id"), _cards.status.label("card_status"), _cards.patient_share.label("card_share"),
        _PAID.label("card_paid"),
        Book.id.label("book_id"), Book.active.label("book_active"), Book.description.label("book_description"),
        Book.export_format.label("book_export_format"),
    )
    .select_from(Consult)
    .outerjoin(BillCard, and_(_cards.consult_id == Consult.id, _cards.patient_ref == bindparam("patient_ref")))
    .outerjoin(Book, and_(Book.organisation_id == bindparam("organisation_id"), Book.active.is_(True),
                          Book.export_format == "medipay"))
    .where(Consult.id == bindparam("consult_id"))
    .order_by(Book.created_at, Book.id)
)
_REQUEST_BY_ID = Ready(select(PaymentRequest.__table__).where(_requests.id == bindparam("id")))
_INSERT_REQUEST = ReadyInsert(PaymentRequest.__table__)
# Every column of a new request is written; those not named here are empty.
_REQUEST_NONE: dict[str, Any] = {c.key: None for c in PaymentRequest.__table__.columns}
