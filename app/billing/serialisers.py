"""The JSON shapes: what every service answers, as the contract writes it, in one place.

Each shape is a frozen dataclass (a *view*) made from the rows by its
``from_row`` (or, for a bill card, ``read_card``, which reads its lines and
payments). Services return views; the transports — REST, Socket.IO acks, the
notifier's events, pages — turn them into JSON with ``as_json``, which keeps
the fields in their declared order, so the wire format is the dataclass.
``request_view``, ``card_view`` and the other ``*_view`` functions are the
view and ``as_json`` in one, for code that only passes the JSON on.

It sits at the bottom of the domain (it reads only the models and the
statuses), so every service and every transport can reach it.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any, Self

from app.models import Consult, ConsultPatient, PaymentRefund, PaymentRequest, StripeAccount


def as_json(view: Any) -> dict[str, Any]:
    """A view (nested views, lists of views) as the JSON object it stands for, fields in order."""
    return dataclasses.asdict(view)


def iso(value: datetime | None) -> str | None:
    """A moment as the contract writes it (``…Z``) in consults, requests and refunds."""
    return value.isoformat().replace("+00:00", "Z") if value else None


def copy_row(cls: type[Any], row: Any, **computed: Any) -> Any:
    """A view of ``row``: each field the row's attribute of that name, unless given."""
    return cls(**{f.name: computed[f.name] if f.name in computed else getattr(row, f.name)
                  for f in dataclasses.fields(cls)})


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

    @classmethod
    def from_row(cls, r: PaymentRequest) -> Self:
        problem = RequestProblem(code=r.problem, detail=r.problem_detail, at=iso(r.problem_at)) if r.problem else None
        return copy_row(cls, r, created_at=iso(r.created_at), updated_at=iso(r.updated_at), paid_at=iso(r.paid_at),
                     checkout_expires_at=iso(r.checkout_expires_at), problem=problem, stripe=copy_row(StripeRefs, r))


def request_view(r: PaymentRequest) -> dict[str, Any]:
    return as_json(RequestView.from_row(r))


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

    @classmethod
    def from_row(cls, f: PaymentRefund) -> Self:
        return copy_row(cls, f, created_at=iso(f.created_at))


def refund_view(f: PaymentRefund) -> dict[str, Any]:
    return as_json(RefundView.from_row(f))


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


@dataclasses.dataclass(frozen=True)
class JoiningClinician(PersonView):
    token: str
    join_url: str


@dataclasses.dataclass(frozen=True)
class JoiningPatient(PatientView):
    token: str
    join_url: str


def patient_view_of(p: ConsultPatient, *, full: bool) -> PersonView:
    if not full:
        return PersonView(id=p.patient_id, name=p.name)
    return copy_row(PatientView, p, id=p.patient_id)


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
    def from_row(cls, c: Consult, patients: list[ConsultPatient], *, full: bool = True) -> Self:
        return copy_row(cls, c, created_at=iso(c.created_at), expires_at=iso(c.expires_at), ended_at=iso(c.ended_at),
                     clinician=PersonView(id=c.clinician_id, name=c.clinician_name),
                     patients=[patient_view_of(p, full=full) for p in patients])

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


@dataclasses.dataclass(frozen=True)
class ConsultState:
    """``consult:state``: everything one person in the call may see (the realtime layer adds the cards)."""

    consult: ConsultView
    role: str
    me: Me
    requests: list[RequestView]


# -- the clinic's Stripe accounts ---------------------------------------------------------------------


def account_view(row: StripeAccount) -> dict[str, Any]:
    fields = ("id", "stripe_account_id", "label", "status", "charges_enabled", "details_submitted",
              "payouts_enabled", "is_default")
    return {**{name: getattr(row, name) for name in fields}, "updated_at": row.updated_at.isoformat()}
