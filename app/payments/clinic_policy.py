"""The clinic's default payment policy for new consults, set by its admin.

The host platform's own ``payment_policy`` in ``POST /api/v1/consults`` wins;
without one, each patient gets this (``app/payments/policies.py``). It is
checked as the host's would be (an amount and words for paying before joining
and card holds, Stripe's minimum, the clinic's maximum) and saved in one
transaction with its audit entry.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from app import audit
from app.clock import Clock
from app.db import Database
from app.errors import Invalid, NotFound
from app.models import Clinic
from app.payments.policies import Policy, PolicyKind, check_policy
from app.schema import clean_text


class ClinicPolicies:
    def __init__(self, db: Database, *, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def set(self, clinic_id: str, *, kind: Any, amount: int | None, description: Any,
                  no_show_fee: int | None, actor_id: str) -> bool:
        """Set the default (the caller checked the actor may manage the clinic); True when it changed."""
        if kind not in tuple(PolicyKind):
            raise Invalid("invalid_field", "Choose a payment policy from the list.", field="kind")
        description = clean_text(description, "description", required=False, max_len=200)
        async with self.db.write() as s:
            clinic = await s.get(Clinic, clinic_id, with_for_update=True)
            if clinic is None:
                raise NotFound("clinic_not_found", "There is no such clinic.")
            given = SimpleNamespace(kind=kind, amount=amount, description=description, no_show_fee=no_show_fee)
            policy = check_policy(clinic, clinic.currency, given, "")
            before = Policy.of_clinic(clinic)
            if before == policy:
                return False
            clinic.payment_policy = str(policy.kind)
            clinic.policy_amount = policy.amount
            clinic.policy_description = policy.description
            clinic.no_show_fee = policy.no_show_fee
            audit.record(
                s, organisation_id=clinic.organisation_id, clinic_id=clinic.id, actor_type="user",
                actor_id=actor_id, action="clinic.payment_policy_set", subject_type="clinic", subject_id=clinic.id,
                at=self.clock.now(),
                details={"from": str(before.kind), "to": str(policy.kind), "amount": policy.amount,
                         "description": policy.description, "no_show_fee": policy.no_show_fee,
                         "currency": clinic.currency},
            )
            return True
