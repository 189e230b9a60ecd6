"""Configure > Client payments: a clinic's connected Stripe accounts.

Each account is a row in ``stripe_accounts`` whose status mirrors what Stripe
says of it:

    pending       created; onboarding not finished (``details_submitted`` false)
    enabled       ``charges_enabled``: payments can be taken on it
    restricted    details were given but Stripe has switched charges off (past due, …)
    under_review  Stripe is reviewing the account or verifying what was given
    rejected      Stripe rejected the account (``disabled_reason`` ``rejected.*``)
    disconnected  the account left the platform (``account.application.deauthorized``)
    removed       a clinic admin removed it here; kept for the history and refunds

``app.connect.requirements`` reads Stripe's account into these and into the
finer state the page shows (payouts paused, details due by a deadline), with
what Stripe still needs in plain words.

Linking (*Go to Stripe*, onboarding links, *Edit*, the dashboard) is in
``app.connect.linking``.

The state is Stripe's, never ours to invent: it comes from a retrieve (on the
page, on return from onboarding) or from ``account.updated``. ``disconnected``
and ``removed`` are final. The clinic's default account is cached on
``clinics.stripe_account_id`` / ``stripe_charges_enabled`` (older code reads
those); every change here goes through ``sync_clinic`` in the same transaction.

Order of work, as in payments: validate, call Stripe outside any database
transaction (with an idempotency key where Stripe takes one), then write.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app import audit
from app.billing.serialisers import account_view
from app.billing.statuses import REQUEST_OPEN
from app.connect.account_status import (
    FINAL,
    account_row,
    apply_account,
    clinic_row,
    sync_clinic,
)
from app.connect.linking import AccountLinking
from app.connect.requirements import Needs, account_state, needs_of
from app.connect.stripe_errors import admin_error
from app.errors import Conflict, DomainError, Invalid
from app.models import ClinicianAccount, PaymentRequest, StripeAccount, User
from integrations.stripe.protocol import ProviderError, ProviderUnavailable

log = logging.getLogger(__name__)

MAX_FEE_FIXED = 100_000_000  # minor units; a sanity bound, far above any consultation


class StripeAccounts(AccountLinking):
    """Reading and changing a clinic's accounts; linking them (going to Stripe) is ``AccountLinking``'s."""

    # -- reading ---------------------------------------------------------------------------------

    async def overview(self, clinic_id: str, *, refresh: bool = True) -> dict[str, Any]:
        """The page's data. With ``refresh``, each live account is first retrieved from Stripe."""
        stale = False
        refused: list[DomainError] = []
        due: dict[str, Needs] = {}
        if refresh:
            for row_id in await self._live_row_ids(clinic_id):
                try:
                    got = await self.refresh(clinic_id, row_id)
                except DomainError as e:
                    refused.append(e)
                    continue
                if got is None:
                    stale = True
                else:
                    due[row_id] = got
        async with self.db.read() as s:
            clinic = await clinic_row(s, clinic_id)
            rows = list(
                await s.scalars(
                    select(StripeAccount).where(StripeAccount.clinic_id == clinic_id).order_by(StripeAccount.created_at)
                )
            )
            choices = list(await s.scalars(select(ClinicianAccount).where(ClinicianAccount.clinic_id == clinic_id)))
            people = list(
                await s.execute(
                    select(User.clinician_ref, User.name).where(
                        User.clinic_id == clinic_id, User.clinician_ref.is_not(None), User.active.is_(True)
                    )
                )
            )
        return {
            "clinic": {
                "id": clinic.id,
                "name": clinic.name,
                "currency": clinic.currency,
                "payment_app_enabled": clinic.payment_app_enabled,
                "fee_basis_points": clinic.fee_basis_points,
                "fee_fixed": clinic.fee_fixed,
                "stripe_account_id": clinic.stripe_account_id,
                "stripe_charges_enabled": clinic.stripe_charges_enabled,
            },
            "accounts": [_with_needs(account_view(r), due.get(r.id)) for r in rows],
            "clinicians": [
                {"clinician_ref": c.clinician_ref, "account_id": c.stripe_account_row_id} for c in choices
            ],
            "known_clinicians": [{"clinician_ref": ref, "name": name} for ref, name in people],
            "stale": stale,
            # Stripe's refusals, once each: (what to do, Stripe's own words).
            "refused": list(dict.fromkeys((e.message, str(e.params.get("stripe_message") or "")) for e in refused)),
        }

    async def state(self, clinic_id: str) -> dict[str, Any]:
        """What the page polls: the rows as webhooks left them, no call to Stripe."""
        data = await self.overview(clinic_id, refresh=False)
        accounts = [
            {k: a[k] for k in ("id", "status", "is_default", "charges_enabled", "payouts_enabled")}
            for a in data["accounts"]
        ]
        version = "|".join(
            f"{a['id']}:{a['status']}:{int(a['is_default'])}:{int(a['payouts_enabled'])}" for a in accounts
        )
        return {"version": version, "accounts": accounts}

    async def refresh(self, clinic_id: str, row_id: str) -> Needs | None:
        """Retrieve one account from Stripe and apply it.

        Returns what Stripe still needs (shown, not stored: it is Stripe's list),
        or None when Stripe could not be reached; raises the admin's error when
        Stripe refused.
        """
        async with self.db.read() as s:
            row = await account_row(s, clinic_id, row_id)
        if row.status in FINAL:
            return Needs(state=row.status)
        try:
            account = await self.stripe.retrieve_account(row.stripe_account_id)
        except ProviderError as e:
            if e.code == "account_invalid":
                # Stripe says we no longer reach it: the account left the platform.
                await self._disconnect(row.stripe_account_id, actor_type="stripe", reason="access revoked")
                return Needs(state="disconnected")
            if isinstance(e, ProviderUnavailable):
                log.warning("could not retrieve %s: %s", row.stripe_account_id, e.provider_message)
                return None
            raise admin_error(e, f"retrieve {row.stripe_account_id}") from e
        now = self.clock.now()
        async with self.db.write() as s:
            row = await account_row(s, clinic_id, row_id, lock=True)
            clinic = await clinic_row(s, clinic_id)
            before = row.status
            if apply_account(row, account, now):
                await sync_clinic(s, clinic)
                if before != row.status:
                    audit.record(
                        s, organisation_id=clinic.organisation_id, clinic_id=clinic.id, actor_type="stripe",
                        actor_id=row.stripe_account_id, action="stripe_account.status_changed",
                        subject_type="stripe_account", subject_id=row.id, at=now,
                        details={"from": before, "to": row.status},
                    )
        return needs_of(row.status, account, payouts_enabled=row.payouts_enabled)

    # -- changing --------------------------------------------------------------------------------

    async def open_requests(self, clinic_id: str, row_id: str) -> list[dict[str, Any]]:
        async with self.db.read() as s:
            row = await account_row(s, clinic_id, row_id)
            return await _open_requests(s, row)

    async def remove(self, clinic_id: str, row_id: str, *, actor_id: str) -> None:
        """*Remove*: refused while the account has open requests; then no new request reaches it.

        The account is not deleted at Stripe: its payments stay in its dashboard
        and refunds of them still go through it.
        """
        now = self.clock.now()
        async with self.db.write() as s:
            # The clinic's row lock orders this against payment requests being made.
            clinic = await clinic_row(s, clinic_id, lock=True)
            row = await account_row(s, clinic_id, row_id, lock=True)
            if row.status == "removed":
                return
            still_open = await _open_requests(s, row)
            if still_open:
                raise Conflict(
                    "account_has_open_requests",
                    "The account has open payment requests. Let them finish or cancel them first.",
                    requests=still_open,
                )
            was_default = row.is_default
            row.status = "removed"
            row.is_default = False
            row.charges_enabled = False
            row.removed_at = now
            row.updated_at = now
            await s.execute(delete(ClinicianAccount).where(ClinicianAccount.stripe_account_row_id == row.id))
            await s.flush()
            await sync_clinic(s, clinic)
            audit.record(
                s, organisation_id=clinic.organisation_id, clinic_id=clinic.id, actor_type="user",
                actor_id=actor_id, action="stripe_account.removed", subject_type="stripe_account", subject_id=row.id,
                at=now, details={"stripe_account_id": row.stripe_account_id, "was_default": was_default},
            )

    async def set_default(self, clinic_id: str, row_id: str, *, actor_id: str) -> None:
        now = self.clock.now()
        async with self.db.write() as s:
            clinic = await clinic_row(s, clinic_id, lock=True)
            row = await account_row(s, clinic_id, row_id, lock=True)
            if row.status in FINAL:
                raise Conflict("account_not_linked", "This account is no longer linked.")
            for other in await s.scalars(select(StripeAccount).where(StripeAccount.clinic_id == clinic_id)):
                other.is_default = other.id == row.id
            await s.flush()
            await sync_clinic(s, clinic)
            audit.record(
                s, organisation_id=clinic.organisation_id, clinic_id=clinic.id, actor_type="user", actor_id=actor_id,
                action="stripe_account.default_set", subject_type="stripe_account", subject_id=row.id, at=now,
                details={"stripe_account_id": row.stripe_account_id},
            )

    async def assign(self, clinic_id: str, clinician_ref: str, row_id: str | None, *, actor_id: str) -> None:
        """Send a clinician's payments to one of the clinic's accounts (``None``: the default)."""
        clinician_ref = (clinician_ref or "").strip()
        if not 0 < len(clinician_ref) <= 200:
            raise Invalid("invalid_clinician", "Enter the clinician's id.", field="clinician_ref")
        now = self.clock.now()
        async with self.db.write() as s:
            clinic = await clinic_row(s, clinic_id, lock=True)
            current = await s.get(ClinicianAccount, (clinic_id, clinician_ref))
            if row_id:
                row = await account_row(s, clinic_id, row_id)
                if row.status in FINAL:
                    raise Conflict("account_not_linked", "This account is no longer linked.")
                if current is None:
                    s.add(
                        ClinicianAccount(clinic_id=clinic_id, clinician_ref=clinician_ref, stripe_account_row_id=row.id)
                    )
                else:
                    current.stripe_account_row_id = row.id
            elif current is not None:
                await s.delete(current)
            audit.record(
                s, organisation_id=clinic.organisation_id, clinic_id=clinic.id, actor_type="user", actor_id=actor_id,
                action="clinician_account.set", subject_type="clinician", subject_id=clinician_ref, at=now,
                details={"stripe_account": row_id},
            )

    async def set_fee(self, clinic_id: str, basis_points: Any, fixed: Any, *, actor_id: str) -> None:
        """The platform fee on the clinic's in-call payments (set by an organisation admin)."""
        bp = _int_field(basis_points, "fee_basis_points", 0, 10_000)
        fx = _int_field(fixed, "fee_fixed", 0, MAX_FEE_FIXED)
        now = self.clock.now()
        async with self.db.write() as s:
            clinic = await clinic_row(s, clinic_id, lock=True)
            before = {"basis_points": clinic.fee_basis_points, "fixed": clinic.fee_fixed}
            clinic.fee_basis_points = bp
            clinic.fee_fixed = fx
            audit.record(
                s, organisation_id=clinic.organisation_id, clinic_id=clinic.id, actor_type="user", actor_id=actor_id,
                action="clinic.fee_set", subject_type="clinic", subject_id=clinic.id, at=now,
                details={"before": before, "after": {"basis_points": bp, "fixed": fx}, "currency": clinic.currency},
            )

    # -- helpers ---------------------------------------------------------------------------------

    async def _live_row_ids(self, clinic_id: str) -> list[str]:
        async with self.db.read() as s:
            await clinic_row(s, clinic_id)
            return list(
                await s.scalars(
                    select(StripeAccount.id).where(
                        StripeAccount.clinic_id == clinic_id, StripeAccount.status.not_in(FINAL)
                    )
                )
            )

