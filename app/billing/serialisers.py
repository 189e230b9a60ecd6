"""The JSON shapes: what every service answers, as the contract writes it.

Each shape is a frozen dataclass (a *view*) made from the rows by its
``from_row``. Services return views; the transports — REST, Socket.IO acks,
the notifier's events, pages — turn them into JSON with ``as_json``, which
keeps the fields in their declared order, so the wire format is the dataclass.
``request_view``, ``refund_view`` and the other ``*_view`` functions are the
view and ``as_json`` in one, for code that only passes the JSON on. Requests
and refunds carry the links of their receipt and credit notes
(``DocumentLink``). The bill cards' shapes, which read a card's lines and
payments (``read_card``), are next door in :mod:`app.billing.card_views`.

It sits at the bottom of the domain (it reads only the models), so every
service and every transport can reach it.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Self

from app.billing.gates import policy_view
from app.models import (
    Consult,
    ConsultPatient,
    PaymentRefund,
    PaymentRequest,
    StripeAccount,
)


def as_json(view: Any) -> dict[str, Any]:
    """A view (nested views, lists of views) as the JSON object it stands for, fields in order.

    What ``dataclasses.asdict`` makes, without its deep copy of every string and number (a
    fifth of a payment request's time in process, docs/performance.md, P1; a settlement's view
    is built for every webhook)."""
    return _plain(view)  # type: ignore[no-any-return]


_FIELDS: dict[type, tuple[str, ...]] = {}
_LEAVES = (str, int, float, bool, type(None))


def _plain(value: Any) -> Any:
    """``dataclasses.asdict``'s walk, case for case, with the leaves (strings, numbers) kept as they are."""
    if isinstance(value, _LEAVES):
        return value
    cls = type(value)
    names = _FIELDS.get(cls)
    if names is None and dataclasses.is_dataclass(value) and not isinstance(value, type):
        names = _FIELDS[cls] = tuple(f.name for f in dataclasses.fields(value))
    if names is not None:
        return {name: _plain(getattr(value, name)) for name in names}
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return cls(*[_plain(v) for v in value])
    if isinstance(value, (list, tuple)):
        return cls(_plain(v) for v in value)
    if isinstance(value, dict):
        return cls((_plain(k), _plain(v)) for k, v in value.items())
    return copy.deepcopy(value)


def iso(value: datetime | None) -> str | None:
    """A moment as the contract writes it (``…Z``) in consults, requests and refunds."""
    return value.isoformat().replace("+00:00", "Z") if value else None


def copy_view(cls: type[Any], row: Any, **computed: Any) -> Any:
    """A view of ``row``: each field the row's attribute of that name, unless given (here and in
    :mod:`app.billing.card_views`)."""
    return cls(**{f.name: computed[f.name] if f.name in computed else getattr(row, f.name)
                  for f in dataclasses.fields(cls)})


# -- receipts and credit notes ----------------------------------------------------------------------


RECEIPT_PATH = "/receipts/"


@dataclasses.dataclass(frozen=True)
class DocumentLink:
    """A receipt's or credit note's short number and link; the link holds no join token and names nobody."""

    number: str
    url: str


def document_link_of(reference: str | None, token: str | None, base: str = "") -> DocumentLink | None:
    """The link of a numbered document, or None before it has a number; ``base`` (the public URL)
    makes it absolute."""
    if not reference or not token:
        return None
    return DocumentLink(number=reference, url=f"{base}{RECEIPT_PATH}{token}")


def document_link(reference: str | None, token: str | None, base: str = "") -> dict[str, str] | None:
    link = document_link_of(reference, token, base)
    return as_json(link) if link is not None else None


def absolute_links(view: dict[str, Any] | None, base: str) -> dict[str, Any] | None:
    """The same JSON request with its receipt link made absolute (views built inside a transaction carry paths)."""
    receipt = (view or {}).get("receipt")
    if view is not None and receipt and receipt["url"].startswith(RECEIPT_PATH):
        view = {**view, "receipt": {**receipt, "url": base + receipt["url"]}}
    return view


# -- payment requests and refunds ------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class StripeRefs:
    checkout_session_id: str | None
    payment_intent_id: str | None


@dataclasses.dataclass(frozen=True)
class RequestProblem:
    """Why the latest checkout has not ended in a payment, in a code the panels put in words."""

    code: str
    detail: str | None
    at: str | None


