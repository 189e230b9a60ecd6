"""A (re)connect's read: the consult, its clinic's amount limits, its patients, requests and bill
cards, in one ready statement run on the driver (``app/ready.py``, ``Database.run_read``).

A reconnect storm makes thousands of these at once. Through the ORM they were a session and
five statements (the consult, its patients, its requests, the cards, the clinic), each with its
ORM objects; here they are the parts of one ``UNION ALL``, one row per consult, patient, request
and card, told apart by ``part`` and put in each part's own order here (patients by position,
requests and cards by when they were made). Being one statement, it reads one snapshot on every
engine. Each part selects the columns the views of ``consult:state`` read, under a prefix of its
own; the other parts' columns are typed NULLs, so every branch has the same columns and each
column its type's conversions. The rows come back as ``SimpleNamespace`` objects under the names
the models give those columns, which the views read as they read the models.

A patient's connect reads only their own cards (as the panel shows them); everyone's patients
and requests are read, as before, and ``ConsultService._state_view`` keeps what a patient sees.
"""

from __future__ import annotations

from dataclasses import dataclass
from operator import attrgetter
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Column, bindparam, cast, literal_column, null, select, union_all

from app.consults.participant import ConsultRow
from app.models import BillCard, Clinic, Consult, ConsultPatient, PaymentRequest
from app.ready import Driver, Ready

_consult, _clinic = Consult.__table__.c, Clinic.__table__.c
_patient, _request, _card = ConsultPatient.__table__.c, PaymentRequest.__table__.c, BillCard.__table__.c

# The columns of each part: what ``Participant``, ``ConsultView``, ``CallPatient``, the gates,
# ``RequestView`` and ``CardSummary`` read. A view reading a column left out here fails on every
# connect (tests/realtime/test_join_read.py compares the two reads' ``consult:state``).
_PARTS: tuple[tuple[str, tuple[Column[Any], ...]], ...] = (
    ("c_", (*_consult, _clinic.max_request_amount, _clinic.confirm_above_amount)),
    ("p_", (_patient.patient_id, _patient.position, _patient.name, _patient.payment_policy,
            _patient.gate_request_id, _patient.joined_at)),
    ("r_", tuple(c for c in _request if c.key in (
        "id", "consult_id", "patient_id", "amount", "currency", "description", "status", "bill_card_id",
        "created_at", "updated_at", "paid_at", "refunded_amount", "failure_reason", "checkout_expires_at",
        "problem", "problem_detail", "problem_at", "onward", "checkout_session_id", "payment_intent_id",
        "receipt_reference", "receipt_token", "method", "vipps_reference", "vipps_flow", "vipps_state",
        "vipps_psp_reference", "kind", "hold_amount", "authorised_at", "capture_before"))),
    ("k_", tuple(c for c in _card if c.key in (
        "id", "consult_id", "patient_ref", "status", "patient_share", "currency", "medipay_state",
        "medipay_reason_code", "medipay_message", "exported_at", "exported_patient_share",
        "medipay_admin_fee", "next_retry_at", "created_at"))),
)
_CONSULT, _PATIENT, _REQUEST, _CARD = range(len(_PARTS))
_LIMITS = ("max_request_amount", "confirm_above_amount")
_POSITION, _CREATED = attrgetter("position"), attrgetter("created_at")


def _branch(part: int, source: Any, where: Any) -> Any:
    """The select of one part: its own columns, and typed NULLs for every other part's."""
    columns: list[Any] = [literal_column(str(part)).label("part")]
    for n, (prefix, own) in enumerate(_PARTS):
        for c in own:
            columns.append((c if n == part else cast(null(), c.type)).label(prefix + c.key))
    return select(*columns).select_from(source).where(where)


def _statement(patient: bool) -> Ready:
    by_id = bindparam("consult_id")
    cards = _card.consult_id == by_id
    if patient:
        cards = cards & (_card.patient_ref == bindparam("patient_id"))
    consults = Consult.__table__.join(Clinic.__table__, _clinic.id == _consult.clinic_id)
    return Ready(union_all(
        _branch(_CONSULT, consults, _consult.id == by_id),
        _branch(_PATIENT, ConsultPatient.__table__, _patient.consult_id == by_id),
        _branch(_REQUEST, PaymentRequest.__table__, _request.consult_id == by_id),
        _branch(_CARD, BillCard.__table__, cards),
    ))


_FOR_CLINICIAN = _statement(False)
_FOR_PATIENT = _statement(True)
# Each part's (its prefixed column, the model's name), to make its rows.
_NAMES = tuple(tuple((prefix + c.key, c.key) for c in own) for prefix, own in _PARTS)


@dataclass(frozen=True)
class Joined:
    """What a connect reads: the consult (with its clinic's limits), its patients and requests, and the
    cards the connecting person sees."""

    consult: ConsultRow
    limits: SimpleNamespace
    patients: list[SimpleNamespace]
    requests: list[SimpleNamespace]
    cards: list[SimpleNamespace]


def read_join(conn: Driver, consult_id: str, patient_id: str | None) -> Joined | None:
    """The consult's state for a clinician's connect (``patient_id`` None) or a patient's; None
    when there is no such consult."""
    statement = _FOR_CLINICIAN if patient_id is None else _FOR_PATIENT
    parts: tuple[list[SimpleNamespace], ...] = ([], [], [], [])
    for row in statement.rows(conn, {"consult_id": consult_id, "patient_id": patient_id}):
        part = row["part"]
        parts[part].append(SimpleNamespace(**{name: row[key] for key, name in _NAMES[part]}))
    if not parts[_CONSULT]:
        return None
    # Each part in the order the ORM's reads asked for, sorted here and stably: rows of the same moment
    # (a consult's gates, made together) keep the order the database read them in, as they did.
    parts[_PATIENT].sort(key=_POSITION)
    parts[_REQUEST].sort(key=_CREATED)
    parts[_CARD].sort(key=_CREATED)
    consult = vars(parts[_CONSULT][0])
    limits = SimpleNamespace(**{name: consult.pop(name) for name in _LIMITS})
    return Joined(ConsultRow(**consult), limits, parts[_PATIENT], parts[_REQUEST], parts[_CARD])
