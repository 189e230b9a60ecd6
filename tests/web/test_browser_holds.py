"""The clinician captures part of a card hold, and releases another, in the panel in Chromium."""

from __future__ import annotations

from sqlalchemy import select

from app.models import Payment, PaymentRequest
from tests.factories import Live
from tests.holds.support import authorised_hold
from tests.web.test_browser import (  # noqa: F401 - the fixtures come with them
    Session,
    browser,
    expect,
    pytestmark,
    request_item,
    session,
)


async def test_capture_part_of_a_hold_and_release_another(live: Live, session: Session) -> None:  # noqa: F811
    consult, _, _, held = await authorised_hold(live)
    _, clinician = await session.panel(consult["clinician"]["join_url"])
    item = request_item(clinician, held.id)
    await expect(item).to_have_attribute("data-status", "authorised")
    await expect(item.locator("[data-role=status]")).to_have_text("Card authorised")

    # Keyboard: Capture… opens the dialog with the whole hold filled in.
    capture = item.get_by_role("button", name="Capture: Consultation, up to")
    await capture.focus()
    await clinician.keyboard.press("Enter")
    dialog = clinician.get_by_role("dialog", name="Capture from the card hold")
    await expect(dialog).to_be_visible()
    amount = dialog.get_by_label("How much to charge")
    await expect(amount).to_be_focused()
    await expect(amount).to_have_value("800.00")
    # More than the hold is refused before anything is sent.
    await amount.fill("900")
    await clinician.keyboard.press("Enter")
    await expect(dialog.locator("[data-role=capture-amount-error]")).to_contain_text("At most NOK 800.00")
    await amount.fill("500")
    await clinician.keyboard.press("Enter")
    await expect(dialog).to_be_hidden()
    await expect(item).to_have_attribute("data-status", "paid")
    await expect(item.locator("[data-role=amount]")).to_have_text("NOK 500.00")
    await expect(item.locator("[data-role=receipt]")).to_be_visible()
    await expect(capture).to_be_hidden()
    row = await live.scalar(select(PaymentRequest).where(PaymentRequest.id == held.id))
    assert (row.status, row.amount, row.hold_amount) == ("paid", 50000, 80000)
    assert await live.rows(select(Payment.amount).where(Payment.payment_request_id == held.id)) == [(50000,)]

    # Another consult's hold: released with the mouse, after saying yes.
    other, _, _, second = await authorised_hold(live)
    _, panel = await session.panel(other["clinician"]["join_url"])
    line = request_item(panel, second.id)
    await line.get_by_role("button", name="Release hold: Consultation, up to").click()
    confirm = panel.get_by_role("dialog", name="Release this card hold?")
    await expect(confirm).to_be_visible()
    await confirm.get_by_role("button", name="Release the hold").click()
    await expect(line).to_have_attribute("data-status", "released")
    await expect(line.locator("[data-role=status]")).to_have_text("Released")
    row = await live.scalar(select(PaymentRequest).where(PaymentRequest.id == second.id))
    assert row.status == "released"
    assert await live.ledger_balanced()
    session.assert_no_page_errors()
