"""The clinician refunds in the panel, in Chromium: a partial refund with the keyboard, then the rest."""

from __future__ import annotations

from sqlalchemy import select

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
    requested_in_browser,
    session,
)


async def test_refund_in_the_panel(live: Live, session: Session) -> None:  # noqa: F811
    clinician, patient_ctx, patient, request_id = await requested_in_browser(session, live)
    checkout = await open_checkout(patient_ctx, patient)
    await fill_card(checkout, GOOD_CARD)
    received = clinician.get_by_role("alertdialog", name="Payment received")
    await expect(received).to_be_visible()
    await received.get_by_role("button", name="OK").click()

    item = request_item(clinician, request_id)
    await expect(item).to_have_attribute("data-status", "paid")
    await expect(clinician.locator("[data-role=total-gross]")).to_have_text("NOK 450.00")
    await expect(clinician.locator("[data-role=total-net]")).to_have_text("NOK 450.00")

    # Keyboard only: focus Refund…, press Enter; the amount is prefilled with what remains.
    refund_button = item.get_by_role("button", name="Refund: Consultation")
    await refund_button.focus()
    await clinician.keyboard.press("Enter")
    dialog = clinician.get_by_role("dialog", name="Refund payment")
    await expect(dialog).to_be_visible()
    amount = dialog.get_by_label("How much to refund")
    await expect(amount).to_be_focused()
    await expect(amount).to_have_value("450.00")

    # Too much is refused in the dialog, before anything is sent.
    await amount.fill("500")
    await clinician.keyboard.press("Enter")
    await expect(dialog.locator("[data-role=refund-amount-error]")).to_contain_text("At most NOK 450.00")

    await amount.fill("100")
    await clinician.keyboard.press("Enter")
    await expect(dialog).to_be_hidden()
    await expect(item).to_have_attribute("data-status", "partially_refunded")
    await expect(item.locator("[data-role=refund]")).to_have_text("Refunded: NOK 100.00")
    await expect(clinician.locator("[data-role=total-refunded]")).to_have_text("NOK 100.00")
    await expect(clinician.locator("[data-role=total-net]")).to_have_text("NOK 350.00")
    await expect(request_item(patient, request_id)).to_have_attribute("data-status", "partially_refunded")

    # The rest, with the mouse; Back first changes nothing.
    await refund_button.click()
    await expect(amount).to_have_value("350.00")
    await dialog.get_by_role("button", name="Back").click()
    await expect(dialog).to_be_hidden()
    await expect(refund_button).to_be_focused()
    await refund_button.click()
    await dialog.get_by_role("button", name="Confirm refund").click()
    await expect(item).to_have_attribute("data-status", "refunded")
    await expect(refund_button).to_be_hidden()
    await expect(clinician.locator("[data-role=total-net]")).to_have_text("NOK 0.00")

    row = await live.scalar(select(PaymentRequest).where(PaymentRequest.id == request_id))
    assert row.refunded_amount == 45000 and row.status == "refunded"
    assert await live.ledger_balanced()
    session.assert_no_page_errors()
