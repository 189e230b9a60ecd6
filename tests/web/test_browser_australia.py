"""An Australian clinic end to end, in Chromium with en-AU browsers, and the patient's language switch.

The organisation admin creates an AUD clinic, enables its payment app and links a Stripe account
(opened in Australia); a consult in AUD is requested and paid in the panels, which show Australian
dollars as Australians write them; every ledger leg of the clinic is in AUD.
"""

from __future__ import annotations

import re

from sqlalchemy import select

from app.models import LedgerLeg, LedgerTransaction, StripeAccount
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
from tests.web.test_browser_admin import flash

CLINIC = "Harbour Clinic"


async def test_australian_clinic_is_paid_in_aud(live: Live, session: Session) -> None:  # noqa: F811
    ctx = await session.context(locale="en-AU", timezone_id="Australia/Sydney")
    org = await ctx.new_page()
    await org.goto(live.url + "/admin/sign-in")
    await expect(org.locator("html")).to_have_attribute("lang", "en-AU")
    await org.get_by_label("E-mail").fill(live.demo["admin"]["email"])
    await org.get_by_label("Password", exact=True).fill(live.demo["admin"]["password"])
    await org.get_by_role("button", name="Sign in").click()
    await expect(org.get_by_role("heading", name="Dashboard", exact=True)).to_be_visible()

    # A new clinic in Australian dollars.
    await org.get_by_role("link", name="New clinic").click()
    await org.get_by_label("Name").fill(CLINIC)
    currency = org.get_by_label("Currency")
    await expect(currency.locator('option[value="AUD"]')).to_have_text("AUD — Australia")
    await currency.select_option("AUD")
    await org.get_by_role("button", name="Create the clinic").click()
    await expect(flash(org)).to_contain_text(f"The clinic {CLINIC} was created.")
    row = org.locator("tr[data-clinic-id]", has=org.get_by_role("rowheader", name=CLINIC))
    clinic_id = await row.get_attribute("data-clinic-id")
    assert clinic_id
    await row.get_by_role("button", name="Enable the payment app").click()
    await expect(flash(org)).to_contain_text(f"The payment app is enabled for {CLINIC}.")

    # Its Stripe account, through the sandbox's onboarding.
    await org.goto(live.url + f"/admin/clinics/{clinic_id}/client-payments")
    await org.get_by_label("Label").fill("Harbour main")
    await org.get_by_role("button", name="Go to Stripe").click()
    await expect(org.get_by_role("heading", name="Set up payments")).to_be_visible()
    await org.get_by_role("button", name="Complete onboarding").click()
    await org.wait_for_url(re.compile(rf"/admin/clinics/{clinic_id}/client-payments#accounts$"))
    account = org.get_by_test_id("accounts").locator("tbody tr")
    await expect(account).to_have_attribute("data-status", "enabled")
    stripe_id = await live.scalar(select(StripeAccount.stripe_account_id).where(StripeAccount.clinic_id == clinic_id))
    headers = {"Authorization": f"Bearer {live.settings.stripe_key}"}
    assert live.http
    async with live.http.get(f"{live.sandbox}/v1/accounts/{stripe_id}", headers=headers) as resp:
        opened = await resp.json()
    assert opened["country"] == "AU" and opened["default_currency"] == "aud"

    # A consult in AUD, both people in Australian browsers.
    status, consult = await live.api(
        "POST", "/api/v1/consults", consult_body(clinic_id, currency="AUD", language="en", external_id="call-au")
    )
    assert status == 201, consult
    _, clinician = await session.panel(consult["clinician"]["join_url"], locale="en-AU")
    patient_ctx, patient = await session.panel(consult["patients"][0]["join_url"], locale="en-AU")
    await expect(clinician.locator("html")).to_have_attribute("lang", "en-AU")
    await request_payment(clinician, "0.49", "Consultation")
    await expect(clinician.locator("[data-role=form-error]")).to_have_text("Stripe's smallest payment in AUD is $0.50.")
    await request_payment(clinician, "120", "Consultation")
    await expect(request_items(clinician)).to_have_count(1)
    request_id = await request_items(clinician).get_attribute("data-request-id")
    assert request_id
    await expect(request_item(clinician, request_id).locator("[data-role=amount]")).to_have_text("$120.00")
    await expect(request_item(patient, request_id)).to_contain_text("$120.00")

    checkout = await open_checkout(patient_ctx, patient)
    await expect(checkout.get_by_role("heading", name="AUD 120.00")).to_be_visible()
    await fill_card(checkout, GOOD_CARD)
    await checkout.wait_for_url(re.compile(r"/checkout/return\?"))
    await expect(checkout.locator("[data-outcome]")).to_have_attribute("data-outcome", "paid")
    dialog = clinician.get_by_role("alertdialog", name="Payment received")
    await expect(dialog).to_contain_text("$120.00")
    await expect(clinician.locator("[data-role=total-paid]")).to_have_text("$120.00")
    await expect(patient.get_by_test_id("confirmation")).to_contain_text("$120.00")

    # The ledger: the clinic's legs are all Australian dollars, and they balance.
    legs = await live.rows(
        select(LedgerLeg.currency, LedgerLeg.amount)
        .join(LedgerTransaction, LedgerTransaction.id == LedgerLeg.transaction_id)
        .where(LedgerTransaction.clinic_id == clinic_id)
    )
    assert legs and {currency for currency, _ in legs} == {"AUD"}
    assert sum(amount for _, amount in legs) == 0
    assert 12000 in {amount for _, amount in legs}
    assert await live.ledger_balanced()
    session.assert_no_page_errors()


async def test_patient_switches_language_and_it_stays(live: Live, session: Session) -> None:  # noqa: F811
    consult = await live.consult(language="nb")
    patient_ctx, patient = await session.panel(consult["patients"][0]["join_url"], locale="en-AU")
    # Defaults to the browser's language, not the consult's.
    await expect(patient.get_by_role("heading", name="No payment is requested right now.")).to_be_visible()
    switch = patient.get_by_role("navigation", name="Language")
    await expect(switch.get_by_role("link", name="English")).to_have_attribute("aria-current", "true")

    await switch.get_by_role("link", name="Svenska").click()
    await expect_connected(patient)
    await expect(patient.locator("html")).to_have_attribute("lang", "sv")
    await expect(patient.get_by_role("heading", name="Ingen betalning har begärts just nu.")).to_be_visible()

    # A reload, and the plain join link opened again, keep the choice.
    await patient.reload()
    await expect_connected(patient)
    await expect(patient.locator("html")).to_have_attribute("lang", "sv")
    again = await patient_ctx.new_page()
    await again.goto(consult["patients"][0]["join_url"])
    await expect(again.locator("html")).to_have_attribute("lang", "sv")
    await expect_connected(again)
    # The server's answers to this socket follow the choice too.
    answer = await again.evaluate("""() => new Promise((resolve) => {
        const config = JSON.parse(document.getElementById("config").textContent);
        const auth = {token: config.token, lang: config.lang};
        const s = window.io("/consult", {auth: auth, transports: ["websocket"]});
        const request = {amount: 100, description: "x"};
        s.on("connect", () => s.emit("payment:request", request, (ack) => { s.close(); resolve(ack); }));
    })""")
    assert answer["ok"] is False and answer["error"]["message"] == "Bara vårdgivaren kan göra det.", answer
    session.assert_no_page_errors()
