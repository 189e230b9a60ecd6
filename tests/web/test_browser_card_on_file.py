"""A card on file in a real browser: the patient saves a card in the waiting room, in Norwegian, on the
sandbox's Checkout page in setup mode; the clinician's panel shows it saved, then charged, and the
clinician charges a saved card from the panel (a decline said in words)."""

from __future__ import annotations

import re

from playwright.async_api import expect
from sqlalchemy import select

from app.models import Payment, PaymentRequest
from tests.cards_on_file.support import NEEDS_AUTHENTICATION, saved_card
from tests.factories import Live
from tests.web.test_browser import (  # noqa: F401 - the fixtures come with them
    GOOD_CARD,
    Session,
    browser,
    expect_connected,
    pytestmark,
    request_item,
    session,
)

CARD_ON_FILE = {"kind": "card_on_file", "amount": 60000, "description": "Videokonsultasjon"}


async def test_patient_saves_a_card_and_the_clinic_charges_it_after(live: Live, session: Session) -> None:  # noqa: F811
    consult = await live.consult(language="nb", payment_policy=CARD_ON_FILE)
    request_id = consult["patients"][0]["gate"]["request_id"]
    _, clinician = await session.panel(consult["clinician"]["join_url"])
    line = clinician.get_by_test_id("gates").locator('li[data-patient-id="p-1"]')
    gate_state = line.locator("[data-role=gate-state]")
    await expect(line.locator("[data-role=presence]")).to_have_text("Waiting")
    await expect(gate_state).to_have_text("Kari Nordmann: Waiting for the card to be saved")

    phone = await session.context(viewport={"width": 360, "height": 740}, locale="nb-NO")
    patient = await phone.new_page()
    await patient.goto(consult["patients"][0]["join_url"])
    await expect_connected(patient)
    room = patient.get_by_test_id("waiting-room")
    await expect(room.get_by_role("heading", level=2)).to_contain_text(
        "Lagre kortet ditt for konsultasjonen med Dr. Nordmann: Videokonsultasjon")
    await expect(room).to_contain_text("Ingenting trekkes nå.")
    await expect(room).to_contain_text(re.compile(r"600,00"))

    # Keyboard: the save button opens Checkout in setup mode, which charges nothing.
    save = room.get_by_role("button", name="Lagre kortet ditt for Videokonsultasjon")
    await expect(save).to_have_text("Lagre kortet ditt")
    await save.focus()
    async with phone.expect_page() as opened:
        await patient.keyboard.press("Enter")
    checkout = await opened.value
    await expect(checkout.get_by_role("heading", name="Save your card")).to_be_visible()
    await expect(checkout.get_by_text("Nothing is charged now.")).to_be_visible()
    await checkout.get_by_label("Email").fill("kari@example.no")
    await checkout.get_by_label("Card number").fill(GOOD_CARD)
    await checkout.get_by_label("Expiry (MM/YY)").fill("12/34")
    await checkout.get_by_label("CVC").fill("123")
    await checkout.get_by_role("button", name="Save card").click()
    await checkout.wait_for_url(re.compile(r"/checkout/return\?"))
    await expect(checkout.locator("[data-outcome=card_saved]")).to_be_visible()

    # Saved: the patient is told in Norwegian, the clinician sees it live; nothing is paid yet.
    await expect(patient.get_by_test_id("waiting-done")).to_have_text(
        "Kortet er lagret. Behandleren din slipper deg inn. Ingenting er trukket; klinikken trekker betalingen "
        "for konsultasjonen fra kortet etterpå.")
    await expect(gate_state).to_have_text("Kari Nordmann: Card saved")
    await expect(line).to_have_attribute("data-gate-status", "card_saved")
    assert await live.rows(select(Payment.id)) == []

    # After the call the host charges the final amount; the clinician's line says so.
    status, body = await live.api("POST", f"/api/v1/payment-requests/{request_id}/charge", {"amount": 52000})
    assert status == 200 and body["status"] == "paid", body
    await expect(gate_state).to_have_text("Kari Nordmann: Saved card charged: NOK 520.00")
    row = await live.scalar(select(PaymentRequest).where(PaymentRequest.id == request_id))
    assert (row.status, row.amount) == ("paid", 52000)
    assert await live.rows(select(Payment.amount).where(Payment.payment_request_id == request_id)) == [(52000,)]
    assert await live.ledger_balanced()
    await session.check_accessibility()
    session.assert_no_page_errors()


async def test_clinician_charges_the_saved_card_from_the_panel(live: Live, session: Session) -> None:  # noqa: F811
    consult, _, _, saved = await saved_card(live)
    _, clinician = await session.panel(consult["clinician"]["join_url"])
    item = request_item(clinician, saved.id)
    await expect(item).to_have_attribute("data-status", "card_saved")
    await expect(item.locator("[data-role=status]")).to_have_text("Card saved")
    charge = item.get_by_role("button", name="Charge the saved card: Consultation")
    await expect(charge).to_have_text("Charge…")
    await charge.focus()
    await clinician.keyboard.press("Enter")
    dialog = clinician.get_by_role("dialog", name="Charge the saved card")
    await expect(dialog).to_be_visible()
    await expect(dialog).to_contain_text("card saved; NOK 600.00 was expected.")
    amount = dialog.get_by_label("How much to charge")
    await expect(amount).to_be_focused()
    # More than expected is allowed (the clinic's maximum is the server's to check).
    await amount.fill("650")
    await clinician.keyboard.press("Enter")
    await expect(dialog).to_be_hidden()
    await expect(item).to_have_attribute("data-status", "paid")
    await expect(item.locator("[data-role=amount]")).to_have_text("NOK 650.00")
    await expect(item.locator("[data-role=receipt]")).to_be_visible()
    await expect(charge).to_be_hidden()
    assert await live.rows(select(Payment.amount).where(Payment.payment_request_id == saved.id)) == [(65000,)]

    # A card the bank declines off-session: the clinician reads why, and nothing is charged.
    other, _, _, declined = await saved_card(live, NEEDS_AUTHENTICATION)
    _, panel = await session.panel(other["clinician"]["join_url"])
    line = request_item(panel, declined.id)
    await line.get_by_role("button", name="Charge the saved card: Consultation").click()
    dialog = panel.get_by_role("dialog", name="Charge the saved card")
    await dialog.get_by_label("How much to charge").fill("450")
    await dialog.get_by_role("button", name="Charge the card").click()
    await expect(dialog.locator("[data-role=capture-error]")).to_contain_text("authentication")
    await expect(line.locator("[data-role=problem]")).to_contain_text("stays owed on the bill card")
    assert await live.rows(select(Payment.id).where(Payment.payment_request_id == declined.id)) == []
    assert await live.ledger_balanced()
    session.assert_no_page_errors()
