"""Payment policies: which one a patient gets, and the gate request it opens with the consult.

The host may set a policy for the consult (``payment_policy`` in ``POST
/api/v1/consults``) and for each patient (``patients[].payment_policy``, which
wins); without either, the clinic's default (set in the admin,
``app/payments/clinic_policy.py``) applies. The kinds, the gate and its views
are the domain's (``app/billing/gates.py``); here they are checked against the
clinic (Stripe's minimum for the currency, the clinic's maximum: the rules of
any payment request) and, for ``before_join`` and ``hold``, the gate request is
made through the payment service's one request path (``request_store.store``),
inside the consult's creating transaction: no consult without its gates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.billing.gates import GATED, GateStatus, PolicyKind, gate_of, gate_of_request, gate_view, gates_of
from app.errors import Invalid
from app.models import Clinic, Consult, ConsultPatient
from app.money import Money
from app.payments.amount_limits import DEFAULT_MAX
from app.payments.minimums import check_minimum
from app.payments.request_store import Ask, store
from app.ready import in_session

__all__ = [
    "GATED", "GateStatus", "Policy", "PolicyGates", "PolicyKind", "check_policy", "gate_of", "gate_of_request",
    "gate_view", "gates_of",
]


@dataclass(frozen=True)
class Policy:
    """A resolved policy, as stored on ``consult_patients`` (and on ``clinics`` as the default)."""

    kind: PolicyKind = PolicyKind.IN_CALL
    amount: int | None = None
    description: str | None = None
    no_show_fee: int | None = None

    def columns(self) -> dict[str, Any]:
        return {"payment_policy": str(self.kind), "policy_amount": self.amount,
                "policy_description": self.description, "no_show_fee": self.no_show_fee}

    @classmethod
    def of_clinic(cls, clinic: Clinic) -> Policy:
        kind = PolicyKind(clinic.payment_policy or PolicyKind.IN_CALL)
        return cls(kind=kind, amount=clinic.policy_amount, description=clinic.policy_description,
                   no_show_fee=clinic.no_show_fee)


def check_policy(clinic: Clinic, currency: str, given: Any, field: str) -> Policy:
    """A policy as given (a ``PaymentPolicy`` command, or anything with its fields), checked.

    ``field``: where it was given (``payment_policy``, ``patients[0].payment_policy``; empty for the
    admin's form, whose fields are named alone), to name the refused part. Amounts obey a payment
    request's rules: Stripe's minimum for the currency and the clinic's maximum per request.
    """
    def at(name: str) -> str:
        return f"{field}.{name}" if field else name

    try:
        kind = PolicyKind(given.kind)
    except ValueError:
        raise Invalid("invalid_field", "This value is not one of the allowed choices.", field=at("kind")) from None
    amount, description = given.amount, given.description
    if description is not None:
        description = description.strip() or None
    if kind in GATED:
        if amount is None:
            raise Invalid("policy_amount_required",
                          "Paying before joining, card holds and cards on file need an amount.", field=at("amount"))
        if description is None:
            raise Invalid("policy_description_required",
                          "Paying before joining, card holds and cards on file need a description the "
                          "patient sees.", field=at("description"))
        _check_amount(clinic, currency, amount, at("amount"))
    elif amount is not None or description is not None:
        name = "amount" if amount is not None else "description"
        raise Invalid("invalid_field", "An amount and a description are only for paying before joining, a card "
                      "hold or a card on file.", field=at(name))
    if given.no_show_fee is not None:
        _check_amount(clinic, currency, given.no_show_fee, at("no_show_fee"))
    return Policy(kind=kind, amount=amount, description=description, no_show_fee=given.no_show_fee)


def _check_amount(clinic: Clinic, currency: str, amount: int, field: str) -> None:
    try:
        check_minimum(amount, currency)
    except Invalid as e:
        raise Invalid(e.code, e.message, **{**e.params, "field": field}) from None
    maximum = clinic.max_request_amount or DEFAULT_MAX
    if amount > maximum:
        raise Invalid("amount_above_maximum", "The amount is above this clinic's maximum of %(maximum)s per request.",
                      maximum=Money(maximum, clinic.currency), field=field)


class PolicyGates:
    """What ``ConsultService.create`` asks about policies: each patient's, and their gate requests."""

    def resolve(self, clinic: Clinic, currency: str, consult_policy: Any, patient_policies: list[Any]) -> list[Policy]:
        """Each patient's policy: their own, else the consult's, else the clinic's default."""
        fallback = (check_policy(clinic, currency, consult_policy, "payment_policy")
                    if consult_policy is not None else Policy.of_clinic(clinic))
        return [check_policy(clinic, currency, given, f"patients[{n}].payment_policy") if given is not None
                else fallback for n, given in enumerate(patient_policies)]

    async def open(self, s: AsyncSession, consult: Consult, patients: list[ConsultPatient], *, actor_type: str,
                   actor_id: str, now: datetime) -> list[Any]:
        """The gate request of each gated patient, in the session's transaction; its id on the patient.

        The patients' rows must be flushed. Returns the requests' rows (as stored).
        """
        made = []
        for p in patients:
            if p.payment_policy not in GATED:
                continue
            ask = Ask(consult_id=consult.id, patient_id=p.patient_id, amount=p.policy_amount or 0,
                      description=p.policy_description or "", idempotency_key=None, confirmed=True,
                      actor_type=actor_type, actor_id=actor_id, now=now, kind=p.payment_policy)
            row, _new = await in_session(s, store, ask)
            p.gate_request_id = row.id
            made.append(row)
        return made
