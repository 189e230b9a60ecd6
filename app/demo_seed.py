"""The demo organisation: idempotent, so ``seed-demo`` and ``/demo`` can both call it."""

from __future__ import annotations

import hashlib
import hmac
import logging
from typing import Any

import aiohttp
from aiohttp import web
from argon2 import PasswordHasher
from sqlalchemy import select

from app.accounts.organisations import KEY_PREFIX, Organisations
from app.accounts.payment_app import enable_by_system
from app.config import Settings
from app.connect import account_status as clinic_accounts
from app.db import Database
from app.errors import DomainError, Unavailable
from app.models import Book, Clinic, MediPayAccount, Organisation, User, VippsMerchant
from integrations.stripe.protocol import StripeGateway

log = logging.getLogger(__name__)
ORG_ID = "org_demo"
CLINIC_ID = "cli_demo"
ADMIN_EMAIL = "admin@demo.consultpay.test"
MEDIPAY_BOOK_ID = "book_demo_medipay"
MEDIPAY_USERNAME = "demo-legesenter"
CLINICIAN = {"id": "u-demo-clinician", "name": "Dr. Kari Lege"}
PATIENT = {
    "id": "p-demo",
    "name": "Ola Nordmann",
    "email": "ola@example.no",
    "national_id": "15076500565",
    "mobile": "+4791234567",
    "address": {"line1": "Karl Johans gate 1", "postal_code": "0154", "city": "Oslo", "country": "NO"},
}


def _derived(settings: Settings, purpose: str) -> str:
    # Derived from SECRET_KEY so that every run prints the same working values.
    return hmac.new(settings.secret_key.encode(), purpose.encode(), hashlib.sha256).hexdigest()[:32]


async def seed(
    settings: Settings, db: Database, orgs: Organisations, stripe: StripeGateway, onboard: Any = None,
    medipay_accounts: Any = None, vipps_merchants: Any = None,
) -> dict[str, Any]:
    """Create what the demo needs (once) and say how to use it.

    ``medipay_accounts`` (``MediPayAccounts``) adds and verifies the MediPay
    account of the demo's MediPay book; ``vipps_merchants`` (``VippsMerchants``) the demo
    clinic's Vipps merchant. ``onboard(account_id)`` completes the sandbox's onboarding for the demo
    account, as a clinic admin would on Stripe's pages.
    """
    async with db.read() as s:
        org = await s.get(Organisation, ORG_ID)
        clinic = await s.get(Clinic, CLINIC_ID)
    if org is None:
        await orgs.create("Demo Helse AS", organisation_id=ORG_ID)
    if clinic is None:
        clinic = await orgs.add_clinic(ORG_ID, "Demo Legesenter", clinic_id=CLINIC_ID)
    # The demo is ready to use: its payment app is approved by the system, as the trail shows.
    if await enable_by_system(db, orgs.clock, CLINIC_ID, reason="seed-demo"):
        clinic.payment_app_enabled = True
    if settings.stripe_sandbox and not clinic.stripe_charges_enabled:
        account = await stripe.create_account(
            email="clinic@demo.consultpay.test",
            country="NO",
            name="Demo Legesenter",
            idempotency_key=f"demo-account-{_derived(settings, 'demo-account')}",
        )
        if not account.charges_enabled and onboard is not None:
            await onboard(account.id)
            account = await stripe.retrieve_account(account.id)
        async with db.write() as s:
            locked = await s.get(Clinic, CLINIC_ID, with_for_update=True)
            assert locked is not None
            await clinic_accounts.adopt(s, locked, account, label="Demo Legesenter", now=orgs.clock.now())
    api_key = await orgs.issue_key(ORG_ID, key=KEY_PREFIX + "demo_" + _derived(settings, "demo-api-key"))
    password = "demo-" + _derived(settings, "demo-admin-password")[:12]
    async with db.write() as s:
        if await s.scalar(select(User.id).where(User.email == ADMIN_EMAIL)) is None:
            s.add(
                User.new(
                    organisation_id=ORG_ID,
                    clinic_id=CLINIC_ID,
                    email=ADMIN_EMAIL,
                    name="Demo Admin",
                    role="organisation_admin",
                    password_hash=PasswordHasher().hash(password),
                    now=orgs.clock.now(),
                )
            )
    medipay_book_id = await _medipay_book(settings, db, orgs, medipay_accounts)
    await _vipps_merchant(settings, db, vipps_merchants)
    return {
        "api_key": api_key,
        "organisation_id": ORG_ID,
        "clinic_id": CLINIC_ID,
        "admin": {"email": ADMIN_EMAIL, "password": password},
        "clinician": dict(CLINICIAN),
        "medipay_book_id": medipay_book_id,
    }


