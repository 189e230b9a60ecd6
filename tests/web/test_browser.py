"""End-to-end tests in a real browser: both panels, the hosted checkout page and the demo.

Chromium is driven through Playwright against the ``live`` app (real port, built-in Stripe
sandbox). Each test launches its own browser: that costs about a second, and keeps the
browser on the same event loop as the function-scoped ``live`` server.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

from tests.factories import Live
from tests.web.axe import AxeWatch, require_axe

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
IN_CI = os.environ.get("CI") == "true"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
TIMEOUT_MS = 10_000

if not os.path.exists(CHROMIUM) and not IN_CI:
    pytest.skip(f"Chromium is not installed at {CHROMIUM}; the browser tests need it", allow_module_level=True)

expect.set_options(timeout=TIMEOUT_MS)

GOOD_CARD = "4242 4242 4242 4242"
DECLINED_CARD = "4000 0000 0000 0002"


@dataclass
class Session:
    """The browser contexts of one test, with every uncaught page error they raise.

    axe-core runs on every page after each load and on every open page when the
    test ends; any violation fails the test (``tests/web/axe.py``).
    """

    browser: Browser
    live: Live
    contexts: list[BrowserContext] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    axe: AxeWatch = field(default_factory=AxeWatch)

    async def context(self, *, locale: str = "en-US", timezone_id: str = "Europe/Oslo",
                      viewport: dict[str, int] | None = None) -> BrowserContext:
        # One context per person: separate windows, as on two machines in a call.
        options: dict[str, Any] = {"viewport": viewport} if viewport else {}
        ctx = await self.browser.new_context(locale=locale, timezone_id=timezone_id, **options)
        ctx.set_default_timeout(TIMEOUT_MS)
        ctx.on("page", self._watch)
        await self.axe.attach(ctx)
        self.contexts.append(ctx)
        return ctx

    def _watch(self, page: Page) -> None:
        page.on("pageerror", lambda exc: self.page_errors.append(f"{page.url}: {exc}"))

    async def panel(self, url: str, *, locale: str = "en-US") -> tuple[BrowserContext, Page]:
        ctx = await self.context(locale=locale)
        page = await ctx.new_page()
        await page.goto(url)
        await expect_connected(page)
        return ctx, page

    def assert_no_page_errors(self) -> None:
        assert self.page_errors == [], self.page_errors

    async def check_accessibility(self) -> None:
        """axe on every open page now; fails with the list of every violation found so far."""
        await self.axe.finish(self.contexts)
        if self.axe.violations:
            pytest.fail(self.axe.report(), pytrace=False)

    async def close(self) -> None:
        try:
            await self.axe.finish(self.contexts)
        finally:
            for ctx in self.contexts:
                await ctx.close()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"Chromium is not installed at {CHROMIUM}, and CI must run the browser tests")
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
async def session(live: Live, browser: Browser) -> AsyncIterator[Session]:
    assert live.http
    async with live.http.get(live.url + "/static/vendor/socket.io.min.js") as resp:
        if resp.status != 200:
            pytest.fail("static/vendor/socket.io.min.js is missing: `make setup` copies it from npm")
    require_axe()
    s = Session(browser=browser, live=live)
    try:
        yield s
    finally:
        await s.close()
    if s.axe.violations:
        pytest.fail(s.axe.report(), pytrace=False)


# ---------- Helpers ----------


async def expect_connected(page_or_frame: Any) -> None:
    await expect(page_or_frame.locator("[data-role=connection]")).to_have_attribute("data-state", "connected")


async def request_payment(page_or_frame: Any, amount: str, description: str) -> None:
    await page_or_frame.get_by_label("Amount").fill(amount)
    await page_or_frame.get_by_label("Description").fill(description)
    await page_or_frame.get_by_role("button", name="Request payment").click()


def request_items(page_or_frame: Any) -> Any:
    return page_or_frame.locator("[data-role=request-list] > li")


def request_item(page_or_frame: Any, request_id: str) -> Any:
    """The request's entry in the panel's list (the popup lists it too, under the same id)."""
    return page_or_frame.locator(f'[data-role=request-list] > li[data-request-id="{request_id}"]')


async def open_checkout(patient_ctx: BrowserContext, patient: Page) -> Page:
    """Press Pay now and return the window it opens, once the checkout form is there."""
    async with patient_ctx.expect_page() as opened:
        await patient.get_by_role("button", name=re.compile(r"^Pay now")).click()
    checkout = await opened.value
    await expect(checkout.get_by_label("Card number")).to_be_visible()
    assert "/checkout/" in checkout.url
    return checkout


async def fill_card(checkout: Page, card: str) -> None:
    await checkout.get_by_label("Email").fill("kari@example.no")
    await checkout.get_by_label("Card number").fill(card)
    await checkout.get_by_label("Expiry (MM/YY)").fill("12/34")
    await checkout.get_by_label("CVC").fill("123")
    await checkout.get_by_role("button", name=re.compile(r"^Pay ")).click()


async def requested_in_browser(session: Session, live: Live) -> tuple[Page, BrowserContext, Page, str]:
    """An English consult with both panels open and one request for NOK 450.00 on the patient's."""
    consult = await live.consult(language="en")
    _, clinician = await session.panel(consult["clinician"]["join_url"])
    patient_ctx, patient = await session.panel(consult["patients"][0]["join_url"])

    await request_payment(clinician, "450", "Consultation")

    item = request_items(clinician)
    await expect(item).to_have_count(1)
    await expect(item).to_have_attribute("data-status", "requested")
    await expect(item.locator("[data-role=amount]")).to_have_text("NOK 450.00")
    request_id = await item.get_attribute("data-request-id")
    assert request_id

    on_patient = request_item(patient, request_id)
    await expect(on_patient).to_be_visible()
    await expect(on_patient).to_contain_text("NOK 450.00")
    await expect(on_patient).to_contain_text("Consultation")
    return clinician, patient_ctx, patient, request_id


