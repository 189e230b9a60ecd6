"""Which Stripe account a payment request goes to, and the platform fee on it.

A clinic may link several accounts. A clinician's payments go to the account
chosen for them (``clinician_accounts``, keyed by the host platform's
clinician id) while it can take payments; otherwise to the clinic's default
(cached on ``clinics.stripe_account_id`` / ``stripe_charges_enabled``);
otherwise nowhere, and the clinician is told so before typing an amount.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, ScalarSelect, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Clinic, ClinicianAccount, StripeAccount

NO_PAYMENT_APP = "The payment app is not enabled for this clinic."
NO_ACCOUNT = "The clinic cannot take payments yet: no Stripe account is linked."


@dataclass(frozen=True)
class Route:
    """Where a clinician's payments go: an account, or why there is none (an English msgid)."""

    account: str | None
    code: str | None = None
    reason: str | None = None


# Built once: it runs on every payment request.
_CHOSEN = (
    select(StripeAccount)
    .join(ClinicianAccount, ClinicianAccount.stripe_account_row_id == StripeAccount.id)
    .where(ClinicianAccount.clinic_id == bindparam("clinic_id"),
           ClinicianAccount.clinician_ref == bindparam("clinician_ref"))
)


async def route_for(s: AsyncSession, clinic: Clinic, clinician_ref: str | None) -> Route:
    if not clinic.payment_app_enabled:
        return Route(None, "payment_app_disabled", NO_PAYMENT_APP)
    chosen = None
    if clinician_ref:
        account = await s.scalar(_CHOSEN, {"clinic_id": clinic.id, "clinician_ref": clinician_ref})
        if account is not None and account.status == "enabled" and account.charges_enabled:
            chosen = account.stripe_account_id
    return route_of(clinic, chosen)


def route_of(clinic: Any, chosen: str | None) -> Route:
    """The route, given the clinician's chosen account if it can take payments (``chosen_account``).

    ``clinic`` is the clinic, or a row with its columns' names."""
    if not clinic.payment_app_enabled:
        return Route(None, "payment_app_disabled", NO_PAYMENT_APP)
    if chosen:
        return Route(chosen)
    if clinic.stripe_account_id and clinic.stripe_charges_enabled:
        return Route(clinic.stripe_account_id)
    return Route(None, "no_stripe_account", NO_ACCOUNT)


def chosen_account(clinic_id: ColumnElement[Any], clinician_ref: ColumnElement[Any]) -> ScalarSelect[Any]:
    """``route_for``'s chosen account in SQL, for a statement that reads it with other things:
    the Stripe account id chosen for the clinician, if it can take payments; else NULL."""
    return (
        select(StripeAccount.stripe_account_id)
        .join(ClinicianAccount, ClinicianAccount.stripe_account_row_id == StripeAccount.id)
        .where(ClinicianAccount.clinic_id == clinic_id, ClinicianAccount.clinician_ref == clinician_ref,
               StripeAccount.status == "enabled", StripeAccount.charges_enabled.is_(True))
        .limit(1)
        .scalar_subquery()
    )


def application_fee(amount: int, basis_points: int, fixed: int) -> int:
    """The platform's fee on ``amount`` minor units: a share plus a fixed part, always below the amount.

    Stripe refuses a fee greater than the charge, and a fee equal to it would
    leave the clinic nothing, so the fee is capped one minor unit below.
    """
    fee = amount * max(basis_points, 0) // 10_000 + max(fixed, 0)
    return max(0, min(fee, amount - 1))