async def _open_requests(s: AsyncSession, row: StripeAccount) -> list[dict[str, Any]]:
    found = await s.scalars(
        select(PaymentRequest)
        .where(PaymentRequest.stripe_account_id == row.stripe_account_id, PaymentRequest.status.in_(REQUEST_OPEN))
        .order_by(PaymentRequest.created_at)
    )
    return [
        {
            "id": r.id,
            "consult_id": r.consult_id,
            "amount": r.amount,
            "currency": r.currency,
            "description": r.description,
            "status": r.status,
            "created_at": r.created_at.isoformat(),
        }
        for r in found
    ]


def _with_needs(view: dict[str, Any], needs: Needs | None) -> dict[str, Any]:
    """The account's row as the page shows it: its state, and what Stripe still needs in plain words."""
    if needs is None:
        needs = Needs(state=account_state(view["status"], None, payouts_enabled=view["payouts_enabled"]))
    return dict(
        view, state=needs.state, needs_now=needs.now, needs_later=needs.later, checking=needs.checking,
        problems=needs.problems, deadline=needs.deadline,
    )


def _int_field(value: Any, name: str, low: int, high: int) -> int:
    if value is None or (isinstance(value, str) and not value.strip()):
        return 0
    if isinstance(value, bool):
        raise Invalid("invalid_fee", "Enter a whole number.", field=name)
    try:
        number = int(value.strip()) if isinstance(value, str) else int(value)
    except (TypeError, ValueError):
        raise Invalid("invalid_fee", "Enter a whole number.", field=name) from None
    if isinstance(value, float) and number != value:
        raise Invalid("invalid_fee", "Enter a whole number.", field=name)
    if not low <= number <= high:
        raise Invalid("invalid_fee", "The fee is out of range.", field=name)
    return number
