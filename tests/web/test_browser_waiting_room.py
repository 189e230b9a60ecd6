"""The waiting room in a real browser: the patient pays before joining, in Norwegian, on a phone;
the clinician's panel shows it live. axe runs on every page."""

from __future__ import annotations

import re

from playwright.async_api import expect

from tests.factories import Live
from tests.polling import eventually
from tests.web.test_browser import (  # noqa: F401 - the fixtures come with them
    GOOD_CARD,
    Session,
    browser,
    expect_connected,
    fill_card,
    pytestmark,
    session,
)

BEFORE_JOIN = {"kind": "before_join", "amount": 45000, "description": "Videokonsultasjon"}


async def test_patient_pays_in_the_waiting_room_and_the_clinician_sees_it(live: Live, session: Session) -> None:  # noqa: F811
    consult = await live.consult(language="nb", payment_policy=BEFORE_JOIN)
    _, clinician = await session.panel(consult["clinician"]["join_url"])
    gates = clinician.get_by_test_id("gates")
    await expect(gates).to_be_visible()
    await expect(gates.get_by_role("heading", name="Before the call")).to_be_visible()
    line = gates.locator('li[data-patient-id="p-1"]')
    gate_state = line.locator("[data-role=gate-state]")
    await expect(gate_state).to_have_text("Kari Nordmann: Waiting to pay NOK 450.00 before joining")
    await expect(line).to_have_text("Kari Nordmann: Waiting to pay NOK 450.00 before joining — Waiting")

    # The patient opens their link on a phone, in Norwegian: the waiting room comes first.
    phone = await session.context(viewport={"width": 360, "height": 740}, locale="nb-NO")
    patient = await phone.new_page()
    await patient.goto(consult["patients"][0]["join_url"])
    await expect_connected(patient)
    room = patient.get_by_test_id("waiting-room")
    await expect(room).to_be_visible()
    heading = room.get_by_role("heading", level=2)
    await expect(heading).to_contain_text("Før konsultasjonen med Dr. Nordmann:")
    await expect(heading).to_contain_text(re.compile(r"450,00"))
    await expect(heading).to_contain_text("Videokonsultasjon")
    await expect(room).to_contain_text("Behandleren slipper deg inn når det er betalt.")
    # Nothing else asks for payment: the request list and "no payment" card stay out of the way.
    await expect(patient.locator("[data-role=requests-section]")).to_be_hidden()
    await expect(patient.locator("[data-role=nothing-pending]")).to_be_hidden()
    overflow = await patient.evaluate("document.documentElement.scrollWidth > window.innerWidth")
    assert not overflow

    # Keyboard: Tab reaches the pay button, Enter opens the payment page in a new window.
    pay = room.get_by_role("button", name=re.compile(r"^Betal med kort"))
    await expect(pay).to_be_enabled()
    await pay.focus()
    async with phone.expect_page() as opened:
        await patient.keyboard.press("Enter")
    checkout = await opened.value
    await expect(checkout.get_by_label("Card number")).to_be_visible()
    await fill_card(checkout, GOOD_CARD)
    await checkout.wait_for_url(re.compile(r"/checkout/return\?"))

    # Paid: the patient is told, and the clinician sees it live, without reloading.
    done = patient.get_by_test_id("waiting-done")
    await expect(done).to_have_text("Betalt. Behandleren slipper deg inn.")
    await expect(room.get_by_role("button", name=re.compile(r"^Betal med kort"))).to_have_count(0)
    await expect(patient.get_by_test_id("confirmation")).to_be_visible()
    await expect(gate_state).to_have_text("Kari Nordmann: Paid before joining: NOK 450.00")
    await expect(line).to_have_attribute("data-gate-status", "paid")

    # The panel stayed connected while Stripe's tab took the payment: hearing its gate open, it tells the
    # server the patient is in the call (docs/rules.md, rule H4).
    async def joined() -> str | None:
        _, got = await live.api("GET", f"/api/v1/consults/{consult['id']}")
        return got["patients"][0]["joined_at"]  # type: ignore[no-any-return]

    assert await eventually(joined)
    await expect(line).to_have_text("Kari Nordmann: Paid before joining: NOK 450.00 — In the call")
    status, got = await live.api("GET", f"/api/v1/consults/{consult['id']}")
    assert status == 200 and got["patients"][0]["gate"]["status"] == "paid"
    assert await live.ledger_balanced()
    await session.check_accessibility()
    session.assert_no_page_errors()


