"""Guard rails on what a clinician asks for in a call, per clinic.

Two amounts, in minor units of the clinic's currency, set by the clinic's admin
(*Configure > Client payments > Amount limits*):

- ``max_request_amount``: no request above it is made, whatever path asks
  (the panel's ``payment:request``, or any other caller of
  ``PaymentService.request``); the refusal changes nothing.
- ``confirm_above_amount``: above it the clinician's panel asks before it
  sends, and the server wants the payload's ``confirmed: true``, so a panel
  that skipped the question (or an old one) cannot send it by accident.

The defaults: at most 50 000.00 per request (MediPay's own ceiling for a
claim, docs/rules.md, rule M6), and a confirmation above 5 000.00.
"""

from __future__ import annotations

from typing import Any

from app import audit
from app.clock import Clock
from app.db import Database
from app.errors import Invalid, NotFound
from app.models import Clinic
from app.money import Money
from app.validation import MAX_AMOUNT

DEFAULT_MAX = 5_000_000
DEFAULT_CONFIRM_ABOVE = 500_000


def check_amount(clinic: Clinic, amount: int, confirmed: object) -> None:
    """Refuse an amount above the clinic's maximum, or above its threshold unless confirmed."""
    maximum = clinic.max_request_amount or DEFAULT_MAX
    if amount > maximum:
        raise Invalid(
            "amount_above_maximum",
            "The amount is above this clinic's maximum of %(maximum)s per request.",
            maximum=Money(maximum, clinic.currency), field="amount",
        )
    threshold = clinic.confirm_above_amount if clinic.confirm_above_amount is not None else DEFAULT_CONFIRM_ABOVE
    if amount > threshold and confirmed is not True:
        raise Invalid(
            "confirmation_required",
            "Amounts above %(threshold)s must be confirmed before they are sent.",
            threshold=Money(threshold, clinic.currency), field="confirmed",
        )


def limits_view(clinic: Clinic | None) -> dict[str, int]:
    """The limits as the clinician's panel gets them (``consult:state`` and the page's config)."""
    if clinic is None:
        return {"max_amount": DEFAULT_MAX, "confirm_above": DEFAULT_CONFIRM_ABOVE}
    return {"max_amount": clinic.max_request_amount, "confirm_above": clinic.confirm_above_amount}


class AmountLimits:
    """Sets a clinic's limits: checked, in one transaction with its audit entry."""

    def __init__(self, db: Database, *, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def set(self, clinic_id: str, max_amount: Any, confirm_above: Any, *, actor_id: str) -> None:
        for value, name in ((max_amount, "max_amount"), (confirm_above, "confirm_above")):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_AMOUNT:
                raise Invalid("invalid_limit", "Enter an amount greater than zero.", field=name)
        if confirm_above > max_amount:
            raise Invalid("invalid_limit", "The confirmation threshold cannot be above the maximum.",
                          field="confirm_above")
        now = self.clock.now()
        async with self.db.write() as s:
            clinic = await s.get(Clinic, clinic_id, with_for_update=True)
            if clinic is None:
                raise NotFound("clinic_not_found", "Unknown clinic.")
            before = {"max_amount": clinic.max_request_amount, "confirm_above": clinic.confirm_above_amount}
            clinic.max_request_amount = max_amount
            clinic.confirm_above_amount = confirm_above
            audit.record(
                s, organisation_id=clinic.organisation_id, clinic_id=clinic.id, actor_type="user",
                actor_id=actor_id, action="clinic.amount_limits_set", subject_type="clinic", subject_id=clinic.id,
                at=now, details={"before": before, "after": {"max_amount": max_amount, "confirm_above": confirm_above},
                                 "currency": clinic.currency},
            )
