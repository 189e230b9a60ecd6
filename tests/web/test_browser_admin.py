"""An admin's first day, in Chromium: a new clinic, its first admin, Stripe, a payment, a refund, removal.

The demo organisation's admin creates a clinic, enables its payment app and invites a clinic admin.
The clinic admin sets a password from the invitation link, signs in for the first time, links the
clinic to Stripe (the sandbox's onboarding page), takes an in-call payment on it, refunds part of it
at the cash desk, removes the account, and finds all of it in the audit trail.
"""

from __future__ import annotations

import re

from playwright.async_api import BrowserContext, Locator, Page

from app.connect.routing import NO_ACCOUNT
from tests.factories import Live, consult_body
from tests.web.test_browser import (  # noqa: F401 - the fixtures come with them
    GOOD_CARD,
    Session,
    browser,
    expect,
    expect_connected,
    fill_card,
    open_checkout,
    pytestmark,
    request_item,
    request_items,
    request_payment,
    session,
)

CLINIC = "Fjordklinikken"
CLINIC_ADMIN = {"name": "Ingrid Berg", "email": "ingrid@fjordklinikken.example"}
PASSWORD = "a long first password 2024"


async def sign_in(ctx: BrowserContext, live: Live, email: str, password: str) -> Page:
    page = await ctx.new_page()
    await page.goto(live.url + "/admin/sign-in")
    await page.get_by_label("E-mail").fill(email)
    await page.get_by_label("Password", exact=True).fill(password)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Dashboard", exact=True)).to_be_visible()
    return page


def flash(page: Page) -> Locator:
    return page.get_by_test_id("flash")


async def new_clinic_with_invited_admin(live: Live, session: Session) -> tuple[str, str]:  # noqa: F811
    """As the organisation admin: the clinic, its payment app, and an invitation. Returns (clinic id, link)."""
    org = await sign_in(await session.context(), live, live.demo["admin"]["email"], live.demo["admin"]["password"])
    await org.get_by_role("link", name="New clinic").click()
    await org.get_by_label("Name").fill(CLINIC)
    await org.get_by_label("Currency").select_option("NOK")
    await org.get_by_role("button", name="Create the clinic").click()
    await expect(flash(org)).to_contain_text(f"The clinic {CLINIC} was created.")

    row = org.locator("tr[data-clinic-id]", has=org.get_by_role("rowheader", name=CLINIC))
    clinic_id = await row.get_attribute("data-clinic-id")
    assert clinic_id and clinic_id != live.demo["clinic_id"]
    await expect(row).to_contain_text("Not linked")
    await row.get_by_role("button", name="Enable the payment app").click()
    await expect(flash(org)).to_contain_text(f"The payment app is enabled for {CLINIC}.")
    await expect(row.get_by_test_id("payment-app-state")).to_have_text("Enabled")

    await org.get_by_role("navigation", name="Main").get_by_role("link", name="Users").click()
    await org.get_by_role("link", name="Invite a user").click()
    await org.get_by_label("Name").fill(CLINIC_ADMIN["name"])
    await org.get_by_label("E-mail").fill(CLINIC_ADMIN["email"])
    await org.get_by_label("Role").select_option(label="Clinic admin")
    await org.get_by_label("Clinic").select_option(label=CLINIC)
    await org.get_by_role("button", name="Invite a user").click()
    await expect(org.get_by_role("heading", name="Invitation created")).to_be_visible()
    link = (await org.get_by_test_id("invitation-link").inner_text()).strip()
    assert link.startswith(live.url + "/admin/invite/"), link
    await org.context.close()
    return clinic_id, link


async def accept_and_sign_in(live: Live, session: Session, link: str) -> Page:  # noqa: F811
    """The clinic admin's own browser: set a password from the link, then sign in for the first time."""
    ctx = await session.context()
    page = await ctx.new_page()
    await page.goto(link)
    await expect(page.get_by_role("heading", name="Set up your account")).to_be_visible()
    await expect(page.get_by_text(CLINIC_ADMIN["email"])).to_be_visible()
    await page.get_by_label("Password", exact=True).fill(PASSWORD)
    await page.get_by_label("Password again").fill(PASSWORD)
    await page.get_by_role("button", name="Create my account").click()
    await page.wait_for_url(re.compile(r"/admin/sign-in"))
    await expect(flash(page)).to_contain_text("Your account is ready.")
    await page.close()

    admin = await sign_in(ctx, live, CLINIC_ADMIN["email"], PASSWORD)
    await expect(admin.locator(".admin-header__user")).to_contain_text(f"{CLINIC_ADMIN['name']} (Clinic admin)")
    return admin


