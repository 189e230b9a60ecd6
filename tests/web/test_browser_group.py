"""A group consult in the browser: the clinician asks all patients at once, on a phone; each patient's
panel shows their own request; one pays, and the clinician's list shows who paid and who it waits for."""

from __future__ import annotations

from sqlalchemy import select

from app.models import PaymentRequest
from tests.factories import PATIENT, Live
from tests.web.test_browser import (  # noqa: F401 - the fixtures come with them
    GOOD_CARD,
    Session,
    browser,
    expect,
    expect_connected,
    fill_card,
    open_checkout,
    pytestmark,
    request_items,
    session,
)

PER = {**PATIENT, "id": "p-2", "name": "Per Hansen", "email": "per@example.no"}
PHONE = {"width": 390, "height": 844}


async def test_request_from_all_patients_and_see_each_ones_state(live: Live, session: Session) -> None:  # noqa: F811
    consult = await live.consult(language="en", patients=[dict(PATIENT), PER])
    phone = await session.context(viewport=PHONE)
    clinician = await phone.new_page()
    await clinician.goto(consult["clinician"]["join_url"])
    await expect_connected(clinician)
    _, kari = await session.panel(consult["patients"][0]["join_url"])
    per_ctx, per = await session.panel(consult["patients"][1]["join_url"])

    choice = clinician.get_by_role("group", name="Patients")
    everyone = choice.get_by_label("All patients (2)")
    kari_box = choice.get_by_label("Kari Nordmann")
    per_box = choice.get_by_label("Per Hansen")
    await clinician.get_by_label("Amount").fill("450")
    await clinician.get_by_label("Description").fill("Group session")

    # Nobody ticked: the choice says so and takes the focus.
    await clinician.get_by_role("button", name="Request payment").click()
    await expect(clinician.locator("#patient-error")).to_have_text("Choose at least one patient.")
    await expect(everyone).to_be_focused()
    await expect(everyone).to_have_attribute("aria-invalid", "true")

    # By keyboard: Space on "All patients" ticks both; the preview says how many and the total.
    await clinician.keyboard.press("Space")
    await expect(kari_box).to_be_checked()
    await expect(per_box).to_be_checked()
    await expect(everyone).not_to_have_attribute("aria-invalid", "true")
    preview = clinician.locator("[data-role=preview-group]")
    await expect(preview).to_have_text("2 patients, NOK 900.00 in total")
    # One unticked: "All patients" is mixed, the preview names the one left; ticked again, all.
    await per_box.uncheck()
    assert await everyone.evaluate("box => box.indeterminate") is True
    await expect(preview).to_have_text("For Kari Nordmann")
    await per_box.check()
    await expect(everyone).to_be_checked()

    await clinician.get_by_role("button", name="Request payment").click()
    dialog = clinician.get_by_role("dialog", name="Send to 2 patients?")
    await expect(dialog).to_be_visible()
    await expect(dialog).to_contain_text("Kari Nordmann, Per Hansen")
    await expect(dialog).to_contain_text("NOK 450.00")
    await expect(dialog).to_contain_text("NOK 900.00")
    await dialog.get_by_role("button", name="Send 2 requests").click()
    await expect(dialog).to_be_hidden()

    # The clinician's list: one group per patient, named, each waiting for their own payment.
    kari_group = clinician.locator('[data-patient-group="p-1"]')
    per_group = clinician.locator('[data-patient-group="p-2"]')
    for group, name in ((kari_group, "Kari Nordmann"), (per_group, "Per Hansen")):
        await expect(group.get_by_role("heading", name=name)).to_be_visible()
        await expect(group).to_have_attribute("data-state", "waiting")
        await expect(group.locator("[data-role=patient-state]")).to_have_text("Waiting for payment: NOK 450.00")
        await expect(group.locator("[data-request-id]")).to_have_count(1)

    # Each patient's panel shows their own request, and only that one.
    stored = dict(await live.rows(select(PaymentRequest.patient_id, PaymentRequest.id)))
    assert set(stored) == {"p-1", "p-2"}
    for page, patient_id in ((kari, "p-1"), (per, "p-2")):
        await expect(request_items(page)).to_have_count(1)
        await expect(request_items(page)).to_have_attribute("data-request-id", stored[patient_id])
        await expect(request_items(page)).to_contain_text("NOK 450.00")
        await expect(request_items(page)).to_contain_text("Group session")

    # Per pays; the clinician sees Per paid and Kari still waiting.
    checkout = await open_checkout(per_ctx, per)
    await fill_card(checkout, GOOD_CARD)
    await checkout.wait_for_url("**/checkout/return?**")
    received = clinician.get_by_role("alertdialog", name="Payment received")
    await expect(received).to_be_visible()
    await expect(received).to_contain_text("Per Hansen")
    await received.get_by_role("button", name="OK").click()
    await expect(per_group).to_have_attribute("data-state", "settled")
    await expect(per_group.locator("[data-role=patient-state]")).to_have_text("Paid: NOK 450.00")
    await expect(kari_group).to_have_attribute("data-state", "waiting")
    await expect(kari_group.locator("[data-role=patient-state]")).to_have_text("Waiting for payment: NOK 450.00")
    await expect(clinician.locator("[data-role=total-paid]")).to_have_text("NOK 450.00")
    await expect(request_items(kari)).to_have_attribute("data-status", "requested")

    assert dict(await live.rows(select(PaymentRequest.patient_id, PaymentRequest.status))) == {
        "p-1": "requested", "p-2": "paid"}
    assert await live.ledger_balanced()
    # On the phone nothing runs off the side of the screen.
    assert await clinician.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    await session.check_accessibility()
    session.assert_no_page_errors()
