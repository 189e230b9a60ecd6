"""A patient's no-show as the consult's view shows it (``patients[].no_show``), read from the rows.

Where the fee went is not stored apart: a live "No-show fee" line on the
patient's bill card says ``bill_card``; their card hold captured as the
no-show fee says ``hold``, their saved card charged ``card_on_file`` (declined,
the fee is owed on the bill card: ``bill_card``); otherwise ``none``
(docs/rules.md, rule H4).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import select

from app.billing.serialisers import PatientView
from app.billing.statuses import REQUEST_PAID, CheckoutProblem
from app.models import BillCard, BillCardLine, ConsultPatient, PaymentRequest

# The line a no-show fee makes on a bill card, and the description of the fee (line, capture, receipt).
NO_SHOW_LINE = "NOSHOW"
NO_SHOW_DESCRIPTION = "No-show fee"
# What the clinician's panel says of a no-show, by where its fee went (English msgids; the panel
# translates them); any other ``how`` says no fee was charged.
NO_SHOW_WORDS = {
    "hold": "Did not join: no-show fee of {amount} captured from the card hold",
    "card_on_file": "Did not join: no-show fee of {amount} charged to the saved card",
    "bill_card": "Did not join: no-show fee of {amount} owed on the bill card",
}
# Being captured or charged, or (a saved card) declined and so owed on the bill card.
_UNDER_WAY = (CheckoutProblem.CAPTURING, CheckoutProblem.CHARGING, CheckoutProblem.CHARGE_DECLINED)


@dataclasses.dataclass(frozen=True)
class NoShowView:
    """A patient who never joined a consult with a no-show fee: what was charged, how, and when decided."""

    fee: int | None
    request_id: str | None
    how: str  # hold | card_on_file | bill_card | none
    at: str | None


@dataclasses.dataclass(frozen=True)
class PatientOutcome(PatientView):
    """A patient in ``GET /api/v1/consults/{id}``: with their no-show, once decided."""

    no_show: NoShowView | None


async def no_show_of(s: Any, patient: ConsultPatient, requests: list[PaymentRequest]) -> dict[str, Any] | None:
    """``patients[].no_show`` of the consult's view: the fee, how it is collected, and when it was decided."""
    if patient.no_show_at is None:
        return None
    line = await s.scalar(select(BillCardLine.id).join(BillCard, BillCard.id == BillCardLine.bill_card_id).where(
        BillCardLine.code == NO_SHOW_LINE, BillCardLine.voided_at.is_(None),
        BillCard.consult_id == patient.consult_id, BillCard.patient_ref == patient.patient_id))
    return no_show_outcome(patient, requests, on_card=line is not None)


def no_show_outcome(patient: ConsultPatient, requests: list[PaymentRequest], *, on_card: bool) -> dict[str, Any]:
    """How a decided no-show's fee went, from the patient's requests and whether a live "No-show fee"
    line is on their bill card (``on_card``); also what the settlement report's no-show lines read."""
    at = patient.no_show_at.isoformat().replace("+00:00", "Z") if patient.no_show_at else None
    if on_card:
        return {"fee": patient.no_show_fee, "request_id": None, "how": "bill_card", "at": at}
    charged = [r for r in requests if r.patient_id == patient.patient_id and r.kind in ("hold", "card_on_file")
               and r.description == NO_SHOW_DESCRIPTION
               and (r.status in REQUEST_PAID or r.problem in _UNDER_WAY)]
    if charged:
        r = charged[0]
        if r.problem == CheckoutProblem.CHARGE_DECLINED:
            return {"fee": r.amount, "request_id": r.id, "how": "bill_card", "at": at}
        fee = r.amount if r.status in REQUEST_PAID else int(r.problem_detail or 0) or patient.no_show_fee
        return {"fee": fee, "request_id": r.id, "how": str(r.kind), "at": at}
    return {"fee": patient.no_show_fee, "request_id": None, "how": "none", "at": at}
