"""The JSON shapes of consults and payment requests, as the contract writes them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.models import Consult, ConsultPatient, PaymentRequest


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def request_view(r: PaymentRequest) -> dict[str, Any]:
    return {
        "id": r.id,
        "consult_id": r.consult_id,
        "patient_id": r.patient_id,
        "amount": r.amount,
        "currency": r.currency,
        "description": r.description,
        "status": r.status,
        "bill_card_id": r.bill_card_id,
        "created_at": iso(r.created_at),
        "updated_at": iso(r.updated_at),
        "paid_at": iso(r.paid_at),
        "refunded_amount": r.refunded_amount,
        "failure_reason": r.failure_reason,
        "checkout_expires_at": iso(r.checkout_expires_at),
        # Why the latest checkout has not ended in a payment, in codes the panels put in words.
        "problem": {"code": r.problem, "detail": r.problem_detail, "at": iso(r.problem_at)} if r.problem else None,
        # Where the amount went when it was not paid in the call.
        "onward": r.onward,
        "stripe": {
            "checkout_session_id": r.checkout_session_id,
            "payment_intent_id": r.payment_intent_id,
        },
    }


def patient_view(p: ConsultPatient, *, full: bool) -> dict[str, Any]:
    view: dict[str, Any] = {"id": p.patient_id, "name": p.name}
    if full:
        view.update(email=p.email, national_id=p.national_id, mobile=p.mobile, address=p.address)
    return view


def consult_view(c: Consult, patients: list[ConsultPatient], *, full: bool = True) -> dict[str, Any]:
    return {
        "id": c.id,
        "clinic_id": c.clinic_id,
        "external_id": c.external_id,
        "status": c.status,
        "currency": c.currency,
        "language": c.language,
        "created_at": iso(c.created_at),
        "expires_at": iso(c.expires_at),
        "ended_at": iso(c.ended_at),
        "clinician": {"id": c.clinician_id, "name": c.clinician_name},
        "patients": [patient_view(p, full=full) for p in patients],
    }
