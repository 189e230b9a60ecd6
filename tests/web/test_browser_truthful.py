"""In a real browser: every screen says what really happened to a payment request.

The patient who leaves Stripe Checkout by its cancel link can pay again, and
both panels say so; a declined card reaches the clinician at once, with the
card issuer's reason in words; the hand-off to MediPay is confirmed first and
the patient sees it was sent to them by SMS.
"""

from __future__ import annotations

import re

from playwright.async_api import expect

from tests.factories import Live
from tests.web.test_browser import (  # noqa: F401 - the fixtures come with them
    DECLINED_CARD,
    GOOD_CARD,
    Session,
    browser,
    fill_card,
    open_checkout,
    pytestmark,
    request_item,
    requested_in_browser,
    rest_status,
    session,
)

INSUFFICIENT_FUNDS = "4000 0000 0000 9995"


async def test_cancel_and_return_makes_the_request_payable_again(live: Live, session: Session) -> None:  # noqa: F811
    clinician, patient_ctx, patient, request_id = await requested_in_browser(session, live)
    item = request_item(clinician, request_id)
    checkout = await open_checkout(patient_ctx, patient)
    await expect(item).to_have_attribute("data-status", "checkout_open")

    await checkout.get_by_role("link", name="Cancel and return").click()
    await checkout.wait_for_url(re.compile(r"/checkout/return\?"))
    # The return page does not say "being confirmed": the patient left, nothing was taken.
    await expect(checkout.locator("[data-outcome]")).to_have_attribute("data-outcome", "left")
    await expect(checkout.get_by_role("heading", name="Payment not completed")).to_be_visible()

    # Both panels say so, live: payable again, not being paid.
    await expect(item).to_have_attribute("data-status", "requested")
    await expect(item.locator("[data-role=problem]")).to_have_text(
        "The patient left the payment page without paying. It can be paid again.")
    on_patient = request_item(patient, request_id)
    await expect(on_patient).to_have_attribute("data-status", "requested")
    await expect(on_patient.locator("[data-role=note]")).to_contain_text("You left the payment page.")
    await expect(on_patient).not_to_contain_text("open in another window")
    assert await rest_status(live, request_id) == "requested"

    # The left page is closed at Stripe; Pay now opens a fresh one, which pays.
    again = await open_checkout(patient_ctx, patient)
    assert again.url != checkout.url
    await expect(item).to_have_attribute("data-status", "checkout_open")
    await expect(item.locator("[data-role=problem]")).to_be_hidden()
    await fill_card(again, GOOD_CARD)
    await expect(item).to_have_attribute("data-status", "paid")
    assert await rest_status(live, request_id) == "paid"
    assert await live.ledger_balanced()
    session.assert_no_page_errors()


async def test_declined_card_reaches_the_clinician_with_the_reason(live: Live, session: Session) -> None:  # noqa: F811
    clinician, patient_ctx, patient, request_id = await requested_in_browser(session, live)
    item = request_item(clinician, request_id)
    checkout = await open_checkout(patient_ctx, patient)
    await fill_card(checkout, INSUFFICIENT_FUNDS)
    await expect(checkout.get_by_role("alert")).to_have_text("Your card has insufficient funds.")

    # The clinician no longer reads a bare "Checkout open": the decline and why, at once.
    await expect(item.locator("[data-role=problem]")).to_have_text(
        "Card declined: not enough money on the card. The patient can try another card.")
    await expect(item).to_have_attribute("data-status", "checkout_open")
    await expect(request_item(patient, request_id).locator("[data-role=note]")).to_contain_text(
        "Your card was declined: not enough money on the card.")

    # Another card on the same page pays; the decline is history.
    await fill_card(checkout, GOOD_CARD)
    await expect(item).to_have_attribute("data-status", "paid")
    await expect(item.locator("[data-role=problem]")).to_be_hidden()
    assert await rest_status(live, request_id) == "paid"
    session.assert_no_page_errors()


async def test_declines_are_told_in_the_clinicians_language(live: Live, session: Session) -> None:  # noqa: F811
    consult = await live.consult(language="nb")
    _, clinician = await session.panel(consult["clinician"]["join_url"])
    patient_ctx, patient = await session.panel(consult["patients"][0]["join_url"])
    await clinician.get_by_label("Beløp").fill("450")
    await clinician.get_by_role("button", name="Be om betaling").click()
    item = clinician.locator("[data-role=request-list] > li")
    await expect(item).to_have_count(1)
    async with patient_ctx.expect_page() as opened:
        await patient.get_by_role("button", name=re.compile(r"^Betal nå")).click()
    checkout = await opened.value
    await fill_card(checkout, DECLINED_CARD)
    await expect(item.locator("[data-role=problem]")).to_have_text(
        "Kortet ble avvist: kortutstederen avviste det. Pasienten kan prøve et annet kort.")
    session.assert_no_page_errors()