async def test_demo_offers_the_waiting_room_and_the_card_hold(live: Live, session: Session) -> None:  # noqa: F811
    ctx = await session.context()
    page = await ctx.new_page()
    await page.goto(live.url + "/demo")
    await page.get_by_test_id("demo-hold").click()
    await expect(page.get_by_test_id("demo-policy")).to_contain_text("holds an amount")
    patient = page.frame_locator("iframe[title=\"Patient's panel\"]")
    room = patient.get_by_test_id("waiting-room")
    await expect(room.get_by_role("heading", level=2)).to_have_text(
        "Your clinic asks to hold up to NOK 800.00 on your card.")
    await expect(room).to_contain_text("You are charged only for the consultation, after it, at most this amount.")
    await expect(room.get_by_role("button", name="Authorise card: up to NOK 800.00")).to_be_enabled()
    clinician = page.frame_locator("iframe[title=\"Clinician's panel\"]")
    await expect(clinician.get_by_test_id("gates")).to_contain_text(
        "Waiting for the card to be authorised (up to NOK 800.00)")

    await page.get_by_test_id("demo-before-join").click()
    room = page.frame_locator("iframe[title=\"Patient's panel\"]").get_by_test_id("waiting-room")
    await expect(room.get_by_role("heading", level=2)).to_contain_text("Before your consultation with Dr. Kari Lege")
    await session.check_accessibility()
    session.assert_no_page_errors()


async def test_demo_offers_a_card_on_file_saved_on_the_sandbox(live: Live, session: Session) -> None:  # noqa: F811
    # A newcomer picks the card on file from the demo's choices and saves a test card in the sandbox's
    # Checkout (setup mode: nothing charged); both panels say so.
    ctx = await session.context()
    page = await ctx.new_page()
    await page.goto(live.url + "/demo")
    await page.get_by_test_id("demo-card-on-file").click()
    await expect(page.get_by_test_id("demo-policy")).to_contain_text("saves a card")
    patient = page.frame_locator("iframe[title=\"Patient's panel\"]")
    room = patient.get_by_test_id("waiting-room")
    await expect(room.get_by_role("heading", level=2)).to_have_text(
        "Save your card for your consultation with Dr. Kari Lege: Consultation")
    await expect(room).to_contain_text("Nothing is charged now.")
    await expect(room).to_contain_text("NOK 600.00")
    clinician = page.frame_locator("iframe[title=\"Clinician's panel\"]")
    line = clinician.get_by_test_id("gates").locator("li")
    await expect(line).to_contain_text("Waiting for the card to be saved")

    async with ctx.expect_page() as opened:
        await room.get_by_role("button", name="Save your card for Consultation").click()
    checkout = await opened.value
    await expect(checkout.get_by_role("heading", name="Save your card")).to_be_visible()
    await checkout.get_by_label("Email").fill("kari@example.no")
    await checkout.get_by_label("Card number").fill(GOOD_CARD)
    await checkout.get_by_label("Expiry (MM/YY)").fill("12/34")
    await checkout.get_by_label("CVC").fill("123")
    await checkout.get_by_role("button", name="Save card").click()
    await checkout.wait_for_url(re.compile(r"/checkout/return\?"))
    await checkout.close()

    await expect(patient.get_by_test_id("waiting-done")).to_contain_text("Card saved.")
    await expect(line).to_contain_text("Card saved")
    await expect(line).to_have_attribute("data-gate-status", "card_saved")
    await session.check_accessibility()
    session.assert_no_page_errors()
