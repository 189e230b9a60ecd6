"""Configure > Client payments, driven as an admin does it: forms, Stripe's pages, webhooks."""

from __future__ import annotations

from sqlalchemy import select

from app.models import AuditEvent, Clinic, StripeAccount
from tests.admin.factories import make_user, signed_in
from tests.connect.helpers import (
    account_status,
    complete_onboarding,
    eventually,
    go_to_stripe,
    link_enabled_account,
    local,
    page,
)
from tests.factories import Live


async def test_go_to_stripe_onboard_and_return_shows_it_ready(live: Live) -> None:
    clinic_id = live.demo["clinic_id"]
    admin_user = await make_user(live, "clinic_admin")
    admin = await signed_in(live, admin_user)
    try:
        first = await admin.get(page(clinic_id))
        assert first.status == 200
        # The demo's account, as Stripe says it is.
        assert "Linked and able to take payments" in first.text

        link = await go_to_stripe(live, admin, clinic_id, "Dr. Berg")
        row = await live.scalar(select(StripeAccount).where(StripeAccount.label == "Dr. Berg"))
        assert row.status == "pending" and not row.is_default  # the demo account stays the default
        pending = await admin.get(page(clinic_id))
        assert f'data-account-id="{row.id}" data-status="pending"' in pending.text
        # What Stripe still needs, in plain words rather than Stripe's field paths.
        assert "Pending details" in pending.text and "bank account for payouts" in pending.text
        assert "external_account" not in pending.text and "business_profile.mcc" not in pending.text

        back = await complete_onboarding(live, admin, link)
        assert back == f"{live.url}{page(clinic_id)}/return/{row.id}"
        returned = await admin.get(local(live, back), follow=True)
        assert returned.status == 200 and "Back from Stripe" in returned.text
        assert f'data-account-id="{row.id}" data-status="enabled"' in returned.text
        assert await account_status(live, row.id) == "enabled"

        audit = await live.rows(select(AuditEvent.action, AuditEvent.actor_id).where(AuditEvent.subject_id == row.id))
        assert ("stripe_account.created", admin_user.id) in audit

        # A second submit of the same form is the same account (idempotency key from the form).
        again = await admin.post(page(clinic_id) + "/accounts", {"label": "Dr. Berg", "nonce": "nDr.Berg"})
        assert again.status == 303
        assert await live.scalar(select(StripeAccount.id).where(StripeAccount.label == "Dr. Berg")) == row.id
    finally:
        await admin.close()


async def test_used_or_expired_link_gets_a_new_one(live: Live) -> None:
    clinic_id = live.demo["clinic_id"]
    admin = await signed_in(live, await make_user(live, "organisation_admin"))
    try:
        link = await go_to_stripe(live, admin, clinic_id, "Refreshing")
        row = await live.scalar(select(StripeAccount).where(StripeAccount.label == "Refreshing"))
        assert (await admin.get(local(live, link))).status == 200
        # Used once: Stripe sends the browser to our refresh_url, which makes a new link.
        used = await admin.get(local(live, link))
        assert used.status == 302 and used.location == f"{live.url}{page(clinic_id)}/refresh/{row.id}"
        fresh = await admin.get(local(live, used.location))
        assert fresh.status == 303 and fresh.location.startswith(live.sandbox + "/connect/onboard/")
        assert fresh.location != link
        # Expired: the same.
        await live.sandbox_control("POST", "/clock/advance", {"seconds": 301})
        late = await admin.get(local(live, fresh.location))
        assert late.status == 302 and late.location.endswith(f"/refresh/{row.id}")
        newer = await admin.get(local(live, late.location))
        assert newer.location not in (link, fresh.location)
        back = await complete_onboarding(live, admin, newer.location)
        await admin.get(local(live, back))
        assert await account_status(live, row.id) == "enabled"
    finally:
        await admin.close()


async def test_edit_and_dashboard_go_to_stripe(live: Live) -> None:
    """Stripe refuses ``account_update`` links for Express accounts: *Edit* opens the Express Dashboard."""
    clinic_id = live.demo["clinic_id"]
    admin_user = await make_user(live, "clinic_admin")
    admin = await signed_in(live, admin_user)
    try:
        row = await link_enabled_account(live, admin, clinic_id, "Editable")
        await admin.get(page(clinic_id))
        edit = await admin.post(f"{page(clinic_id)}/accounts/{row.id}/edit")
        assert edit.status == 303 and edit.location.startswith(live.sandbox + "/express/"), edit.location
        shown = await admin.get(local(live, edit.location))
        assert shown.status == 200 and "Editable" in shown.text
        after = await admin.get(page(clinic_id))
        assert "could not be reached" not in after.text and "Stripe refused" not in after.text

        await admin.get(page(clinic_id))
        dash = await admin.post(f"{page(clinic_id)}/accounts/{row.id}/dashboard")
        assert dash.status == 303 and dash.location.startswith(live.sandbox + "/express/")
        board = await admin.get(local(live, dash.location))
        assert board.status == 200 and "Editable" in board.text
        started = await live.rows(
            select(AuditEvent.details).where(
                AuditEvent.subject_id == row.id, AuditEvent.action == "stripe_account.edit_started"
            )
        )
        assert [d["via"] for (d,) in started] == ["express_dashboard"]
    finally:
        await admin.close()


async def test_page_polls_a_state_that_webhooks_keep_true(live: Live) -> None:
    clinic_id = live.demo["clinic_id"]
    admin = await signed_in(live, await make_user(live, "clinic_admin"))
    try:
        row = await link_enabled_account(live, admin, clinic_id, "Polled")
        before = await admin.get(page(clinic_id) + "/state")
        import json

        version = json.loads(before.text)["version"]
        await live.sandbox_control("POST", f"/accounts/{row.stripe_account_id}/restrict")
        await eventually(lambda: _is(live, row.id, "restricted"))
        after = json.loads((await admin.get(page(clinic_id) + "/state")).text)
        assert after["version"] != version
        expected = {"id": row.id, "status": "restricted", "is_default": False, "charges_enabled": False,
                    "payouts_enabled": False}
        assert expected in after["accounts"]
        shown = await admin.get(page(clinic_id))
        assert f'data-account-id="{row.id}" data-status="restricted"' in shown.text
        assert "identity document of the account holder" in shown.text
        assert "individual.verification.document" not in shown.text
        assert 'src="/static/js/client_payments.js' in shown.text
    finally:
        await admin.close()


async def _is(live: Live, row_id: str, status: str) -> bool:
    return await account_status(live, row_id) == status


async def test_default_account_and_the_clinic_cache_follow(live: Live) -> None:
    clinic_id = live.demo["clinic_id"]
    admin = await signed_in(live, await make_user(live, "clinic_admin"))
    try:
        row = await link_enabled_account(live, admin, clinic_id, "New default")
        await admin.get(page(clinic_id))
        made = await admin.post(f"{page(clinic_id)}/accounts/{row.id}/default")
        assert made.status == 303
        clinic = await live.scalar(select(Clinic).where(Clinic.id == clinic_id))
        assert clinic.stripe_account_id == row.stripe_account_id and clinic.stripe_charges_enabled
        defaults = await live.rows(
            select(StripeAccount.id).where(StripeAccount.clinic_id == clinic_id, StripeAccount.is_default.is_(True))
        )
        assert defaults == [(row.id,)]
    finally:
        await admin.close()
