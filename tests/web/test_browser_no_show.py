"""A no-show in Chromium: the patient authorises a card hold in Stripe's tab from the waiting room and
closes the panel without coming back; the host ends the call. The clinician's panel says it at once,
and the patient's link then says the fee, how it was taken, and links its receipt. axe on every page."""

from __future__ import annotations

import re

from playwright.async_api import expect
from sqlalchemy import select

from app.models import Payment, PaymentRequest
from tests.factories import Live
from tests.web.test_browser import (  # noqa: F401 - the fixtures come with them
    GOOD_CARD,
    Session,
    browser,
    expect_connected,
    fill_card,
    pytestmark,
    session,
)

HOLD = {"kind": "hold", "amount": 80000, "description": "Consultation", "no_show_fee": 30000}


async def test_patient_authorises_leaves_and_is_a_no_show(live: Live, session: Session) -> None:  # noqa: F811
    consult = await live.consult(language="en", payment_policy=HOLD)
    request_id = consult["patients"][0]["gate"]["request_id"]
    _, clinician = await session.panel(consult["clinician"]["join_url"])
    line = clinician.get_by_test_id("gates").locator('li[data-patient-id="p-1"]')
    presence = line.locator("[data-role=presence]")
    await expect(presence).to_have_text("Waiting")

    # The patient opens Stripe's tab from the waiting room, closes the panel, then authorises the card.
    patient_ctx, patient = await session.panel(consult["patients"][0]["join_url"])
    room = patient.get_by_test_id("waiting-room")
    async with patient_ctx.expect_page() as opened:
        await room.get_by_role("button", name="Authorise card: up to NOK 800.00").click()
    checkout = await opened.value
    await patient.close()
    await fill_card(checkout, GOOD_CARD)
    await checkout.wait_for_url(re.compile(r"/checkout/return\?"))
    await expect(checkout.locator("[data-outcome=authorised]")).to_be_visible()
    await checkout.close()
    await expect(line.locator("[data-role=gate-state]")).to_have_text(
        "Kari Nordmann: Card authorised up to NOK 800.00")
    await expect(presence).to_have_text("Waiting")

    # The host ends the call: the fee is captured from the hold, and the clinician reads it in words.
    status, ended = await live.api("POST", f"/api/v1/consults/{consult['id']}/end")
    assert status == 200 and ended["patients"][0]["no_show"]["how"] == "hold", ended
    await expect(presence).to_have_text("Did not join: no-show fee of NOK 300.00 captured from the card hold")
    await expect(presence).to_have_attribute("data-presence", "no_show")
    await expect(clinician.locator("#live-status")).to_contain_text("Did not join: no-show fee of NOK 300.00")

    # The patient's link, opened again, says the no-show, how the fee was taken, and links the receipt.
    again = await patient_ctx.new_page()
    await again.goto(consult["patients"][0]["join_url"])
    no_show = again.get_by_test_id("no-show")
    await expect(no_show).to_have_text(
        "You did not join the consultation. A no-show fee of NOK 300.00 was charged to the card you "
        "authorised; the rest of the hold is released.")
    await expect(no_show).to_have_attribute("data-how", "hold")
    receipts = again.get_by_test_id("ended-receipts")
    await expect(receipts).to_contain_text("NOK 300.00 — No-show fee")
    receipt = receipts.get_by_role("link", name=re.compile(r"^View receipt"))
    await expect(receipt).to_have_count(1)
    await receipt.click()
    await expect(again.get_by_text("No-show fee").first).to_be_visible()

    row = await live.scalar(select(PaymentRequest).where(PaymentRequest.id == request_id))
    assert (row.status, row.amount, row.hold_amount) == ("paid", 30000, 80000)
    assert await live.rows(select(Payment.amount).where(Payment.payment_request_id == request_id)) == [(30000,)]
    assert await live.ledger_balanced()
    await session.check_accessibility()
    session.assert_no_page_errors()
