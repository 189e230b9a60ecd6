"""The clinician's panel in a real browser when the server is busy: it says so, waits and sends again."""

from __future__ import annotations

import asyncio

import pytest
from playwright.async_api import expect

from app.realtime.overload import LOAD_GATE
from tests.factories import Live
from tests.web.test_browser import Session, browser, request_items, request_payment, session  # noqa: F401

pytestmark = pytest.mark.browser


async def test_a_busy_server_is_retried_with_back_off_and_the_panel_says_so(
        live: Live, session: Session) -> None:  # noqa: F811
    consult = await live.consult(language="en")
    _, clinician = await session.panel(consult["clinician"]["join_url"])
    badge = clinician.locator("[data-role=connection]")
    await expect(badge).to_have_attribute("data-state", "connected")

    gate = live.app[LOAD_GATE]
    held = [gate.working() for _ in range(gate.max_in_flight)]
    for hold in held:
        hold.__enter__()
    try:
        await request_payment(clinician, "450", "Consultation")
        # Refused as busy: nothing stored, and the panel says it will try again (in the consult's language).
        await expect(badge).to_have_attribute("data-state", "busy")
        await expect(clinician.locator("[data-role=connection-text]")).to_contain_text(
            "The service is busy. Trying again in")
        await asyncio.sleep(0.3)
        await expect(request_items(clinician)).to_have_count(0)
        assert gate.refused >= 1
    finally:
        for hold in held:
            hold.__exit__(None, None, None)
    # The load gone, the panel's next try goes through by itself.
    await expect(request_items(clinician)).to_have_count(1, timeout=15_000)
    await expect(badge).to_have_attribute("data-state", "connected")
    session.assert_no_page_errors()
