"""The cash desk in Chromium: sign in, add a MediPay account to a book and see the green check,
open the cash desk, filter, open a card and its MediPay status. Only the keyboard-reachable
controls the page names are used (labels, roles), as a screen reader user would find them."""

from __future__ import annotations

from playwright.async_api import Page

from tests.admin.cards_helpers import new_card
from tests.factories import Live
from tests.web.test_browser import Session, browser, expect, pytestmark, session  # noqa: F401
from tests.web.test_browser_admin import flash, sign_in


async def test_medipay_account_green_check_then_cash_desk(live: Live, session: Session) -> None:  # noqa: F811
    await new_card(live, "Sigrid Vik", 45000, 20000)
    await new_card(live, "Torstein Aas", 30000)
    ctx = await session.context()
    page: Page = await sign_in(ctx, live, live.demo["admin"]["email"], live.demo["admin"]["password"])
    nav = page.get_by_role("navigation", name="Main")

    await nav.get_by_role("link", name="Export settings").click()
    await expect(page.get_by_role("heading", name="Export settings", exact=True)).to_be_visible()
    await page.get_by_label("Description").fill("Regnskap Vik")
    await page.get_by_label("Export format").select_option("medipay")
    await page.get_by_role("button", name="Create the book").click()
    await expect(flash(page)).to_contain_text("The book “Regnskap Vik” was created.")
    await page.get_by_label("MediPay username").fill("vik-klinikk")
    await page.get_by_label("MediPay password").fill("medipay-test")
    await page.get_by_role("button", name="Add the MediPay account").click()
    await expect(flash(page)).to_contain_text("MediPay accepted the username and password.")
    await page.get_by_role("link", name="Back to export settings").click()
    row = page.locator("tr", has=page.get_by_role("rowheader", name="Regnskap Vik"))
    await expect(row.get_by_test_id("medipay-status")).to_have_attribute("data-status", "active")
    await expect(row.get_by_test_id("medipay-status")).to_contain_text("✓ Verified and active")

    await nav.get_by_role("link", name="Cash desk").click()
    cards = page.get_by_test_id("cards")
    await expect(cards.get_by_role("rowheader")).to_have_count(2)
    await page.get_by_label("Patient name or card id").fill("sigrid")
    await page.get_by_label("Status").select_option("open")
    await page.get_by_role("button", name="Show").click()
    await expect(cards.get_by_role("rowheader")).to_have_count(1)
    await expect(cards.get_by_test_id("card-status")).to_contain_text("Open")
    await cards.get_by_role("link", name="Sigrid Vik").click()

    await expect(page.get_by_role("heading", name="Bill card: Sigrid Vik")).to_be_visible()
    await expect(page.get_by_test_id("patient-share")).to_contain_text("450.00")
    await expect(page.get_by_test_id("refund-share")).to_contain_text("200.00")
    await page.get_by_text("Show MediPay status").click()
    await expect(page.get_by_test_id("medipay-state")).to_have_text("Not exported")
    await expect(page.get_by_label("Refund share (NOK)")).to_be_editable()

    # On a phone the pages fit the screen: wide tables scroll inside their own region.
    await page.set_viewport_size({"width": 360, "height": 740})
    for path in ("/admin/cash-desk", page.url, "/admin/reports/settlement", "/admin/reports/medipay-earnings",
                 "/admin/export-settings"):
        await page.goto(path if path.startswith("http") else live.url + path)
        overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        wide = await page.evaluate("""[...document.querySelectorAll('body *')]
            .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
            .filter(e => !e.closest('.table-scroll table'))
            .map(e => e.tagName + '.' + e.className + '#' + e.id).slice(0, 8)""")
        assert overflow <= 0, (path, overflow, wide)
    session.assert_no_page_errors()
