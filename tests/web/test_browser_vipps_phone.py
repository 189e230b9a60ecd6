"""In a real browser: the patient's phone in the built-in Vipps sandbox.

A push payment request reaches the phone page (phone-sized, keyboard only, axe
on every load); the patient approves it with the keyboard, the page shows the
outcome in their language, and Vipps' API says the payment is authorised; on
the landing page a rejection returns the browser to the merchant.
"""

from __future__ import annotations

from playwright.async_api import expect

from app.keys import VIPPS
from integrations.vipps.protocol import PaymentState, UserFlow
from integrations.vipps.sandbox import DEMO_KEYS
from tests.factories import Live
from tests.vipps.support import new_payment
from tests.web.test_browser import Session, browser, pytestmark, session  # noqa: F401 - the fixtures come with them

PHONE_SIZE = {"width": 390, "height": 844}


async def test_the_patient_approves_the_push_on_the_phone_page(live: Live, session: Session) -> None:  # noqa: F811
    client = live.app[VIPPS]
    created = await client.create_payment(DEMO_KEYS, new_payment(amount=45000, phone="4798765432"),
                                          idempotency_key="browser-push")
    ctx = await session.context(locale="en-GB", viewport=PHONE_SIZE)
    phone = await ctx.new_page()
    await phone.goto(f"{live.settings.vipps_base}/phone/4798765432")
    request = phone.get_by_role("region", name="Video consultation")
    await expect(request).to_have_attribute("data-state", "CREATED")
    await expect(request).to_contain_text("NOK\xa0450.00")
    approve = request.get_by_role("button", name="Approve NOK\xa0450.00")
    await approve.focus()
    await phone.keyboard.press("Enter")
    await expect(request).to_have_attribute("data-state", "AUTHORIZED")
    await expect(request.get_by_role("status")).to_have_text("Approved. Thank you!")
    assert (await client.get_payment(DEMO_KEYS, created.reference)).state is PaymentState.AUTHORIZED

    await phone.get_by_role("link", name="Norsk bokmål").click()
    await expect(phone.get_by_role("heading", level=1)).to_have_text("Vipps på 4798765432")
    await expect(request.get_by_role("status")).to_have_text("Godkjent. Takk!")

    # On the landing page (a web redirect), rejecting sends the browser back to the merchant's returnUrl.
    back = f"{live.settings.vipps_base}/phone/4798765432"
    redirect = await client.create_payment(DEMO_KEYS, new_payment(UserFlow.WEB_REDIRECT, return_url=back),
                                           idempotency_key="browser-landing")
    assert redirect.redirect_url
    await phone.goto(redirect.redirect_url)
    await expect(phone.get_by_role("heading", level=1)).to_have_text("Pay with Vipps")
    await phone.get_by_role("button", name="Reject").click()
    await expect(phone).to_have_url(back)
    assert (await client.get_payment(DEMO_KEYS, redirect.reference)).state is PaymentState.ABORTED
    await session.check_accessibility()
    session.assert_no_page_errors()
