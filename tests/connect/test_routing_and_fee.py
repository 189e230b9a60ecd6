"""Where payments go (per clinician, default, none), removing accounts, and the platform fee."""

from __future__ import annotations

import aiohttp
from sqlalchemy import select

from app.keys import DB
from app.ledger import journal
from app.models import AuditEvent, Clinic, PaymentRequest, StripeAccount
from tests.admin.factories import make_user, signed_in
from tests.connect.helpers import account_status, eventually, link_enabled_account, page
from tests.factories import Live


async def _request(clinician, amount: int = 45000) -> dict:
    return await clinician.call("payment:request", {"amount": amount, "description": "Consultation"})


async def test_clinician_payments_go_to_their_account_while_it_works(live: Live) -> None:
    clinic_id = live.demo["clinic_id"]
    admin = await signed_in(live, await make_user(live, "clinic_admin"))
    try:
        own = await link_enabled_account(live, admin, clinic_id, "Dr. Nordmann's account")
        await admin.get(page(clinic_id))
        saved = await admin.post(page(clinic_id) + "/clinicians", {"clinician_ref": "u-1", "account_id": own.id})
        assert saved.status == 303

        # u-1's request goes to their own account; another clinician's to the default.
        _, clinician, patient = await live.call_pair()
        ack = await _request(clinician)
        assert ack["ok"], ack
        stored = await live.scalar(select(PaymentRequest).where(PaymentRequest.id == ack["request"]["id"]))
        assert stored.stripe_account_id == own.stripe_account_id
        # The Checkout Session is created on that account.
        checkout = await patient.call("payment:checkout", {"request_id": stored.id})
        session = await _stripe_get(live, f"/v1/checkout/sessions/{checkout['url'].rsplit('/', 1)[-1]}",
                                    own.stripe_account_id)
        assert session["metadata"]["payment_request_id"] == stored.id

        _, other, _ = await live.call_pair(clinician={"id": "u-2", "name": "Dr. Other"})
        ack2 = await _request(other)
        demo_default = await live.scalar(select(Clinic.stripe_account_id).where(Clinic.id == clinic_id))
        assert (await live.scalar(
            select(PaymentRequest.stripe_account_id).where(PaymentRequest.id == ack2["request"]["id"])
        )) == demo_default

        # Restricted by Stripe (account.updated): u-1's next request falls back to the default.
        await live.sandbox_control("POST", f"/accounts/{own.stripe_account_id}/restrict")
        await eventually(lambda: _status_is(live, own.id, "restricted"))
        ack3 = await _request(clinician, 12000)
        assert (await live.scalar(
            select(PaymentRequest.stripe_account_id).where(PaymentRequest.id == ack3["request"]["id"])
        )) == demo_default

        # The default disconnects (account.application.deauthorized): no account works, requests stop.
        await live.sandbox_control("POST", f"/accounts/{demo_default}/deauthorize")
        default_row = await live.scalar(select(StripeAccount.id).where(StripeAccount.stripe_account_id == demo_default))
        await eventually(lambda: _status_is(live, default_row, "disconnected"))
        refused = await _request(clinician, 13000)
        assert not refused["ok"] and refused["error"]["code"] == "no_stripe_account"
        clinic = await live.scalar(select(Clinic).where(Clinic.id == clinic_id))
        assert not clinic.stripe_charges_enabled
        who = await live.rows(
            select(AuditEvent.actor_type, AuditEvent.action).where(AuditEvent.subject_id == default_row)
        )
        assert ("stripe", "stripe_account.disconnected") in who

        # The panel says so before anyone types an amount.
        consult = await live.consult()
        async with live.http.get(consult["clinician"]["join_url"]) as resp:
            html = await resp.text()
        assert "no Stripe account is linked" in html
    finally:
        await admin.close()


async def _status_is(live: Live, row_id: str, status: str) -> bool:
    return await account_status(live, row_id) == status


async def _stripe_get(live: Live, path: str, account: str) -> dict:
    headers = {"Authorization": f"Bearer {live.settings.stripe_key}", "Stripe-Account": account}
    async with aiohttp.ClientSession() as http, http.get(live.sandbox + path, headers=headers) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


async def test_payment_app_off_is_said_before_typing(live: Live) -> None:
    async with live.app[DB].write() as s:
        clinic = await s.get(Clinic, live.demo["clinic_id"])
        clinic.payment_app_enabled = False
    consult, clinician, _ = await live.call_pair()
    async with live.http.get(consult["clinician"]["join_url"]) as resp:
        assert "The payment app is not enabled for this clinic." in await resp.text()
    refused = await _request(clinician)
    assert refused["error"]["code"] == "payment_app_disabled"


