"""The admin in Chromium, as a clinic in Sydney reads it: its time zone set on the clinic's settings page,
every time on a card in Sydney time, statuses in words, and a report downloaded for a spreadsheet."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from playwright.async_api import Page

from tests.admin.cards_helpers import move, new_card
from tests.factories import Live
from tests.web.test_browser import Session, browser, expect, pytestmark, session  # noqa: F401
from tests.web.test_browser_admin import flash, sign_in


async def test_sydney_clinic_times_words_and_a_spreadsheet(live: Live, session: Session,  # noqa: F811
                                                          tmp_path: Path) -> None:
    card = await new_card(live, "Sigrid Vik", 45000)
    await move(live, card["id"], "not_exported", "not exported: missing_address")
    ctx = await session.context()
    page: Page = await sign_in(ctx, live, live.demo["admin"]["email"], live.demo["admin"]["password"])

    await page.get_by_test_id("clinic-settings-link").first.click()
    await expect(page.get_by_role("heading", name="Clinic settings", exact=False)).to_be_visible()
    await page.get_by_label("Time zone").select_option("Australia/Sydney")
    await page.get_by_role("button", name="Save", exact=True).click()
    await expect(flash(page)).to_contain_text("is now Australia/Sydney.")

    nav = page.get_by_role("navigation", name="Main")
    await nav.get_by_role("link", name="Cash desk").click()
    status = page.get_by_test_id("cards").get_by_test_id("card-status")
    # "Invoice generated" ("Faktura generert") is shared by three statuses: this one says which
    # it is, and no code is shown; the English page shows the English label.
    await expect(status).to_contain_text("Invoice generated")
    await expect(status).not_to_contain_text("Faktura generert")
    await expect(status).to_contain_text("Cannot be exported until corrected")
    await expect(status).not_to_contain_text("not_exported")
    await page.get_by_test_id("cards").get_by_role("link", name="Sigrid Vik").click()
    created = format_datetime(datetime.fromisoformat(card["created_at"]), "short", tzinfo=ZoneInfo("Australia/Sydney"),
                              locale="en_GB")
    await expect(page.get_by_test_id("card-details")).to_contain_text(created)
    await expect(page.get_by_test_id("history")).to_contain_text("Not exported: the patient's address is missing")

    await nav.get_by_role("link", name="Reports").click()
    async with page.expect_download() as info:
        await page.get_by_role("link", name="Spreadsheet (CSV)").click()
    saved = tmp_path / "settlement.csv"
    await (await info.value).save_as(saved)
    data = saved.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0]["Patient share"] == "450.00" and rows[0]["Patient"] == "Sigrid Vik"
