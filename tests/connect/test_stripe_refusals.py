"""Stripe's permanent refusals reach the admin with what to do, and change nothing; only a real
outage says "could not be reached"."""

from __future__ import annotations

from sqlalchemy import func, select

from app.models import AuditEvent, StripeAccount
from tests.admin.factories import make_user, signed_in
from tests.connect.helpers import link_enabled_account, page
from tests.factories import Live


async def _counts(live: Live) -> tuple[int, int]:
    accounts = await live.scalar(select(func.count()).select_from(StripeAccount))
    audit = await live.scalar(select(func.count()).select_from(AuditEvent))
    return accounts, audit


async def test_platform_without_connect_is_told_so_and_nothing_is_created(live: Live) -> None:
    clinic_id = live.demo["clinic_id"]
    admin = await signed_in(live, await make_user(live, "clinic_admin"))
    try:
        await admin.get(page(clinic_id))
        before = await _counts(live)
        await live.sandbox_control("POST", "/platform", {"connect": False})
        reply = await admin.post(page(clinic_id) + "/accounts", {"label": "No Connect", "nonce": "nNoConnect"})
        assert reply.status == 303 and reply.location == page(clinic_id)
        shown = await admin.get(page(clinic_id))
        assert "has not signed up for Stripe Connect" in shown.text
        assert "Turn on Connect in the platform" in shown.text
        assert "signed up for Connect, which you can learn" in shown.text  # Stripe's own words, as a detail
        assert "could not be reached" not in shown.text
        assert await _counts(live) == before
    finally:
        await admin.close()


async def test_refusals_are_translated(live: Live) -> None:
    clinic_id = live.demo["clinic_id"]
    admin = await signed_in(live, await make_user(live, "clinic_admin"), lang="nb")
    try:
        await admin.get(page(clinic_id))
        await live.sandbox_control("POST", "/platform", {"connect": False})
        await admin.post(page(clinic_id) + "/accounts", {"label": "Uten Connect", "nonce": "nUtenConnect"})
        shown = await admin.get(page(clinic_id))
        assert "Stripe Connect" in shown.text and "Ingenting ble endret" in shown.text
        assert "Nothing was changed" not in shown.text
    finally:
        await admin.close()


async def test_edit_and_dashboard_refused_by_stripe_say_why(live: Live) -> None:
    clinic_id = live.demo["clinic_id"]
    admin = await signed_in(live, await make_user(live, "clinic_admin"))
    try:
        row = await link_enabled_account(live, admin, clinic_id, "Refused edit")
        await admin.get(page(clinic_id))
        before = await _counts(live)
        await live.sandbox_control("POST", "/platform", {"connect": False})
        for action in ("edit", "dashboard"):
            reply = await admin.post(f"{page(clinic_id)}/accounts/{row.id}/{action}")
            assert reply.status == 303 and reply.location == page(clinic_id), action
            shown = await admin.get(page(clinic_id))
            assert "has not signed up for Stripe Connect" in shown.text, action
            assert "could not be reached" not in shown.text, action
        assert await _counts(live) == before
    finally:
        await admin.close()


async def test_an_outage_still_says_try_again(live: Live) -> None:
    clinic_id = live.demo["clinic_id"]
    admin = await signed_in(live, await make_user(live, "clinic_admin"))
    try:
        await admin.get(page(clinic_id))
        before = await _counts(live)
        # The SDK retries twice: three failures in a row are an outage.
        await live.sandbox_control("POST", "/fail", {"mode": "server_error", "path_prefix": "/v1/accounts",
                                                     "count": 3})
        await admin.post(page(clinic_id) + "/accounts", {"label": "Outage", "nonce": "nOutage"})
        shown = await admin.get(page(clinic_id))
        assert "Stripe could not be reached. Please try again." in shown.text
        assert "Stripe refused" not in shown.text
        assert await _counts(live) == before
    finally:
        await admin.close()