async def test_remove_is_refused_with_open_requests_and_stops_new_ones(live: Live) -> None:
    clinic_id = live.demo["clinic_id"]
    admin_user = await make_user(live, "clinic_admin")
    admin = await signed_in(live, admin_user)
    try:
        default = await live.scalar(select(StripeAccount).where(StripeAccount.clinic_id == clinic_id))
        _, clinician, _ = await live.call_pair()
        ack = await _request(clinician)
        confirm = await admin.get(f"{page(clinic_id)}/accounts/{default.id}/remove")
        assert confirm.status == 200 and ack["request"]["id"] in confirm.text
        refused = await admin.post(f"{page(clinic_id)}/accounts/{default.id}/remove")
        assert refused.status == 409 and "open payment requests" in refused.text
        assert ack["request"]["id"] in refused.text
        assert await account_status(live, default.id) == "enabled"

        cancelled = await clinician.call("payment:cancel", {"request_id": ack["request"]["id"]})
        assert cancelled["ok"], cancelled
        confirm = await admin.get(f"{page(clinic_id)}/accounts/{default.id}/remove")
        assert 'data-testid="confirm-remove"' in confirm.text
        removed = await admin.post(f"{page(clinic_id)}/accounts/{default.id}/remove")
        assert removed.status == 303
        assert await account_status(live, default.id) == "removed"
        clinic = await live.scalar(select(Clinic).where(Clinic.id == clinic_id))
        assert clinic.stripe_account_id is None and not clinic.stripe_charges_enabled
        refused_now = await _request(clinician, 20000)
        assert refused_now["error"]["code"] == "no_stripe_account"
        audit = await live.rows(
            select(AuditEvent.action, AuditEvent.actor_id).where(AuditEvent.subject_id == default.id)
        )
        assert ("stripe_account.removed", admin_user.id) in audit
    finally:
        await admin.close()


async def test_platform_fee_goes_to_stripe_and_into_the_ledger_as_its_own_leg(live: Live) -> None:
    clinic_id = live.demo["clinic_id"]
    org_admin = await signed_in(live, await make_user(live, "organisation_admin"))
    try:
        await org_admin.get(page(clinic_id))
        bad = await org_admin.post(page(clinic_id) + "/fee", {"fee_percent": "150", "fee_fixed": ""}, follow=True)
        assert "out of range" in bad.text
        saved = await org_admin.post(page(clinic_id) + "/fee", {"fee_percent": "2,5", "fee_fixed": "3.00"})
        assert saved.status == 303
        clinic = await live.scalar(select(Clinic).where(Clinic.id == clinic_id))
        assert (clinic.fee_basis_points, clinic.fee_fixed) == (250, 300)
        assert await live.scalar(select(AuditEvent.id).where(AuditEvent.action == "clinic.fee_set"))
    finally:
        await org_admin.close()

    _, clinician, patient = await live.call_pair()
    ack = await _request(clinician, 45000)
    fee = 45000 * 250 // 10000 + 300
    stored = await live.scalar(select(PaymentRequest).where(PaymentRequest.id == ack["request"]["id"]))
    assert stored.application_fee_amount == fee
    checkout = await patient.call("payment:checkout", {"request_id": stored.id})
    await live.pay_on_hosted_page(checkout["url"])
    await clinician.wait_for("payment:received")
    paid = await live.scalar(select(PaymentRequest).where(PaymentRequest.id == stored.id))
    intent = await _stripe_get(live, f"/v1/payment_intents/{paid.payment_intent_id}", paid.stripe_account_id)
    assert intent["application_fee_amount"] == fee

    async with live.app[DB].read() as s:
        balances = await journal.balances(s, clinic_id)
    assert balances[("platform_fees", "NOK")] == fee
    assert balances[("stripe_clearing", "NOK")] == 45000 - fee
    assert balances[("patient_revenue", "NOK")] == -45000
    assert await live.ledger_balanced()


async def test_a_clinic_admin_cannot_set_the_fee(live: Live) -> None:
    clinic_id = live.demo["clinic_id"]
    admin = await signed_in(live, await make_user(live, "clinic_admin"))
    try:
        shown = await admin.get(page(clinic_id))
        assert "/client-payments/fee" not in shown.text
        refused = await admin.post(page(clinic_id) + "/fee", {"fee_percent": "10"})
        assert refused.status == 403
        assert await live.scalar(select(Clinic.fee_basis_points).where(Clinic.id == clinic_id)) == 0
    finally:
        await admin.close()
