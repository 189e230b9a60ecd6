"""Who is in the call, on the clinician's panel in Chromium: a patient who pays in the waiting room is
shown waiting, then in the call, live and said to screen readers, in Norwegian; a reload keeps it."""

from __future__ import annotations

import re

from playwright.async_api import expect

from tests.factories import Live
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


async def test_the_clinician_sees_the_patient_wait_then_join(live: Live, session: Session) -> None:  # noqa: F811
    consult = await live.consult(payment_policy=BEFORE_JOIN)
    _, clinician = await session.panel(consult["clinician"]["join_url"], locale="nb-NO")
    line = clinician.get_by_test_id("gates").locator('li[data-patient-id="p-1"]')
    presence = line.locator("[data-role=presence]")
    await expect(presence).to_have_text("Venter")
    await expect(presence).to_have_attribute("data-presence", "waiting")

    # The patient pays in the waiting room; Stripe's tab takes the card while the panel stays connected.
    patient_ctx, patient = await session.panel(consult["patients"][0]["join_url"])
    room = patient.get_by_test_id("waiting-room")
    async with patient_ctx.expect_page() as opened:
        await room.get_by_role("button", name=re.compile(r"^Pay by card")).click()
    checkout = await opened.value
    await fill_card(checkout, GOOD_CARD)
    await checkout.wait_for_url(re.compile(r"/checkout/return\?"))

    # Let in: the clinician's line says so without a reload, and a screen reader hears it, politely.
    await expect(presence).to_have_text("I samtalen")
    await expect(presence).to_have_attribute("data-presence", "joined")
    await expect(line).to_contain_text("Kari Nordmann")
    await expect(clinician.locator("#live-status")).to_have_text("Kari Nordmann er i samtalen.")
    await expect(clinician.locator("#live-status")).to_have_attribute("aria-live", "polite")
    _, got = await live.api("GET", f"/api/v1/consults/{consult['id']}")
    assert got["patients"][0]["joined_at"]

    # A reload (consult:state and the page) still shows who is in the call.
    await clinician.reload()
    await expect_connected(clinician)
    await expect(presence).to_have_text("I samtalen")
    await session.check_accessibility()
    session.assert_no_page_errors()
