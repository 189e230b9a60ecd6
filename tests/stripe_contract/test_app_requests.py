"""Each flow the app has, driven as its users drive it, with every request it
sends to Stripe recorded and checked against the stripe package's parameter
definitions (see plugin.py). These tests prove the guard sees each kind of
request; every other test in the suite is guarded the same way."""

from __future__ import annotations

import asyncio

import stripe
from sqlalchemy import select

from app.models import StripeAccount
from tests.admin.factories import make_user, signed_in
from tests.connect.helpers import complete_onboarding, go_to_stripe, local, page
from tests.factories import Live
from tests.stripe_contract.plugin import Recorder

from .sdk_params import pinned_api_version


def seen(recorder: Recorder, since: int = 0) -> set[str]:
    return {r.endpoint for r in recorder.requests[since:]}


def assert_all_checked(recorder: Recorder) -> None:
    """Every request was checked, sent the pinned version, and nothing was refused."""
    assert recorder.requests
    for r in recorder.requests:
        assert r.stripe_version == pinned_api_version() == stripe.api_version, r
        assert not r.violations, (r.endpoint, r.violations)


async def test_onboarding_edit_dashboard_and_removal(live: Live, stripe_requests: Recorder) -> None:
    clinic_id = live.demo["clinic_id"]
    admin = await signed_in(live, await make_user(live, "clinic_admin"))
    try:
        link = await go_to_stripe(live, admin, clinic_id, "Contract")
        assert {"POST /v1/accounts", "POST /v1/account_links"} <= seen(stripe_requests)
        onboarding = [r for r in stripe_requests.requests if r.gateway_method == "create_account_link"]
        assert "type=account_onboarding" in (onboarding[-1].body or "")

        back = await complete_onboarding(live, admin, link)
        await admin.get(local(live, back))
        assert "GET /v1/accounts/{account}" in seen(stripe_requests)
        row = await live.scalar(select(StripeAccount).where(StripeAccount.label == "Contract"))
        assert row.status == "enabled"

        mark = len(stripe_requests.requests)
        await admin.get(page(clinic_id))
        edit = await admin.post(f"{page(clinic_id)}/accounts/{row.id}/edit")
        assert edit.status == 303
        await admin.get(page(clinic_id))
        dash = await admin.post(f"{page(clinic_id)}/accounts/{row.id}/dashboard")
        assert dash.status == 303
        assert "POST /v1/accounts/{account}/login_links" in seen(stripe_requests, mark)

        mark = len(stripe_requests.requests)
        confirm = await admin.get(f"{page(clinic_id)}/accounts/{row.id}/remove")
        assert confirm.status == 200
        removed = await admin.post(f"{page(clinic_id)}/accounts/{row.id}/remove")
        assert removed.status == 303
        assert await live.scalar(select(StripeAccount.status).where(StripeAccount.id == row.id)) == "removed"
        # Whatever removal asks of Stripe (today: only reading account states) is checked too.
        assert seen(stripe_requests, mark) <= {"GET /v1/accounts/{account}", "DELETE /v1/accounts/{account}",
                                               "POST /v1/accounts/{account}"}
    finally:
        await admin.close()
    assert_all_checked(stripe_requests)


async def test_checkout_retry_cancel_and_refund(live: Live, stripe_requests: Recorder) -> None:
    _, clinician, patient = await live.call_pair()
    first = (await clinician.call("payment:request", {"amount": 45000, "description": "Consultation"}))["request"]

    # The first answer is lost: the SDK sends the request again, the very same one.
    await live.sandbox_control("POST", "/fail", {"path_prefix": "/v1/checkout/sessions", "mode": "disconnect",
                                                 "count": 1})
    ack = await patient.call("payment:checkout", {"request_id": first["id"]})
    assert ack["ok"], ack
    attempts = [r for r in stripe_requests.requests if r.endpoint == "POST /v1/checkout/sessions"]
    assert len(attempts) >= 2
    assert len({(r.idempotency_key, r.body) for r in attempts}) == 1

    # The patient presses Pay now again: the same session, reused.
    again = await patient.call("payment:checkout", {"request_id": first["id"]})
    assert again["url"] == ack["url"]

    await live.pay_on_hosted_page(ack["url"])
    await clinician.wait_for("payment:received")
    status, refund = await live.api("POST", f"/api/v1/payment-requests/{first['id']}/refunds",
                                    {"amount": 10000})
    assert status == 201, refund
    assert "POST /v1/refunds" in seen(stripe_requests)

    second = (await clinician.call("payment:request", {"amount": 20000, "description": "Note"}))["request"]
    assert (await patient.call("payment:checkout", {"request_id": second["id"]}))["ok"]
    cancelled = await clinician.call("payment:cancel", {"request_id": second["id"]})
    assert cancelled["ok"], cancelled
    assert "POST /v1/checkout/sessions/{session}/expire" in seen(stripe_requests)
    assert_all_checked(stripe_requests)


async def test_a_click_after_lost_answers_sends_the_same_request_again(live: Live, stripe_requests: Recorder) -> None:
    """Every request sent under one Idempotency-Key is the same request, whatever
    became of the answers to the earlier ones."""
    _, clinician, patient = await live.call_pair()
    request = (await clinician.call("payment:request", {"amount": 45000, "description": "Consultation"}))["request"]
    await live.sandbox_control("POST", "/fail", {"path_prefix": "/v1/checkout/sessions", "mode": "disconnect",
                                                 "count": 3})
    await patient.call("payment:checkout", {"request_id": request["id"]})
    await asyncio.sleep(1.1)  # a later click, in another second
    await patient.call("payment:checkout", {"request_id": request["id"]})
    keys = {}
    for r in stripe_requests.requests:
        if r.endpoint == "POST /v1/checkout/sessions":
            keys.setdefault(r.idempotency_key, set()).add(r.body)
    refused = stripe_requests.take_violations()
    assert all(len(bodies) == 1 for bodies in keys.values()), refused