@dataclasses.dataclass(frozen=True)
class VippsRefs:
    """A request's Vipps payment: its reference at Vipps, the user flow, Vipps' state as last read
    (``AUTHORIZED``: approved, the capture under way), and the capture's pspReference."""

    reference: str
    flow: str | None
    state: str | None
    psp_reference: str | None


@dataclasses.dataclass(frozen=True)
class VippsOpened:
    """``payment:vipps``'s answer: what the patient's panel shows for a payment waiting in Vipps.

    ``flow`` says what ``url`` is: nothing to open for ``PUSH_MESSAGE`` (the phone rings),
    the QR code's image for ``QR``, the page or app to go to for the redirect flows.
    """

    request_id: str
    status: str
    flow: str
    url: str | None
    reference: str


@dataclasses.dataclass(frozen=True)
class RequestView:
    """A payment request (``GET /api/v1/payment-requests/{id}``, every ``payment:*`` event)."""

    id: str
    consult_id: str
    patient_id: str
    amount: int
    currency: str
    description: str
    status: str
    bill_card_id: str | None
    created_at: str | None
    updated_at: str | None
    paid_at: str | None
    refunded_amount: int
    failure_reason: str | None
    checkout_expires_at: str | None
    problem: RequestProblem | None
    # Where the amount went when it was not paid in the call.
    onward: str | None
    stripe: StripeRefs
    receipt: DocumentLink | None
    # How the patient pays: ``card`` (Stripe Checkout) or ``vipps``; and the Vipps payment, if any.
    method: str
    vipps: VippsRefs | None
    # What the request is for: ``in_call``, or a waiting room's ``before_join`` / ``hold`` (app/billing/gates.py).
    kind: str
    # A card hold (``kind`` hold): the authorised amount (``amount`` is what is, or would be, captured),
    # when the card was authorised, and Stripe's deadline for capturing it (docs/rules.md, rule H2).
    hold_amount: int | None
    authorised_at: str | None
    capture_before: str | None

    @classmethod
    def from_row(cls, r: PaymentRequest, base: str = "") -> Self:
        """The request; ``base`` (the public URL) makes its receipt link absolute."""
        problem = RequestProblem(code=r.problem, detail=r.problem_detail, at=iso(r.problem_at)) if r.problem else None
        return copy_view(cls, r, created_at=iso(r.created_at), updated_at=iso(r.updated_at), paid_at=iso(r.paid_at),
                     checkout_expires_at=iso(r.checkout_expires_at), problem=problem, stripe=copy_view(StripeRefs, r),
                     receipt=document_link_of(r.receipt_reference, r.receipt_token, base), method=r.method or "card",
                     vipps=VippsRefs(reference=r.vipps_reference, flow=r.vipps_flow, state=r.vipps_state,
                                     psp_reference=r.vipps_psp_reference) if r.vipps_reference else None,
                     kind=getattr(r, "kind", None) or "in_call", hold_amount=getattr(r, "hold_amount", None),
                     authorised_at=iso(getattr(r, "authorised_at", None)),
                     capture_before=iso(getattr(r, "capture_before", None)))


def request_view(r: PaymentRequest, base: str = "") -> dict[str, Any]:
    return as_json(RequestView.from_row(r, base))


@dataclasses.dataclass(frozen=True)
class RefundView:
    id: str
    payment_request_id: str
    amount: int
    currency: str
    status: str
    source: str
    stripe_refund_id: str | None
    created_at: str | None
    credit_note: DocumentLink | None

    @classmethod
    def from_row(cls, f: PaymentRefund, base: str = "") -> Self:
        return copy_view(cls, f, created_at=iso(f.created_at),
                     credit_note=document_link_of(f.credit_note_reference, f.credit_note_token, base))


def refund_view(f: PaymentRefund, base: str = "") -> dict[str, Any]:
    return as_json(RefundView.from_row(f, base))


@dataclasses.dataclass(frozen=True)
class PaidRequest(RequestView):
    """A paid request on the page a join link shows after its consult: with its refunds' credit notes."""

    credit_notes: list[DocumentLink]

    @classmethod
    def from_rows(cls, r: PaymentRequest, refunds: list[PaymentRefund], base: str = "") -> Self:
        """The request with the credit notes of those of ``refunds`` that are numbered and its own."""
        request = RequestView.from_row(r, base)
        notes = [document_link_of(f.credit_note_reference, f.credit_note_token, base)
                 for f in refunds if f.payment_request_id == r.id]
        return cls(**{f.name: getattr(request, f.name) for f in dataclasses.fields(RequestView)},
                   credit_notes=[n for n in notes if n is not None])


