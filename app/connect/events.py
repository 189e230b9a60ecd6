"""Connect webhooks about the clinics' accounts, applied inside the event's transaction.

``account.updated`` carries the whole account, so applying it is idempotent
(the flags are set, not toggled); ``disconnected`` and ``removed`` are final, so
a late ``account.updated`` cannot bring an account back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app import audit
from app.connect.account_status import apply_account, disconnect, sync_clinic
from app.models import Clinic, StripeAccount
from integrations.stripe.protocol import ConnectedAccount

Result = tuple[str, dict[str, Any] | None]


async def account_updated(s: AsyncSession, obj: dict[str, Any], account: str | None, now: datetime) -> Result:
    acct = ConnectedAccount.from_stripe(obj)
    if account is not None and acct.id != account:
        return "wrong_account", None
    row = await s.scalar(select(StripeAccount).where(StripeAccount.stripe_account_id == acct.id).with_for_update())
    if row is None:
        return "unknown_account", None
    before = row.status
    if not apply_account(row, acct, now):
        return "no_change", None
    clinic = await s.get(Clinic, row.clinic_id, with_for_update=True)
    assert clinic is not None
    await s.flush()
    await sync_clinic(s, clinic)
    if before != row.status:
        audit.record(
            s, organisation_id=clinic.organisation_id, clinic_id=clinic.id, actor_type="stripe",
            actor_id=acct.id, action="stripe_account.status_changed", subject_type="stripe_account",
            subject_id=row.id, at=now, details={"from": before, "to": row.status, "event": "account.updated"},
        )
    return f"account_{row.status}", None


async def deauthorized(s: AsyncSession, obj: dict[str, Any], account: str | None, now: datetime) -> Result:
    if not account:
        return "not_connect", None
    changed = await disconnect(s, account, now=now, actor_type="stripe", reason="account.application.deauthorized")
    return ("account_disconnected" if changed else "no_change"), None