async def rest_status(live: Live, request_id: str) -> str:
    status, body = await live.api("GET", f"/api/v1/payment-requests/{request_id}")
    assert status == 200, body
    return body["status"]


# ---------- Tests ----------


async def test_pay_in_the_browser(live: Live, session: Session) -> None:
    clinician, patient_ctx, patient, request_id = await requested_in_browser(session, live)
    dialog = clinician.get_by_role("alertdialog", name="Payment received")
    await expect(dialog).to_be_hidden()

    checkout = await open_checkout(patient_ctx, patient)
    await expect(checkout.get_by_role("heading", name="NOK 450.00")).to_be_visible()
    await expect(request_item(clinician, request_id)).to_have_attribute("data-status", "checkout_open")
    await fill_card(checkout, GOOD_CARD)

    # The checkout window lands on our return page, which says it is paid.
    await checkout.wait_for_url(re.compile(r"/checkout/return\?"))
    await expect(checkout.locator("[data-outcome]")).to_have_attribute("data-outcome", "paid")
    await expect(checkout.get_by_role("heading", name="Payment received")).to_be_visible()
    # The receipt's short number, never the request's 35-character id.
    await expect(checkout.locator(".details")).to_contain_text(re.compile(r"CP-\d{4}-\d{6}"))
    await expect(checkout.locator(".details")).not_to_contain_text(request_id)
    # Pay now opened this window from a script, so its Close button can close it.
    close = checkout.get_by_role("button", name="Close this window")
    await expect(close).to_be_visible()
    async with checkout.expect_event("close"):
        await close.click()

    # The clinician gets the popup, live.
    await expect(dialog).to_be_visible()
    await expect(dialog).to_contain_text("NOK 450.00")
    await expect(dialog).to_contain_text("Consultation")
    await expect(dialog.get_by_role("button", name="OK")).to_be_focused()
    item = request_item(clinician, request_id)
    await expect(item).to_have_attribute("data-status", "paid")
    await expect(clinician.locator("[data-role=total-paid]")).to_have_text("NOK 450.00")
    await dialog.get_by_role("button", name="OK").click()
    await expect(dialog).to_be_hidden()

    # The patient sees the confirmation, live, and nothing left to pay.
    confirmation = patient.get_by_test_id("confirmation")
    await expect(confirmation).to_be_visible()
    await expect(confirmation).to_contain_text("NOK 450.00")
    await expect(confirmation).to_contain_text(re.compile(r"CP-\d{4}-\d{6}"))
    await expect(confirmation).not_to_contain_text(request_id)
    await expect(request_item(patient, request_id)).to_have_attribute("data-status", "paid")
    await expect(patient.get_by_role("button", name=re.compile(r"^Pay now"))).to_have_count(0)

    assert await rest_status(live, request_id) == "paid"
    assert await live.ledger_balanced()
    session.assert_no_page_errors()


