"""In a real browser: what the patient did not pay in the call goes on to MediPay from the clinician's panel.

The clinician requests a payment, then presses *Send as SMS/invoice*; the card goes to
the built-in MediPay sandbox (over HTTP, as to the real service), the patient chooses
Vipps in MediPay Checkout, and the panel shows each MediPay state as it happens.
"""

from __future__ import annotations

from typing import Any

from playwright.async_api import expect

from tests.factories import Live
from tests.web.test_browser import (  # noqa: F401, F811 - the fixtures come with them
    Session,
    browser,
    expect_connected,
    pytestmark,
    request_items,
    request_payment,
    session,
)


async def requested(live: Live, session: Session) -> tuple[Any, Any]:  # noqa: F811
    """An English consult's clinician panel with one request for NOK 450.00; the panel and its item."""
    consult = await live.consult(language="en")
    _, clinician = await session.panel(consult["clinician"]["join_url"])
    await expect_connected(clinician)
    await request_payment(clinician, "450", "Consultation")
    return clinician, request_items(clinician)


async def test_unpaid_in_the_call_sent_on_to_medipay_and_paid_with_vipps(
    live: Live, session: Session  # noqa: F811
) -> None:
    clinician, item = await requested(live, session)
    await expect(item).to_have_attribute("data-status", "requested")

    await clinician.get_by_role("button", name="Send as SMS/invoice").click()
    # Nothing goes before the clinician has seen what the patient will be asked, and confirmed it.
    await clinician.get_by_role("dialog", name="Send to the patient by SMS?").get_by_role(
        "button", name="Send SMS").click()
    cards = clinician.locator("[data-role=card-list] > li")
    await expect(cards).to_have_count(1)
    await expect(cards).to_have_attribute("data-status", "open_exported")
    await expect(cards.locator("[data-role=card-status]")).to_have_text("Open and exported")
    card_id = await cards.get_attribute("data-card-id")
    assert card_id
    # The request in the call was taken over, so the patient cannot also pay it there.
    await expect(item).to_have_attribute("data-status", "cancelled")

    # The patient got the SMS and chooses Vipps in MediPay Checkout.
    assert live.http
    async with live.http.get(f"{live.settings.medipay_base}/_control/sms") as resp:
        sms = await resp.json()
    assert any(card_id in str(message) for message in (sms if isinstance(sms, list) else sms.get("sms", [])))
    async with live.http.post(f"{live.settings.medipay_base}/_control/claims/{card_id}/choose",
                              json={"method": "vipps"}) as resp:
        assert resp.status < 300, await resp.text()

    # The panel hears it live.
    await expect(cards).to_have_attribute("data-status", "paid", timeout=15_000)
    status, card = await live.api("GET", f"/api/v1/bill-cards/{card_id}")
    assert status == 200 and card["status"] == "paid"
    assert [p["method"] for p in card["payments"]] == ["vipps"]
    assert card["payments"][0]["amount"] == 45000
    assert await live.ledger_balanced()
    session.assert_no_page_errors()


async def test_a_cancelled_request_sent_on_from_its_own_button(
    live: Live, session: Session  # noqa: F811
) -> None:
    clinician, item = await requested(live, session)
    onward = item.get_by_role("button", name="Send as SMS/invoice: Consultation")
    await expect(onward).to_be_hidden()
    await item.get_by_role("button", name="Cancel request: Consultation").click()
    await clinician.get_by_role("dialog", name="Cancel this payment request?").get_by_role(
        "button", name="Cancel the request").click()
    await expect(item).to_have_attribute("data-status", "cancelled")

    await onward.focus()
    await clinician.keyboard.press("Enter")
    # The confirmation takes focus on its Send button: Enter confirms from the keyboard too.
    await expect(clinician.get_by_role("button", name="Send SMS")).to_be_focused()
    await clinician.keyboard.press("Enter")
    cards = clinician.locator("[data-role=card-list] > li")
    await expect(cards).to_have_attribute("data-status", "open_exported")
    await expect(cards).to_contain_text("NOK 450.00")
    card_id = await cards.get_attribute("data-card-id")
    status, card = await live.api("GET", f"/api/v1/bill-cards/{card_id}")
    assert status == 200 and card["status"] == "open_exported" and card["patient_share"] == 45000
    session.assert_no_page_errors()
