"""The clinician's panel in a real browser: Stripe's minimum charge, and a checkout Stripe refused."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.factories import Live
from tests.web.test_browser import Session, browser, request_items, request_payment, session  # noqa: F401

pytestmark = pytest.mark.browser


async def test_the_panel_says_stripes_minimum_and_what_stripe_refused(live: Live, session: Session) -> None:  # noqa: F811
    consult = await live.consult(language="en")
    _, clinician = await session.panel(consult["clinician"]["join_url"])

    await request_payment(clinician, "2,50", "Prescription")
    notice = clinician.locator("[data-role=form-error]")
    await expect(notice).to_have_text("Stripe's smallest payment in NOK is NOK\xa03.00.")
    await expect(request_items(clinician)).to_have_count(0)

    await request_payment(clinician, "450", "Consultation")
    await expect(request_items(clinician)).to_have_count(1)
    request_id = await request_items(clinician).get_attribute("data-request-id")

    # The patient presses Pay now and Stripe refuses the clinic's account: the clinician is told.
    await live.sandbox_control("POST", "/fail", {"path_prefix": "/v1/checkout/sessions", "mode": "error",
                                                 "error": "charges_disabled"})
    patient = await live.peer(consult["patients"][0]["token"])
    ack = await patient.call("payment:checkout", {"request_id": request_id})
    assert ack["error"]["code"] == "clinic_cannot_take_payments"
    await expect(notice).to_contain_text("the clinic's Stripe account cannot take card payments right now")
    await expect(notice).to_be_visible()
    session.assert_no_page_errors()