async def test_declined_card_in_the_browser(live: Live, session: Session) -> None:
    clinician, patient_ctx, patient, request_id = await requested_in_browser(session, live)
    item = request_item(clinician, request_id)

    checkout = await open_checkout(patient_ctx, patient)
    await expect(item).to_have_attribute("data-status", "checkout_open")
    await fill_card(checkout, DECLINED_CARD)

    await expect(checkout.get_by_role("alert")).to_have_text("Your card was declined.")
    assert "/checkout/return" not in checkout.url
    await expect(checkout.get_by_label("Card number")).to_have_attribute("aria-invalid", "true")

    assert await rest_status(live, request_id) == "checkout_open"
    # Give any stray event time to arrive (the sandbox retries every 50 ms in tests).
    await asyncio.sleep(0.5)
    await expect(item).to_have_attribute("data-status", "checkout_open")
    await expect(clinician.get_by_role("alertdialog")).to_be_hidden()
    await expect(clinician.locator("[data-role=total-paid]")).to_have_text("NOK 0.00")
    # The patient can still pay, and is not thanked for a payment that did not happen.
    await expect(patient.get_by_test_id("confirmation")).to_be_hidden()
    await expect(patient.get_by_role("button", name=re.compile(r"^Pay now"))).to_be_enabled()

    assert await rest_status(live, request_id) == "checkout_open"
    assert await live.ledger_balanced()
    session.assert_no_page_errors()


async def test_reload_keeps_state(live: Live, session: Session) -> None:
    consult = await live.consult(language="en")
    _, clinician = await session.panel(consult["clinician"]["join_url"])
    _, patient = await session.panel(consult["patients"][0]["join_url"])

    # Keyboard only: skip link, amount, description, submit.
    amount = clinician.get_by_label("Amount")
    description = clinician.get_by_label("Description")
    submit = clinician.get_by_role("button", name="Request payment")
    await clinician.keyboard.press("Tab")
    await expect(clinician.get_by_role("link", name="Skip to content")).to_be_focused()
    await clinician.keyboard.press("Tab")
    await expect(amount).to_be_focused()

    # Enter with no amount: an error, tied to the field, and the focus stays there.
    await clinician.keyboard.press("Enter")
    await expect(amount).to_have_attribute("aria-invalid", "true")
    await expect(clinician.locator("#amount-error")).to_have_text("Enter an amount.")
    await expect(amount).to_be_focused()
    await expect(request_items(clinician)).to_have_count(0)

    await clinician.keyboard.type("450,50")
    await expect(amount).not_to_have_attribute("aria-invalid", "true")
    await clinician.keyboard.press("Tab")
    await expect(description).to_be_focused()
    await clinician.keyboard.press("ControlOrMeta+a")
    await clinician.keyboard.type("Follow-up")
    await clinician.keyboard.press("Tab")
    await expect(submit).to_be_focused()
    await clinician.keyboard.press("Enter")

    item = request_items(clinician)
    await expect(item).to_have_count(1)
    await expect(item.locator("[data-role=description]")).to_have_text("Follow-up")
    await expect(item.locator("[data-role=amount]")).to_have_text("NOK 450.50")
    # Ready for the next one: the amount is cleared and focused again.
    await expect(amount).to_have_value("")
    await expect(amount).to_be_focused()
    request_id = await item.get_attribute("data-request-id")
    assert request_id

    on_patient = request_item(patient, request_id)
    await expect(on_patient).to_contain_text("NOK 450.50")

    # A reload rebuilds both panels from consult:state.
    await patient.reload()
    await expect_connected(patient)
    await expect(request_items(patient)).to_have_count(1)
    await expect(on_patient).to_contain_text("NOK 450.50")
    await expect(on_patient).to_contain_text("Follow-up")
    await expect(on_patient).to_have_attribute("data-status", "requested")
    await expect(patient.get_by_role("button", name=re.compile(r"^Pay now"))).to_be_enabled()

    await clinician.reload()
    await expect_connected(clinician)
    await expect(request_items(clinician)).to_have_count(1)
    await expect(request_item(clinician, request_id)).to_have_attribute("data-status", "requested")

    assert await rest_status(live, request_id) == "requested"
    session.assert_no_page_errors()