async def test_first_admin_links_takes_refunds_and_removes(live: Live, session: Session) -> None:  # noqa: F811
    clinic_id, link = await new_clinic_with_invited_admin(live, session)
    admin = await accept_and_sign_in(live, session, link)
    nav = admin.get_by_role("navigation", name="Main")

    # Configure > Client payments: nothing linked yet; Go to Stripe, onboard, come back.
    await nav.get_by_role("link", name="Client payments").click()
    await expect(admin).to_have_url(re.compile(rf"/admin/clinics/{clinic_id}/client-payments$"))
    await expect(admin.get_by_role("heading", name=re.compile("^Client payments"))).to_contain_text(CLINIC)
    await expect(admin.get_by_test_id("no-accounts")).to_have_text("No Stripe account is linked yet.")
    await expect(admin.get_by_test_id("payment-app-off")).to_have_count(0)
    await admin.get_by_label("Label").fill("Fjordklinikken main")
    await admin.get_by_role("button", name="Go to Stripe").click()

    await expect(admin.get_by_role("heading", name="Set up payments")).to_be_visible()
    assert "/connect/onboard/" in admin.url
    await admin.get_by_role("button", name="Complete onboarding").click()

    await admin.wait_for_url(re.compile(rf"/admin/clinics/{clinic_id}/client-payments#accounts$"))
    await expect(flash(admin)).to_contain_text("Back from Stripe.")
    account = admin.get_by_test_id("accounts").locator("tbody tr")
    await expect(account).to_have_count(1)
    await expect(account).to_have_attribute("data-status", "enabled")
    await expect(account.get_by_test_id("account-status")).to_contain_text("Linked and able to take payments")
    await expect(account.get_by_test_id("is-default")).to_be_visible()
    await expect(account.get_by_role("rowheader")).to_contain_text("Fjordklinikken main")
    await nav.get_by_role("link", name="Dashboard").click()
    await expect(admin.locator(f'tr[data-clinic-id="{clinic_id}"]')).to_contain_text("Ready to take payments")

    # An in-call payment on the new clinic: both panels, the hosted checkout, the clinician's popup.
    status, consult = await live.api("POST", "/api/v1/consults", consult_body(clinic_id, external_id="call-first"))
    assert status == 201, consult
    _, clinician = await session.panel(consult["clinician"]["join_url"])
    patient_ctx, patient = await session.panel(consult["patients"][0]["join_url"])
    await expect(clinician.locator("[data-role=blocked]")).to_have_count(0)
    await request_payment(clinician, "450", "Consultation")
    await expect(request_items(clinician)).to_have_count(1)
    request_id = await request_items(clinician).get_attribute("data-request-id")
    assert request_id
    await expect(request_item(patient, request_id)).to_contain_text("NOK 450.00")

    checkout = await open_checkout(patient_ctx, patient)
    await expect(checkout.get_by_role("heading", name="NOK 450.00")).to_be_visible()
    await fill_card(checkout, GOOD_CARD)
    received = clinician.get_by_role("alertdialog", name="Payment received")
    await expect(received).to_be_visible()
    await expect(received).to_contain_text("NOK 450.00")
    await received.get_by_role("button", name="OK").click()
    await expect(request_item(clinician, request_id)).to_have_attribute("data-status", "paid")

    # The cash desk: refund 100 of it, confirmed on the next page.
    await nav.get_by_role("link", name="Payments", exact=True).click()
    payment = admin.locator(f'tr[data-request-id="{request_id}"]')
    await expect(payment.get_by_test_id("status")).to_have_text("Paid")
    await payment.get_by_label(re.compile("^Amount to refund")).fill("100")
    await payment.get_by_role("button", name="Refund…").click()
    await expect(admin.get_by_role("heading", name="Confirm refund")).to_be_visible()
    await expect(admin.get_by_test_id("refund-amount")).to_have_text("NOK 100.00")
    await admin.get_by_role("button", name="Confirm refund").click()
    await expect(flash(admin)).to_contain_text("Refunded NOK 100.00 of “Consultation”.")
    await expect(payment.get_by_test_id("status")).to_have_text("Partially refunded")
    await expect(payment.get_by_test_id("refunded")).to_have_text("NOK 100.00")
    # The clinician's panel hears of it, live.
    await expect(request_item(clinician, request_id)).to_have_attribute("data-status", "partially_refunded")
    await expect(clinician.locator("[data-role=total-net]")).to_have_text("NOK 350.00")

    status, body = await live.api("GET", f"/api/v1/payment-requests/{request_id}")
    assert status == 200, body
    assert body["status"] == "partially_refunded" and body["refunded_amount"] == 10000, body
    assert await live.ledger_balanced()

    # Remove the account, through its confirmation page.
    await nav.get_by_role("link", name="Client payments").click()
    await account.get_by_role("link", name=re.compile("^Remove")).click()
    await expect(admin.get_by_role("heading", name="Remove the Stripe account")).to_be_visible()
    await expect(admin.get_by_test_id("open-requests")).to_have_count(0)
    await admin.get_by_role("button", name="Remove the account").click()
    await expect(flash(admin)).to_contain_text("The account was removed.")
    await expect(account).to_have_attribute("data-status", "removed")
    await expect(account.get_by_test_id("account-status")).to_contain_text("Removed")
    await expect(account.get_by_role("link", name=re.compile("^Remove"))).to_have_count(0)

    # The clinician can no longer ask for money on this clinic: refused now, and blocked after a reload.
    await request_payment(clinician, "200", "Follow-up")
    await expect(clinician.locator("[data-role=form-error]")).to_have_text(NO_ACCOUNT)
    await expect(request_items(clinician)).to_have_count(1)
    await clinician.reload()
    await expect_connected(clinician)
    await expect(clinician.locator("[data-role=blocked]")).to_have_text(NO_ACCOUNT)
    await expect(request_items(clinician)).to_have_count(1)

    # The audit trail, as the clinic admin sees it: the link, the request's refund, the removal.
    await nav.get_by_role("link", name="Audit trail").click()
    trail = admin.get_by_test_id("audit")
    created = trail.locator('tr[data-action="stripe_account.created"]')
    await expect(created).to_have_count(1)
    await expect(created).to_contain_text(CLINIC_ADMIN["name"])
    await expect(created).to_contain_text("Fjordklinikken main")
    # Pending -> enabled: seen once, by the return URL or by Stripe's webhook, whichever came first.
    ready = trail.locator('tr[data-action="stripe_account.status_changed"]')
    await expect(ready).to_have_count(1)
    # Each entry is a sentence: states, names and money in words, the codes only as data.
    await expect(ready).to_contain_text("from “Pending details” to “Linked and able to take payments”")
    refunded = trail.locator('tr[data-action="payment.refunded"]')
    await expect(refunded).to_have_count(1)
    await expect(refunded.locator(f'[data-subject="payment_request:{request_id}"]')).to_have_count(1)
    await expect(refunded).to_contain_text(CLINIC_ADMIN["name"])
    await expect(refunded).to_contain_text("refunded NOK\u00a0100.00 at the cash desk")
    await expect(refunded).to_contain_text("(NOK\u00a0100.00 refunded in all)")
    await expect(refunded).not_to_contain_text("10000")
    removed = trail.locator('tr[data-action="stripe_account.removed"]')
    await expect(removed).to_have_count(1)
    await expect(removed).to_contain_text(CLINIC_ADMIN["name"])
    for action in ("payment_app.approved", "user.invitation_accepted"):
        await expect(trail.locator(f'tr[data-action="{action}"]')).to_have_count(1)
    # Only this clinic's entries: nothing from the demo clinic.
    await expect(trail.locator("tbody tr").filter(has_not_text=CLINIC)).to_have_count(0)
    session.assert_no_page_errors()
