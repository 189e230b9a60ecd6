"""Going to Stripe and back: new accounts, Account Links, *Edit* and the Express Dashboard.

The accounts are Express accounts (docs/architecture.md, "Stripe Connect:
account type and charge type"). Stripe hosts their onboarding and their
Dashboard, and refuses ``account_update`` links for them: *Edit* opens the
Express Dashboard (a login link), and what Stripe still needs is collected with
an ``account_onboarding`` link. ``account_update`` is used only for an account
without a Stripe-hosted Dashboard, as Stripe allows.

Stripe's failures become the admin's errors in ``app.connect.stripe_errors``:
only an outage says "try again"; a refusal says what to do, and nothing is
written before Stripe has answered, so it changes nothing.
"""

from __future__ import annotations

import secrets

from sqlalchemy import select

from app import audit
from app import validation as v
from app.clock import Clock
from app.connect.account_status import FINAL, account_row, apply_account, clinic_row, disconnect, sync_clinic
from app.connect.stripe_errors import admin_error
from app.db import Database
from app.errors import Conflict, Invalid
from app.ids import new_id
from app.models import StripeAccount
from app.regions import country_for_currency
from integrations.stripe.protocol import ConnectedAccount, ProviderError, StripeGateway

LINK_TYPES = ("account_onboarding", "account_update")
# A Standard account (full Dashboard) signs in here itself: Stripe makes no login links for it.
STRIPE_DASHBOARD = "https://dashboard.stripe.com/"


