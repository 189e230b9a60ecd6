"""A connected account's row: its status from Stripe's account, the clinic's cached
default, and the final states (``disconnected``, ``removed``).

Shared by the Client payments service and the Connect webhooks, inside their
write transactions.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app import audit
from app.connect.requirements import stored_status
from app.errors import NotFound
from app.ids import new_id
from app.models import Clinic, StripeAccount
from integrations.stripe.protocol import ConnectedAccount

FINAL = ("disconnected", "removed")


def status_of(account: ConnectedAccount) -> str:
    """The row's status for Stripe's account: see ``app.connect.requirements``."""
    return stored_status(account)


def apply_account(row: StripeAccount, account: ConnectedAccount, now: datetime) -> bool:
    """Bring a row in line with Stripe's account; False when nothing changed (or it is final)."""
    if row.status in FINAL:
        return False
    before = (row.status, row.charges_enabled, row.details_submitted, row.payouts_enabled)
    row.status = status_of(account)
    row.charges_enabled = account.charges_enabled
    row.details_submitted = account.details_submitted
    row.payouts_enabled = account.payouts_enabled
    changed = before != (row.status, row.charges_enabled, row.details_submitted, row.payouts_enabled)
    if changed:
        row.updated_at = now
    return changed


async def sync_clinic(s: AsyncSession, clinic: Clinic) -> None:
    """Copy the default account onto the clinic's cached columns."""
    default = await s.scalar(
        select(StripeAccount).where(
            StripeAccount.clinic_id == clinic.id, StripeAccount.is_default.is_(True), StripeAccount.status != "removed"
        )
    )
    clinic.stripe_account_id = default.stripe_account_id if default else None
    clinic.stripe_charges_enabled = bool(default and default.status == "enabled" and default.charges_enabled)


async def adopt(
    s: AsyncSession, clinic: Clinic, account: ConnectedAccount, *, label: str, now: datetime
) -> StripeAccount:
    """Record an account that already exists at Stripe as the clinic's default (the demo seed)."""
    row = await s.scalar(select(StripeAccount).where(StripeAccount.stripe_account_id == account.id))
    if row is None:
        row = StripeAccount(
            id=new_id("sa"), clinic_id=clinic.id, stripe_account_id=account.id, label=label, status="pending",
            charges_enabled=False, details_submitted=False, payouts_enabled=False, is_default=False,
            created_at=now, updated_at=now,
        )
        s.add(row)
    apply_account(row, account, now)
    for other in await s.scalars(select(StripeAccount).where(StripeAccount.clinic_id == clinic.id)):
        other.is_default = other.id == row.id
    await s.flush()
    await sync_clinic(s, clinic)
    audit.record(
        s, organisation_id=clinic.organisation_id, clinic_id=clinic.id, actor_type="system", actor_id=None,
        action="stripe_account.linked", subject_type="stripe_account", subject_id=row.id, at=now,
        details={"stripe_account_id": account.id, "status": row.status, "default": True},
    )
    return row


async def disconnect(s: AsyncSession, stripe_account_id: str, *, now: datetime, actor_type: str, reason: str) -> bool:
    """The account left the platform: final, and no request reaches it any more."""
    row = await s.scalar(
        select(StripeAccount).where(StripeAccount.stripe_account_id == stripe_account_id).with_for_update()
    )
    if row is None or row.status in FINAL:
        return False
    clinic = await clinic_row(s, row.clinic_id, lock=True)
    before = row.status
    row.status = "disconnected"
    row.charges_enabled = False
    row.payouts_enabled = False
    row.updated_at = now
    await s.flush()
    await sync_clinic(s, clinic)
    audit.record(
        s, organisation_id=clinic.organisation_id, clinic_id=clinic.id, actor_type=actor_type,
        actor_id=stripe_account_id, action="stripe_account.disconnected", subject_type="stripe_account",
        subject_id=row.id, at=now, details={"from": before, "reason": reason},
    )
    return True


async def clinic_row(s: AsyncSession, clinic_id: str, *, lock: bool = False) -> Clinic:
    clinic = await s.get(Clinic, clinic_id, with_for_update=lock)
    if clinic is None:
        raise NotFound("clinic_not_found", "Unknown clinic.")
    return clinic


async def account_row(s: AsyncSession, clinic_id: str, row_id: str, *, lock: bool = False) -> StripeAccount:
    row = await s.get(StripeAccount, row_id, with_for_update=lock)
    # Another clinic's account does not exist, as far as this clinic's pages know.
    if row is None or row.clinic_id != clinic_id:
        raise NotFound("account_not_found", "Unknown Stripe account.")
    return row
