"""Exports people open: CSV in the reader's locale and XLSX with real numbers, from the admin's report pages."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import load_workbook

from app.keys import CLOCK
from tests.admin.cards_helpers import exported, new_card, settled_by_medipay
from tests.admin.factories import make_user, signed_in
from tests.consults.test_refunds import paid_request
from tests.factories import Live

SETTLEMENT = "/admin/reports/settlement"
EARNINGS = "/admin/reports/medipay-earnings"


async def ledger_of_cards(live: Live) -> dict[str, Any]:
    """Five cards along every path: two settled through MediPay (vipps, card), one exported and waiting,
    one paid in the call through Stripe, one never exported."""
    now = live.app[CLOCK].now()
    a = await new_card(live, "Anne Solberg", 45000, 20000)
    b = await new_card(live, "Bjørn Dahl", 30000)
    c = await new_card(live, "Cecilie Moe", 10000, admin_fee=False)
    e = await new_card(live, "Erik Lie", 20000, 5000)
    for card in (a, b, c):
        await exported(live, card["id"], now)
    await settled_by_medipay(live, a["id"], "vipps", 48900, now)
    await settled_by_medipay(live, b["id"], "card", 33900, now)
    request, _, _ = await paid_request(live)
    status, pr = await live.api("GET", f"/api/v1/payment-requests/{request['id']}")
    assert status == 200
    return {"a": a["id"], "b": b["id"], "c": c["id"], "d": pr["bill_card_id"], "e": e["id"], "now": now}


async def download(browser, path: str) -> tuple[int, dict[str, str], bytes]:
    async with browser.http.get(browser.base + path) as resp:
        return resp.status, dict(resp.headers), await resp.read()


def link(html: str, testid: str) -> str:
    found = re.search(rf'href="([^"]+)"[^>]*data-testid="{testid}"', html)
    assert found, testid
    return found.group(1).replace("&amp;", "&")


async def test_settlement_csv_opens_in_a_norwegian_spreadsheet(live: Live) -> None:
    ids = await ledger_of_cards(live)
    admin = await make_user(live, "organisation_admin")
    async with await signed_in(live, admin, lang="nb") as browser:
        page = await browser.get(SETTLEMENT + "?exported=true")
        status, headers, body = await download(browser, link(page.text, "csv-local-link"))
    assert status == 200 and headers["Content-Type"].startswith("text/csv")
    assert body.startswith(b"\xef\xbb\xbf")  # a byte-order mark: Excel then reads UTF-8
    text = body.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    header = rows[0]
    assert "Egenandel" in header and "Opprettet" in header and "card_id" not in header
    by_id = {row[header.index("Kort-ID")]: dict(zip(header, row, strict=True)) for row in rows[1:]}
    assert set(by_id) == {ids["a"], ids["b"], ids["c"]}
    assert by_id[ids["a"]]["Egenandel"] == "450,00"  # kroner with a decimal comma, not 45000 øre
    assert by_id[ids["a"]]["Status"] == "Bankkortnota generert. Innbetalinger registrert"
    created = by_id[ids["a"]]["Opprettet"]
    local = ids["now"].astimezone(ZoneInfo("Europe/Oslo"))
    assert created == local.strftime("%d.%m.%Y %H:%M")


async def test_settlement_csv_in_english_and_the_raw_csv_kept(live: Live) -> None:
    ids = await ledger_of_cards(live)
    admin = await make_user(live, "organisation_admin")
    async with await signed_in(live, admin, lang="en") as browser:
        page = await browser.get(SETTLEMENT)
        status, _, body = await download(browser, link(page.text, "csv-local-link"))
        assert status == 200
        rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
        assert {r["Card id"]: r["Patient share"] for r in rows}[ids["a"]] == "450.00"
        # The machine CSV (minor units, UTC, codes) stays for accounting systems.
        raw = await browser.get(link(page.text, "csv-link"))
        assert raw.text.splitlines()[0].startswith("card_id,created_at")


async def test_xlsx_has_numbers_and_formats(live: Live) -> None:
    ids = await ledger_of_cards(live)
    admin = await make_user(live, "organisation_admin")
    async with await signed_in(live, admin, lang="nb") as browser:
        page = await browser.get(SETTLEMENT)
        status, headers, body = await download(browser, link(page.text, "xlsx-link"))
        assert status == 200 and "spreadsheetml" in headers["Content-Type"]
        sheet = load_workbook(io.BytesIO(body)).active
        header = [c.value for c in sheet[1]]
        rows = {r[header.index("Kort-ID")].value: r for r in sheet.iter_rows(min_row=2)}
        share = rows[ids["a"]][header.index("Egenandel")]
        assert isinstance(share.value, int | float | Decimal) and Decimal(str(share.value)) == Decimal("450")
        assert "0.00" in share.number_format
        created = rows[ids["a"]][header.index("Opprettet")]
        assert isinstance(created.value, datetime) and created.is_date

        earnings = await browser.get(EARNINGS + "?price_per_card=3,50&price_percent=2,55")
        status, _, body = await download(browser, link(earnings.text, "xlsx-link"))
        sheet = load_workbook(io.BytesIO(body)).active
        values = {r[0].value: r[1] for r in sheet.iter_rows(min_row=2)}
        assert Decimal(str(values["Netto"].value)) == Decimal("799.89")
        status, _, body = await download(browser, link(earnings.text, "csv-local-link"))
        lines = body.decode("utf-8-sig").splitlines()
        assert "Netto;799,89" in lines


async def test_a_name_that_looks_like_a_formula_stays_text(live: Live) -> None:
    card = await new_card(live, "=HYPERLINK(\"http://evil.test\",\"x\")", 10000)
    admin = await make_user(live, "organisation_admin")
    async with await signed_in(live, admin, lang="nb") as browser:
        page = await browser.get(SETTLEMENT)
        _, _, body = await download(browser, link(page.text, "xlsx-link"))
        sheet = load_workbook(io.BytesIO(body)).active
        header = [c.value for c in sheet[1]]
        row = next(r for r in sheet.iter_rows(min_row=2) if r[header.index("Kort-ID")].value == card["id"])
        name = row[header.index("Pasient")]
        assert name.data_type == "s" and name.value.startswith("=HYPERLINK")
        _, _, body = await download(browser, link(page.text, "csv-local-link"))
        assert ';"\'=HYPERLINK(' in body.decode("utf-8-sig")
