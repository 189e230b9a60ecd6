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
    # Norwegian browsers: the panels follow the browser's language.
    _, clinician = await session.panel(consult["clinician"]["join_url"], locale="nb-NO")
    patient_ctx, patient = await session.panel(consult["patients"][0]["join_url"], locale="nb-NO")
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


async def test_medipay_hand_off_is_confirmed_first_and_the_patient_is_told_sms(
    live: Live, session: Session  # noqa: F811
) -> None:
    consult = await live.consult(language="en")
    _, clinician = await session.panel(consult["clinician"]["join_url"])
    _, patient = await session.panel(consult["patients"][0]["join_url"])
    await clinician.get_by_label("Amount").fill("450")
    await clinician.get_by_label("Description").fill("Blood test and follow-up")
    await clinician.get_by_role("button", name="Request payment").click()
    item = clinician.locator("[data-role=request-list] > li")
    await expect(item).to_have_attribute("data-status", "requested")
    request_id = await item.get_attribute("data-request-id")
    assert request_id

    # Pressing the button asks first, showing exactly what the patient will be asked.
    await clinician.get_by_role("button", name="Send as SMS/invoice").click()
    confirm = clinician.get_by_role("dialog", name="Send to the patient by SMS?")
    await expect(confirm).to_be_visible()
    await expect(confirm).to_contain_text("NOK 450.00")
    await expect(confirm).to_contain_text("NOK 39.00")  # MediPay's fee
    await expect(confirm).to_contain_text("asking for NOK 489.00")
    await expect(confirm).to_contain_text("SMS to +4791234567")
    await expect(confirm).to_contain_text("Blood test and follow-up")
    await session.axe.check(clinician)  # axe on the page with the confirmation open
    assert live.http
    async with live.http.get(f"{live.settings.medipay_base}/_control/sms") as resp:
        before = await resp.json()
    # Nothing has gone yet: the request is still payable, and no SMS.
    await expect(item).to_have_attribute("data-status", "requested")

    await confirm.get_by_role("button", name="Send SMS").click()
    await expect(confirm).to_be_hidden()
    cards = clinician.locator("[data-role=card-list] > li")
    await expect(cards).to_have_attribute("data-status", "open_exported")
    card_id = await cards.get_attribute("data-card-id")
    await expect(item.locator("[data-role=status]")).to_have_text("Sent to MediPay: the patient pays by SMS")

    # The patient is told where it went, not "Cancelled", and is not told nothing is asked.
    on_patient = request_item(patient, request_id)
    await expect(on_patient).to_have_attribute("data-onward", "medipay_sms")
    await expect(on_patient.locator("[data-role=status]")).to_have_text("Sent to you by SMS")
    await expect(patient.locator("[data-role=nothing-pending]")).to_be_hidden()

    # The SMS asks for what the clinician saw, in the clinician's words and the patient's language.
    async with live.http.get(f"{live.settings.medipay_base}/_control/sms") as resp:
        after = await resp.json()
    listed = after if isinstance(after, list) else after.get("sms", [])
    new = [m for m in listed if card_id in str(m) and m not in (before if isinstance(before, list)
                                                                 else before.get("sms", []))]
    assert new, listed
    text = new[0]["text"].replace("\xa0", " ")
    assert "Blood test and follow-up" in text and "Consultation" not in text, text
    assert text.startswith("MediPay: you have a bill of NOK 489.00"), text
    session.assert_no_page_errors()


async def test_end_of_call_says_where_unpaid_amounts_went(live: Live, session: Session) -> None:  # noqa: F811
    consult = await live.consult(language="en")
    _, clinician = await session.panel(consult["clinician"]["join_url"])
    _, patient = await session.panel(consult["patients"][0]["join_url"])
    await clinician.get_by_label("Amount").fill("450")
    await clinician.get_by_role("button", name="Request payment").click()
    item = clinician.locator("[data-role=request-list] > li")
    await expect(item).to_have_attribute("data-status", "requested")
    status, _ = await live.api("POST", f"/api/v1/consults/{consult['id']}/end")
    assert status == 200
    # The demo clinic's book is a MediPay one: the amount goes on by SMS with the hourly transfer.
    await expect(item.locator("[data-role=status]")).to_have_text(
        "Not paid in the call: goes to MediPay for payment by SMS")
    await expect(patient.locator("[data-role=request-list] > li [data-role=status]")).to_have_text(
        "Not paid in the call: you will get an SMS to pay")
    session.assert_no_page_errors()
