"""Guard rails in the clinician's panel, in Chromium: a preview of what the patient will see,
the clinic's maximum refused before sending, a confirmation above its threshold, a confirmation
before cancelling, the "Payment received" popup never taking the focus from a field being typed
in, and a "Total paid" that means what "Paid" means."""

from __future__ import annotations

from sqlalchemy import func, select

from app.models import PaymentRequest
from tests.factories import Live
from tests.web.test_browser import (  # noqa: F401 - the fixtures come with them
    GOOD_CARD,
    Session,
    browser,
    expect,
    fill_card,
    open_checkout,
    pytestmark,
    request_item,
    request_items,
    requested_in_browser,
    session,
)


async def _requests(live: Live) -> int:
    return int(await live.scalar(select(func.count()).select_from(PaymentRequest)))


async def test_preview_maximum_and_confirmation_above_the_threshold(live: Live, session: Session) -> None:  # noqa: F811
    consult = await live.consult(language="en")
    _, clinician = await session.panel(consult["clinician"]["join_url"])
    _, patient = await session.panel(consult["patients"][0]["join_url"])

    preview = clinician.get_by_role("region", name="What the patient will see")
    await clinician.get_by_label("Amount").fill("6000")
    await clinician.get_by_label("Description").fill("Minor surgery")
    await expect(preview).to_contain_text("NOK 6,000.00")
    await expect(preview).to_contain_text("Minor surgery")

    # Above the clinic's maximum (NOK 50,000.00 by default): refused in the form, nothing sent.
    await clinician.get_by_label("Amount").fill("1000000")
    await clinician.get_by_role("button", name="Request payment").click()
    await expect(clinician.locator("#amount-error")).to_have_text("At most NOK 50,000.00 per payment request.")
    await expect(clinician.get_by_label("Amount")).to_be_focused()

    # Above the threshold (NOK 5,000.00): asked first; Back sends nothing.
    await clinician.get_by_label("Amount").fill("6000")
    await clinician.get_by_role("button", name="Request payment").click()
    ask = clinician.get_by_role("dialog", name="Send this payment request?")
    await expect(ask).to_be_visible()
    await expect(ask).to_contain_text("NOK 6,000.00")
    await expect(ask).to_contain_text("Minor surgery")
    await expect(ask.get_by_role("button", name="Send the request")).to_be_focused()
    await clinician.keyboard.press("Escape")
    await expect(ask).to_be_hidden()
    await expect(clinician.get_by_role("button", name="Request payment")).to_be_focused()
    assert await _requests(live) == 0
    await expect(request_items(clinician)).to_have_count(0)

    await clinician.get_by_role("button", name="Request payment").click()
    await ask.get_by_role("button", name="Send the request").click()
    await expect(request_items(clinician)).to_have_count(1)
    await expect(request_items(patient)).to_contain_text("NOK 6,000.00")
    assert await _requests(live) == 1
    session.assert_no_page_errors()


async def test_cancel_asks_first(live: Live, session: Session) -> None:  # noqa: F811
    clinician, _, patient, request_id = await requested_in_browser(session, live)
    item = request_item(clinician, request_id)
    await item.get_by_role("button", name="Cancel request: Consultation").click()
    ask = clinician.get_by_role("dialog", name="Cancel this payment request?")
    await expect(ask).to_be_visible()
    await expect(ask).to_contain_text("NOK 450.00")
    # The safe answer has the focus; Back changes nothing.
    await expect(ask.get_by_role("button", name="Back")).to_be_focused()
    await clinician.keyboard.press("Enter")
    await expect(ask).to_be_hidden()
    await expect(item).to_have_attribute("data-status", "requested")

    await item.get_by_role("button", name="Cancel request: Consultation").click()
    await ask.get_by_role("button", name="Cancel the request").click()
    await expect(item).to_have_attribute("data-status", "cancelled")
    await expect(request_item(patient, request_id)).to_have_attribute("data-status", "cancelled")
    session.assert_no_page_errors()


async def test_payment_received_never_takes_the_focus_from_a_field_being_typed_in(
    live: Live, session: Session  # noqa: F811
) -> None:
    clinician, patient_ctx, patient, request_id = await requested_in_browser(session, live)
    checkout = await open_checkout(patient_ctx, patient)
    amount = clinician.get_by_label("Amount")
    await amount.click()
    await clinician.keyboard.type("12")
    await fill_card(checkout, GOOD_CARD)

    await expect(request_item(clinician, request_id)).to_have_attribute("data-status", "paid")
    popup = clinician.get_by_role("alertdialog", name="Payment received")
    await expect(popup).to_be_visible()
    await expect(amount).to_be_focused()
    await expect(clinician.locator("#live-status")).to_contain_text("Payment received: NOK 450.00")
    await clinician.keyboard.type("3")
    await expect(amount).to_have_value("123")
    await popup.get_by_role("button", name="OK").click()
    await expect(popup).to_be_hidden()

    # "Total paid" is gross like "Paid"; a refund shows on its own line and in the net.
    status, _ = await live.api("POST", f"/api/v1/payment-requests/{request_id}/refunds", {"amount": 10000})
    assert status == 201
    await expect(request_item(clinician, request_id)).to_have_attribute("data-status", "partially_refunded")
    await expect(clinician.locator("[data-role=total-paid]")).to_have_text("NOK 450.00")
    await expect(clinician.locator("[data-role=total-gross]")).to_have_text("NOK 450.00")
    await expect(clinician.locator("[data-role=total-refunded]")).to_have_text("NOK 100.00")
    await expect(clinician.locator("[data-role=total-net]")).to_have_text("NOK 350.00")
    session.assert_no_page_errors()
