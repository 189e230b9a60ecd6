"""Helpers for Client payments tests: the admin's browser going to Stripe and back."""

from __future__ import annotations

from sqlalchemy import select

from app.models import StripeAccount
from tests.admin.factories import AdminClient
from tests.factories import Live
from tests.polling import eventually  # noqa: F401  (the tests take it from here)


def page(clinic_id: str) -> str:
    return f"/admin/clinics/{clinic_id}/client-payments"


def local(live: Live, url: str) -> str:
    """An absolute URL on our server (the sandbox is mounted on it) as a path for the admin client."""
    assert url.startswith(live.url), url
    return url[len(live.url):]


async def go_to_stripe(live: Live, admin: AdminClient, clinic_id: str, label: str = "Second account") -> str:
    """Press *Go to Stripe*; returns the Account Link the browser is sent to."""
    await admin.get(page(clinic_id))
    reply = await admin.post(page(clinic_id) + "/accounts", {"label": label, "nonce": f"n{label.replace(' ', '')}"})
    assert reply.status == 303, reply.text
    assert reply.location and reply.location.startswith(live.sandbox + "/connect/onboard/"), reply.location
    return reply.location


async def complete_onboarding(live: Live, admin: AdminClient, link: str) -> str:
    """Open the onboarding page and submit it as a browser would; returns Stripe's redirect (our return URL)."""
    shown = await admin.get(local(live, link))
    assert shown.status == 200 and "Complete onboarding" in shown.text
    done = await admin.request("POST", local(live, link))
    assert done.status == 303, done.text
    assert done.location is not None
    return done.location


async def link_enabled_account(live: Live, admin: AdminClient, clinic_id: str, label: str) -> StripeAccount:
    link = await go_to_stripe(live, admin, clinic_id, label)
    back = await complete_onboarding(live, admin, link)
    reply = await admin.get(local(live, back))
    assert reply.status == 303
    row = await live.scalar(select(StripeAccount).where(StripeAccount.label == label))
    assert row is not None and row.status == "enabled"
    return row


async def account_status(live: Live, row_id: str) -> str:
    return await live.scalar(select(StripeAccount.status).where(StripeAccount.id == row_id))