@dataclasses.dataclass(frozen=True)
class RefundResult:
    """A refund made, and its request after it (the ``payment:refund`` ack; REST answers the refund)."""

    refund: RefundView
    request: RequestView


# -- consults ----------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class PersonView:
    """The clinician, or a patient as other people in the call see them."""

    id: str
    name: str


@dataclasses.dataclass(frozen=True)
class PatientView(PersonView):
    """A patient with the details the host gave (REST only)."""

    email: str | None
    national_id: str | None
    mobile: str | None
    address: dict[str, Any] | None
    # The patient's policy, its gate (app/billing/gates.py) and when they first joined.
    payment_policy: dict[str, Any]
    gate: dict[str, Any] | None
    joined_at: str | None


@dataclasses.dataclass(frozen=True)
class CallPatient(PersonView):
    """A patient as the clinician sees them in the call (``consult:state``): their gate, and since when
    they are in the call (``None``: not yet), as ``patient:joined`` then says live."""

    gate: dict[str, Any] | None
    joined_at: str | None


@dataclasses.dataclass(frozen=True)
class JoiningClinician(PersonView):
    token: str
    join_url: str


@dataclasses.dataclass(frozen=True)
class JoiningPatient(PatientView):
    token: str
    join_url: str


def patient_view_of(p: ConsultPatient, *, full: bool, gates: Mapping[str, Any] | None = None) -> PersonView:
    """``gates`` (each patient's gate, by id): given, the views carry them."""
    if not full:
        if gates is not None:
            return CallPatient(id=p.patient_id, name=p.name, gate=gates.get(p.patient_id), joined_at=iso(p.joined_at))
        return PersonView(id=p.patient_id, name=p.name)
    return copy_view(PatientView, p, id=p.patient_id, payment_policy=policy_view(p),
                     gate=(gates or {}).get(p.patient_id), joined_at=iso(p.joined_at))


def patient_view(p: ConsultPatient, *, full: bool) -> dict[str, Any]:
    return as_json(patient_view_of(p, full=full))


@dataclasses.dataclass(frozen=True)
class ConsultView:
    id: str
    clinic_id: str
    external_id: str | None
    status: str
    currency: str
    language: str
    created_at: str | None
    expires_at: str | None
    ended_at: str | None
    clinician: PersonView
    patients: list[PersonView]

    @classmethod
    def from_row(cls, c: Consult, patients: list[ConsultPatient], *, full: bool = True,
                 gates: Mapping[str, Any] | None = None) -> Self:
        return copy_view(cls, c, created_at=iso(c.created_at), expires_at=iso(c.expires_at), ended_at=iso(c.ended_at),
                     clinician=PersonView(id=c.clinician_id, name=c.clinician_name),
                     patients=[patient_view_of(p, full=full, gates=gates) for p in patients])

    def fields(self) -> dict[str, Any]:
        """The consult's own fields, to make a wider view of it."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(ConsultView)}


def consult_view(c: Consult, patients: list[ConsultPatient], *, full: bool = True) -> dict[str, Any]:
    return as_json(ConsultView.from_row(c, patients, full=full))


@dataclasses.dataclass(frozen=True)
class ConsultDetail(ConsultView):
    """``GET /api/v1/consults/{id}`` and ``…/end``: the consult with its requests."""

    payment_requests: list[RequestView]


@dataclasses.dataclass(frozen=True)
class Me:
    id: str
    # The patient's gate before the call (app/billing/gates.py); None for the clinician and without one.
    gate: dict[str, Any] | None = None


@dataclasses.dataclass(frozen=True)
class ConsultState:
    """``consult:state``: everything one person in the call may see (the realtime layer adds the cards)."""

    consult: ConsultView
    role: str
    me: Me
    requests: list[RequestView]


@dataclasses.dataclass(frozen=True)
class AfterEnd:
    """What a join link shows once its consult has ended: the person's paid requests and their documents."""

    consult: ConsultView
    role: str
    requests: list[PaidRequest]
    # The patient's own no-show, if they never joined and a fee was decided (``no_show_view.NoShowView``).
    no_show: Any = None


# -- the clinic's Stripe accounts ---------------------------------------------------------------------


def account_view(row: StripeAccount) -> dict[str, Any]:
    fields = ("id", "stripe_account_id", "label", "status", "charges_enabled", "details_submitted",
              "payouts_enabled", "is_default")
    return {**{name: getattr(row, name) for name in fields}, "updated_at": row.updated_at.isoformat()}
