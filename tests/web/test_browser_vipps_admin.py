"""In Chromium, with axe on every page: *Client payments > Vipps* by labels, roles and the keyboard.

The demo organisation's admin finds the demo clinic's Vipps merchant verified (the green check),
turns Vipps off and on with the keyboard, is told clearly when Vipps refuses new keys (nothing
changes), saves a new merchant's keys, and removes Vipps after the confirm page.
"""

from __future__ import annotations

from playwright.async_api import Page

from tests.factories import Live
from tests.web.test_browser import (  # noqa: F401 - the fixtures come with them
    Session,
    browser,
    expect,
    pytestmark,
    session,
)
from tests.web.test_browser_admin import flash, sign_in


async def press(page: Page, name: str) -> None:
    """Reach a button by the keyboard (focus) and press it with Enter, as a keyboard user would."""
    button = page.get_by_role("button", name=name, exact=True)
    await button.focus()
    await expect(button).to_be_focused()
    await page.keyboard.press("Enter")


async def test_vipps_settings_by_keyboard_and_labels(live: Live, session: Session) -> None:  # noqa: F811
    assert live.http
    async with live.http.post(f"{live.settings.vipps_base}/_control/merchants") as resp:
        keys = await resp.json()
    page = await sign_in(await session.context(), live, live.demo["admin"]["email"], live.demo["admin"]["password"])
    await page.get_by_role("link", name="Client payments").click()
    vipps = page.locator("section#vipps")
    await expect(vipps.get_by_test_id("vipps-status")).to_have_attribute("data-status", "active")
    await vipps.get_by_role("link", name="Vipps settings").click()
    await expect(page.get_by_role("heading", name="Vipps", exact=False).first).to_be_visible()
    await expect(page.get_by_test_id("vipps-status")).to_contain_text("Verified by Vipps")
    await expect(page.get_by_test_id("vipps-offered")).to_have_attribute("data-offered", "yes")

    await press(page, "Turn Vipps off")
    await expect(flash(page)).to_contain_text("Vipps is off: patients are not offered Vipps in the call.")
    await expect(page.get_by_test_id("vipps-offered")).to_have_attribute("data-offered", "no")
    await press(page, "Turn Vipps on")
    await expect(page.get_by_test_id("vipps-offered")).to_have_attribute("data-offered", "yes")

    # New keys with a wrong secret: refused by Vipps, said at the top and at the field; nothing changes.
    await page.get_by_label("Merchant serial number").fill(keys["merchant_serial_number"])
    await page.get_by_label("Client id").fill(keys["client_id"])
    await page.get_by_label("Client secret").fill("wrong secret")
    await page.get_by_label("Subscription key").fill(keys["subscription_key"])
    await press(page, "Check and save the new keys")
    summary = page.get_by_role("alert")
    await expect(summary).to_contain_text("Vipps did not accept the keys.")
    await expect(page.get_by_label("Client secret")).to_have_attribute("aria-invalid", "true")
    await expect(page.get_by_test_id("vipps-msn")).not_to_have_text(keys["merchant_serial_number"])

    await page.get_by_label("Client secret").fill(keys["client_secret"])
    await page.get_by_label("Subscription key").fill(keys["subscription_key"])
    await press(page, "Check and save the new keys")
    await expect(flash(page)).to_contain_text("Vipps accepted the keys.")
    await expect(page.get_by_test_id("vipps-msn")).to_have_text(keys["merchant_serial_number"])
    await expect(page.get_by_label("Client secret")).to_have_value("")

    await press(page, "Remove Vipps…")
    await expect(page.get_by_role("heading", name="Remove Vipps from the clinic?")).to_be_visible()
    await press(page, "Remove Vipps")
    await expect(flash(page)).to_contain_text("Vipps was removed from the clinic.")
    await expect(page.get_by_test_id("vipps-status")).to_have_attribute("data-status", "none")
    session.assert_no_page_errors()
    await session.check_accessibility()