async def _medipay_book(settings: Settings, db: Database, orgs: Organisations, accounts: Any) -> str:
    """The demo's MediPay book and its account (sandbox credentials), made once.

    The account is verified with MediPay each time until it has the green check.
    """
    async with db.write() as s:
        book = await s.get(Book, MEDIPAY_BOOK_ID)
        if book is None:
            owner = await s.scalar(select(User.id).where(User.email == ADMIN_EMAIL))
            s.add(Book(id=MEDIPAY_BOOK_ID, organisation_id=ORG_ID, owner_user_id=owner,
                       description="Demo Legesenter – MediPay", active=True, export_format="medipay",
                       created_at=orgs.clock.now()))
        account = await s.scalar(select(MediPayAccount).where(MediPayAccount.book_id == MEDIPAY_BOOK_ID))
    # Only the sandbox has credentials to give out; a real MediPay account is added
    # in Export settings > MediPay with what PayEx sent the clinic.
    if settings.medipay_sandbox and accounts is not None and (account is None or account.status != "active"):
        from integrations.medipay.sandbox.context import SANDBOX_PASSWORD

        try:
            await accounts.save(ORG_ID, MEDIPAY_BOOK_ID, username=MEDIPAY_USERNAME, password=SANDBOX_PASSWORD,
                                actor_id="seed-demo")
        except Unavailable:
            log.warning("the MediPay sandbox did not answer; the demo's MediPay account is verified next time")
    return MEDIPAY_BOOK_ID


async def _vipps_merchant(settings: Settings, db: Database, merchants: Any) -> None:
    """The demo clinic's Vipps merchant: the Vipps sandbox's demo merchant, checked and saved until it is active.

    Only when the app talks to the built-in sandbox: a real merchant is added in
    *Client payments > Vipps* with the keys from the Vipps MobilePay portal.
    """
    if merchants is None or "vipps" not in settings.sandboxes or settings.vipps_base != settings.vipps_sandbox_url:
        return
    async with db.read() as s:
        status = await s.scalar(select(VippsMerchant.status).where(VippsMerchant.clinic_id == CLINIC_ID))
    if status == "active":
        return
    from integrations.vipps.sandbox.keys import DEMO_KEYS

    try:
        await merchants.save(ORG_ID, CLINIC_ID, merchant_serial_number=DEMO_KEYS.merchant_serial_number,
                             client_id=DEMO_KEYS.client_id, client_secret=DEMO_KEYS.client_secret,
                             subscription_key=DEMO_KEYS.subscription_key, enabled=True, actor_id=None)
    except DomainError as e:
        log.warning("the demo's Vipps merchant was not saved (%s); it is tried again next time", e.message)


async def onboard_in_sandbox(settings: Settings, account_id: str, sandbox: web.Application | None = None) -> None:
    """Complete the sandbox's onboarding for an account, as its admin would on the page.

    When this process serves the sandbox itself (``sandbox``, its app) this is a direct call: its control
    surface answers local callers only, and PUBLIC_URL may lead through a proxy.
    """
    if sandbox is not None:
        from integrations.stripe.sandbox import connect
        from integrations.stripe.sandbox.keys import SANDBOX

        connect.onboard(sandbox[SANDBOX], account_id)
        return
    base = settings.stripe_base or settings.stripe_sandbox_url
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{base}/_control/accounts/{account_id}/onboard") as resp:
            resp.raise_for_status()
