"""The patient's choice in Chromium: *Pay with Vipps* beside *Pay now by card*, a push to the phone
and a QR code with a number field; the phone's answer over HTTP; axe on every page."""

from __future__ import annotations

from sqlalchemy import select

from app.models import Payment
from tests.factories import PATIENT, Live
from tests.vipps_app.support import phone_answer, take_vipps
from tests.web.test_browser import (  # noqa: F401 - the fixtures come with them
    Session,
    browser,
    expect,
    pytestmark,
    request_item,
    request_items,
    request_payment,
    session,
)


async def _requested(session: Session, live: Live, **consult_over: object):  # type: ignore[no-untyped-def]  # noqa: F811
    await take_vipps(live)
    consult = await live.consult(language="en", **consult_over)
    _, clinician = await session.panel(consult["clinician"]["join_url"])
    _, patient = await session.panel(consult["patients"][0]["join_url"])
    await request_payment(clinician, "450", "Consultation")
    item = request_items(clinician)
    await expect(item).to_have_count(1)
    request_id = await item.get_attribute("data-request-id")
    assert request_id
    return clinician, patient, request_id


async def test_the_patient_pays_with_vipps_on_their_phone(live: Live, session: Session) -> None:  # noqa: F811
    clinician, patient, request_id = await _requested(session, live)
    on_patient = request_item(patient, request_id)
    await expect(on_patient.get_by_role("button", name="Pay now by card: NOK 450.00 — Consultation")).to_be_visible()
    await on_patient.get_by_role("button", name="Pay with Vipps: NOK 450.00 — Consultation").click()

    await expect(on_patient).to_contain_text("The payment is waiting in Vipps on your phone.")
    on_clinician = request_item(clinician, request_id)
    await expect(on_clinician.locator("[data-role=status]")).to_have_text("Waiting in Vipps")

    await phone_answer(live, "approve")
    await expect(patient.get_by_role("heading", name="Thank you! Your payment has been received.")).to_be_visible()
    await expect(clinician.get_by_role("alertdialog", name="Payment received")).to_be_visible()
    await expect(on_clinician).to_have_attribute("data-status", "paid")
    assert await live.rows(select(Payment.method, Payment.amount)) == [("vipps", 45000)]
    await session.check_accessibility()
    session.assert_no_page_errors()


async def test_no_number_known_shows_a_qr_code_and_a_number_field(live: Live, session: Session) -> None:  # noqa: F811
    without_phone = {k: v for k, v in PATIENT.items() if k != "mobile"}
    clinician, patient, request_id = await _requested(session, live, patients=[without_phone])
    on_patient = request_item(patient, request_id)
    await on_patient.get_by_role("button", name="Pay with Vipps: NOK 450.00 — Consultation").click()

    qr = on_patient.get_by_role("img", name="QR code for paying with Vipps")
    await expect(qr).to_be_visible()
    await expect(on_patient).to_contain_text("Scan the QR code with your phone's camera to pay in Vipps.")
    await session.check_accessibility()

    # No code reader at hand: the patient types their number and gets a push instead.
    await on_patient.get_by_label("Mobile number for Vipps").fill("912 34 567")
    await on_patient.get_by_role("button", name="Send to my phone").click()
    await expect(qr).to_be_hidden()
    await expect(on_patient).to_contain_text("The payment is waiting in Vipps on your phone.")
    await phone_answer(live, "approve")
    await expect(patient.get_by_role("heading", name="Thank you! Your payment has been received.")).to_be_visible()
    await expect(request_item(clinician, request_id)).to_have_attribute("data-status", "paid")
    session.assert_no_page_errors()