class AccountLinking:
    def __init__(self, db: Database, *, stripe: StripeGateway, clock: Clock, public_url: str) -> None:
        self.db = db
        self.stripe = stripe
        self.clock = clock
        self.public_url = public_url

    async def start(self, clinic_id: str, *, actor_id: str, email: str, label: str | None, nonce: str | None) -> str:
        """*Go to Stripe*: a new Express account for the clinic and its onboarding link."""
        label = (label or "").strip()
        if len(label) > 200:
            raise Invalid("invalid_label", "The label is too long.", field="label")
        label = v.clean_text(label, "label", required=False) or ""
        if nonce is not None and not (0 < len(nonce) <= 64 and nonce.isalnum()):
            nonce = None
        async with self.db.read() as s:
            clinic = await clinic_row(s, clinic_id)
        label = label or clinic.name
        try:
            account = await self.stripe.create_account(
                email=email,
                country=country_for_currency(clinic.currency),
                name=label,
                # The form's nonce makes a double submit one account, and a second form another.
                idempotency_key=f"consultpay:{clinic.id}:account:{nonce or secrets.token_hex(16)}",
            )
        except ProviderError as e:
            raise admin_error(e, f"account for {clinic_id}") from e
        now = self.clock.now()
        async with self.db.write() as s:
            clinic = await clinic_row(s, clinic_id, lock=True)
            row = await s.scalar(select(StripeAccount).where(StripeAccount.stripe_account_id == account.id))
            if row is None:
                has_default = await s.scalar(
                    select(StripeAccount.id).where(
                        StripeAccount.clinic_id == clinic.id,
                        StripeAccount.is_default.is_(True),
                        StripeAccount.status != "removed",
                    )
                )
                row = StripeAccount(
                    id=new_id("sa"), clinic_id=clinic.id, stripe_account_id=account.id, label=label,
                    status="pending", charges_enabled=False, details_submitted=False, payouts_enabled=False,
                    is_default=has_default is None, created_at=now, updated_at=now,
                )
                s.add(row)
                apply_account(row, account, now)
                await s.flush()
                await sync_clinic(s, clinic)
                audit.record(
                    s, organisation_id=clinic.organisation_id, clinic_id=clinic.id, actor_type="user",
                    actor_id=actor_id, action="stripe_account.created", subject_type="stripe_account",
                    subject_id=row.id, at=now,
                    details={"stripe_account_id": account.id, "label": label, "default": row.is_default},
                )
            row_id = row.id
        return await self.link(clinic_id, row_id, "account_onboarding", actor_id=None)

    async def link(self, clinic_id: str, row_id: str, link_type: str, *, actor_id: str | None) -> str:
        """A fresh Account Link (onboarding, or *Edit*: update). Links are single use, so always new."""
        if link_type not in LINK_TYPES:
            raise Invalid("invalid_link_type", "Unknown link type.")
        async with self.db.read() as s:
            row = await account_row(s, clinic_id, row_id)
            clinic = await clinic_row(s, clinic_id)
        if row.status in FINAL:
            raise Conflict("account_not_linked", "This account is no longer linked.")
        base = f"{self.public_url}/admin/clinics/{clinic_id}/client-payments"
        refresh = f"{base}/refresh/{row.id}" + ("?type=account_update" if link_type == "account_update" else "")
        try:
            link = await self.stripe.create_account_link(
                account=row.stripe_account_id, refresh_url=refresh, return_url=f"{base}/return/{row.id}",
                type=link_type,
            )
        except ProviderError as e:
            await self._lost_access(row.stripe_account_id, e)
            raise admin_error(e, f"{link_type} link for {row.stripe_account_id}") from e
        if actor_id is not None and link_type == "account_update":
            await self._edit_started(clinic.organisation_id, clinic.id, row.id, row.stripe_account_id, actor_id,
                                     via="account_update")
        return link.url

    async def edit(self, clinic_id: str, row_id: str, *, actor_id: str) -> str:
        """*Edit*: where Stripe lets this account change its details.

        Stripe refuses ``account_update`` links for an account with a Stripe-hosted
        Dashboard, so the account is asked first: an Express account that finished
        onboarding edits in its Express Dashboard (login link); one that has not
        continues onboarding; only an account without a hosted Dashboard (the
        platform collects its requirements) gets an ``account_update`` link. A
        Standard account signs in to its own Stripe Dashboard.
        """
        async with self.db.read() as s:
            row = await account_row(s, clinic_id, row_id)
            clinic = await clinic_row(s, clinic_id)
        if row.status in FINAL:
            raise Conflict("account_not_linked", "This account is no longer linked.")
        account = await self._retrieve(row.stripe_account_id)
        if not account.hosted_dashboard:
            return await self.link(clinic_id, row_id, "account_update", actor_id=actor_id)
        if account.dashboard != "express":
            url, via = STRIPE_DASHBOARD, "stripe_dashboard"
        elif not account.details_submitted:
            return await self.link(clinic_id, row_id, "account_onboarding", actor_id=None)
        else:
            url, via = await self._login_link(row.stripe_account_id), "express_dashboard"
        await self._edit_started(clinic.organisation_id, clinic.id, row.id, row.stripe_account_id, actor_id, via=via)
        return url

    async def dashboard(self, clinic_id: str, row_id: str) -> str:
        """*Open Stripe dashboard*: a single-use login link (Stripe makes them for Express accounts only)."""
        async with self.db.read() as s:
            row = await account_row(s, clinic_id, row_id)
        if row.status in FINAL:
            raise Conflict("account_not_linked", "This account is no longer linked.")
        return await self._login_link(row.stripe_account_id)

    # -- helpers ---------------------------------------------------------------------------------

    async def _retrieve(self, stripe_account_id: str) -> ConnectedAccount:
        try:
            return await self.stripe.retrieve_account(stripe_account_id)
        except ProviderError as e:
            await self._lost_access(stripe_account_id, e)
            raise admin_error(e, f"retrieve {stripe_account_id}") from e

    async def _login_link(self, stripe_account_id: str) -> str:
        try:
            return await self.stripe.create_login_link(stripe_account_id)
        except ProviderError as e:
            await self._lost_access(stripe_account_id, e)
            raise admin_error(e, f"login link for {stripe_account_id}") from e

    async def _lost_access(self, stripe_account_id: str, e: ProviderError) -> None:
        """Stripe says the platform no longer reaches the account: it left, so say that instead."""
        if e.code == "account_invalid":
            await self._disconnect(stripe_account_id, actor_type="stripe", reason="access revoked")
            raise Conflict("account_not_linked", "This account is no longer linked.") from e

    async def _edit_started(
        self, organisation_id: str, clinic_id: str, row_id: str, stripe_account_id: str, actor_id: str, *, via: str
    ) -> None:
        async with self.db.write() as s:
            audit.record(
                s, organisation_id=organisation_id, clinic_id=clinic_id, actor_type="user", actor_id=actor_id,
                action="stripe_account.edit_started", subject_type="stripe_account", subject_id=row_id,
                at=self.clock.now(), details={"stripe_account_id": stripe_account_id, "via": via},
            )

    async def _disconnect(self, stripe_account_id: str, *, actor_type: str, reason: str) -> None:
        async with self.db.write() as s:
            await disconnect(s, stripe_account_id, now=self.clock.now(), actor_type=actor_type, reason=reason)
