"""Receipts in Chromium: linked from both panels after payment, reachable after the call, on a phone too."""

from __future__ import annotations

import re

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

NUMBER = re.compile(r"CP-\d{4}-\d{6}")


async def test_receipt_from_the_panel_and_after_the_call(live: Live, session: Session) -> None:  # noqa: F811
    clinician, patient_ctx, patient, request_id = await requested_in_browser(session, live)
    checkout = await open_checkout(patient_ctx, patient)
    await fill_card(checkout, GOOD_CARD)
    await checkout.wait_for_url(re.compile(r"/checkout/return\?"))
    await checkout.close()

    # The patient's confirmation names the receipt by its short number and links it.
    confirmation = patient.get_by_test_id("confirmation")
    await expect(confirmation).to_be_visible()
    link = confirmation.get_by_role("link", name=re.compile(r"^View receipt CP-"))
    await expect(link).to_be_visible()
    number = NUMBER.search(await link.inner_text())
    assert number
    # The clinician's list links the same receipt.
    await expect(request_item(clinician, request_id).get_by_role("link", name=f"Receipt {number.group(0)}")) \
        .to_be_visible()

    # Opened from the panel with the keyboard, in a window of its own.
    await link.focus()
    async with patient_ctx.expect_page() as opened:
        await patient.keyboard.press("Enter")
    receipt = await opened.value
    await expect(receipt.get_by_role("heading", name=f"Receipt {number.group(0)}")).to_be_visible()
    await expect(receipt.get_by_test_id("vat-note")).to_contain_text("merverdiavgiftsloven § 3-2")
    await expect(receipt.get_by_role("link", name="Download PDF")).to_be_visible()
    receipt_url = receipt.url
    assert request_id not in receipt_url

    # The call ends; reloading the panel shows the receipt instead of an error code.
    status, _ = await live.api("POST", f"/api/v1/consults/{(await _consult_of(live, request_id))}/end")
    assert status == 200
    await patient.reload()
    ended = patient.get_by_test_id("consult-ended")
    await expect(ended).to_be_visible()
    await expect(ended).not_to_contain_text("401")
    await expect(ended.get_by_role("link", name=f"View receipt {number.group(0)}")).to_have_attribute(
        "href", receipt_url
    )

    # On a phone, in Norwegian, the receipt fits the screen.
    phone = await session.context(viewport={"width": 360, "height": 740}, locale="nb-NO")
    page = await phone.new_page()
    await page.goto(receipt_url + "?lang=nb")
    await expect(page.get_by_role("heading", name=f"Kvittering {number.group(0)}")).to_be_visible()
    overflow = await page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
    assert not overflow
    session.assert_no_page_errors()


async def _consult_of(live: Live, request_id: str) -> str:
    status, body = await live.api("GET", f"/api/v1/payment-requests/{request_id}")
    assert status == 200
    return str(body["consult_id"])