async def test_demo_page(live: Live, session: Session) -> None:
    ctx = await session.context()
    page = await ctx.new_page()
    response = await page.goto(live.url + "/demo")
    assert response is not None and response.status == 200
    await expect(page.locator("iframe")).to_have_count(2)

    clinician = page.frame_locator('iframe[title="Clinician\'s panel"]')
    patient = page.frame_locator('iframe[title="Patient\'s panel"]')
    await expect_connected(clinician)
    await expect_connected(patient)
    await expect(clinician.get_by_role("button", name="Request payment")).to_be_enabled()
    await expect(patient.get_by_role("heading", name="No payment is requested right now.")).to_be_visible()

    await request_payment(clinician, "250", "Demo consultation")
    await expect(request_items(clinician)).to_have_count(1)
    on_patient = request_items(patient)
    await expect(on_patient).to_have_count(1)
    await expect(on_patient).to_contain_text("250.00")
    await expect(on_patient).to_contain_text("Demo consultation")
    await expect(patient.get_by_role("button", name=re.compile(r"^Pay now"))).to_be_enabled()
    session.assert_no_page_errors()


async def test_panels_label_and_act_on_statuses_from_their_config(session: Session, live: Live) -> None:
    """In bokmål: labels, Cancel, Pay now, Send as SMS/invoice and the consult's end follow the
    statuses the page's config gives the scripts (Norwegian browsers: the panels follow the browser)."""
    consult = await live.consult(language="nb")
    _, clinician = await session.panel(consult["clinician"]["join_url"], locale="nb-NO")
    _, patient = await session.panel(consult["patients"][0]["join_url"], locale="nb-NO")

    await clinician.get_by_label("Beløp").fill("450")
    await clinician.get_by_label("Beskrivelse").fill("Konsultasjon")
    await clinician.get_by_role("button", name="Be om betaling").click()
    item = request_items(clinician)
    await expect(item).to_have_count(1)
    request_id = await item.get_attribute("data-request-id")
    assert request_id
    on_patient = request_item(patient, request_id)
    for node in (item, on_patient):
        await expect(node.locator("[data-role=status]")).to_have_text("Forespurt")
    await expect(item.locator("[data-role=cancel]")).to_be_visible()
    await expect(item.locator("[data-role=send-medipay-item]")).to_be_hidden()
    await expect(on_patient.locator("[data-role=pay]")).to_be_visible()
    await expect(patient.locator("[data-role=nothing-pending]")).to_be_hidden()

    await item.locator("[data-role=cancel]").click()
    # Cancelling asks first (in bokmål too).
    await clinician.get_by_role("dialog", name="Avbryte denne betalingsforespørselen?").get_by_role(
        "button", name="Avbryt forespørselen").click()
    for node in (item, on_patient):
        await expect(node.locator("[data-role=status]")).to_have_text("Avbrutt")
    await expect(item.locator("[data-role=cancel]")).to_be_hidden()
    await expect(item.locator("[data-role=send-medipay-item]")).to_be_visible()
    await expect(on_patient.locator("[data-role=pay]")).to_be_hidden()
    await expect(patient.locator("[data-role=nothing-pending]")).to_be_visible()
    assert await rest_status(live, request_id) == "cancelled"

    status, _ = await live.api("POST", f"/api/v1/consults/{consult['id']}/end")
    assert status == 200
    for page in (clinician, patient):
        await expect(page.locator("[data-role=ended]")).to_be_visible()
    await expect(item.locator("[data-role=send-medipay-item]")).to_be_hidden()
    session.assert_no_page_errors()
