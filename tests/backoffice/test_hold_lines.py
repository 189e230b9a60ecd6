"""Card holds and no-show fees as lines of their own in the settlement report: page, REST and CSV.

Made the way users make them: the clinician captures smaller in the call, the
host captures and releases over REST after it, a no-show is decided when the
host ends the consult, Stripe lets a hold lapse. The admin then reads the
report. An authorisation or a release is never revenue (docs/rules.md, H1):
the totals hold only captures and the fees collected.
"""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal
from typing import Any

from openpyxl import load_workbook
from sqlalchemy import select, update

from app.i18n import format_money
from app.keys import DB
from app.models import Book
from tests.admin.factories import make_user, signed_in
from tests.backoffice.test_exports import download, link
from tests.factories import Live
from tests.holds.support import authorised_hold, webhook_applied

SETTLEMENT = "/api/v1/reports/settlement"


async def holds_every_way(live: Live) -> dict[str, Any]:
    """Five consults: a hold captured smaller in the call (500 of 800 kr), one captured over REST
    (620 of 800), one released over REST, one no-show fee of 300 kr taken from the hold, and a
    no-show fee of 250 kr on the MediPay bill card."""
    _, clinician, _, in_call = await authorised_hold(live)
    ack = await clinician.call("payment:capture", {"request_id": in_call.id, "amount": 50000})
    assert ack["ok"], ack
    rest, _, _, by_rest = await authorised_hold(live)
    gone, _, _, released = await authorised_hold(live)
    for consult in (rest, gone):
        assert (await live.api("POST", f"/api/v1/consults/{consult['id']}/end"))[0] == 200
    status, body = await live.api("POST", f"/api/v1/payment-requests/{by_rest.id}/capture", {"amount": 62000})
    assert status == 200 and body["status"] == "paid", body
    status, body = await live.api("POST", f"/api/v1/payment-requests/{released.id}/release")
    assert status == 200 and body["status"] == "released", body
    absent, _, away, held = await authorised_hold(live, no_show_fee=30000)
    await away.close()  # authorised in Stripe's tab from the waiting room, then gone: never joined
    status, ended = await live.api("POST", f"/api/v1/consults/{absent['id']}/end")
    assert status == 200 and ended["patients"][0]["no_show"]["how"] == "hold"
    on_card = await live.consult(payment_policy={"kind": "in_call", "no_show_fee": 25000})
    status, ended = await live.api("POST", f"/api/v1/consults/{on_card['id']}/end")
    assert status == 200 and ended["patients"][0]["no_show"]["how"] == "bill_card"
    return {"in_call": in_call.id, "by_rest": by_rest.id, "released": released.id, "no_show_hold": held.id,
            "no_show_card": on_card["id"], "no_show_hold_consult": absent["id"]}


def lines_by_key(lines: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {line["request_id"] or line["consult_id"]: line for line in lines}


async def test_captures_releases_and_no_show_fees_are_lines_of_their_own(live: Live) -> None:
    ids = await holds_every_way(live)
    status, report = await live.api("GET", SETTLEMENT)
    assert status == 200, report
    # The money: four cards paid or charged, one (the released hold's) with nothing on it.
    assert report["cards_count"] == 5
    assert report["totals"] == [{"currency": "NOK", "cards": 5, "patient_share": 50000 + 62000 + 30000 + 25000,
                                 "refund_share": 0, "paid": 50000 + 62000 + 30000, "refunded": 0, "admin_fees": 0}]
    lines = lines_by_key(report["hold_lines"])
    assert len(report["hold_lines"]) == 5
    pick = ("line", "authorised", "captured", "released", "no_show_fee", "collected_by", "amount")
    assert {k: lines[ids["in_call"]][k] for k in pick} == {
        "line": "hold_captured", "authorised": 80000, "captured": 50000, "released": 30000, "no_show_fee": None,
        "collected_by": None, "amount": 50000}
    assert {k: lines[ids["by_rest"]][k] for k in pick} == {
        "line": "hold_captured", "authorised": 80000, "captured": 62000, "released": 18000, "no_show_fee": None,
        "collected_by": None, "amount": 62000}
    assert {k: lines[ids["released"]][k] for k in pick} == {
        "line": "hold_released", "authorised": 80000, "captured": 0, "released": 80000, "no_show_fee": None,
        "collected_by": None, "amount": 0}
    # The no-show fee taken from the hold is one line, not a capture and a fee.
    assert {k: lines[ids["no_show_hold"]][k] for k in pick} == {
        "line": "no_show_fee", "authorised": 80000, "captured": 30000, "released": 50000, "no_show_fee": 30000,
        "collected_by": "hold", "amount": 30000}
    assert lines[ids["no_show_hold"]]["consult_id"] == ids["no_show_hold_consult"]
    assert {k: lines[ids["no_show_card"]][k] for k in pick} == {
        "line": "no_show_fee", "authorised": None, "captured": 0, "released": 0, "no_show_fee": 25000,
        "collected_by": "bill_card", "amount": 25000}
    assert all(line["at"] and line["card_id"] and line["patient_name"] for line in report["hold_lines"])
    # Totals: what was captured is in ``paid``; released money is counted apart and nowhere else.
    assert report["hold_totals"] == [{"currency": "NOK", "captured": 142000, "released": 178000,
                                      "no_show_fees": 55000, "no_show_fees_not_collected": 0}]

    # The lines follow the report's filters: the video calls' only; none paid by MediPay card.
    status, call_only = await live.api("GET", f"{SETTLEMENT}?basis_type=call")
    assert len(call_only["hold_lines"]) == 5
    status, cash_desk = await live.api("GET", f"{SETTLEMENT}?basis_type=card")
    assert cash_desk["hold_lines"] == [] and cash_desk["hold_totals"] == []
    status, stripe = await live.api("GET", f"{SETTLEMENT}?payment_type=stripe")
    assert {line["line"] for line in stripe["hold_lines"]} == {"hold_captured", "no_show_fee"}
    assert len(stripe["hold_lines"]) == 3 and stripe["hold_totals"][0]["no_show_fees"] == 30000

    # CSV: the card rows as before (their columns unchanged, a row type at the end), then a row per line.
    assert live.http
    async with live.http.get(live.url + SETTLEMENT + "?format=csv", headers=live.headers) as resp:
        assert resp.status == 200
        text = await resp.text()
    header = text.splitlines()[0].split(",")
    assert header[:16] == ["card_id", "created_at", "exported_at", "clinic_id", "book_id", "basis_type", "status",
                           "status_label", "patient_name", "currency", "patient_share", "refund_share", "paid",
                           "refunded", "admin_fee", "payment_types"]
    assert header[16:] == ["row_type", "line_at", "request_id", "consult_id", "authorised", "captured", "released",
                           "no_show_fee", "collected_by", "amount"]
    rows = list(csv.DictReader(io.StringIO(text)))
    cards = [r for r in rows if r["row_type"] == "card"]
    assert len(cards) == 5 and sum(int(r["paid"]) for r in cards) == 142000
    line_rows = {r["request_id"] or r["consult_id"]: r for r in rows if r["row_type"] != "card"}
    assert len(line_rows) == 5
    # A line's own row leaves the card's sums empty, so summing a column never counts anything twice.
    assert all(r["paid"] == "" and r["patient_share"] == "" for r in line_rows.values())
    assert (line_rows[ids["in_call"]]["row_type"], line_rows[ids["in_call"]]["captured"],
            line_rows[ids["in_call"]]["released"]) == ("hold_captured", "50000", "30000")
    assert (line_rows[ids["released"]]["row_type"], line_rows[ids["released"]]["amount"],
            line_rows[ids["released"]]["released"]) == ("hold_released", "0", "80000")
    assert (line_rows[ids["no_show_card"]]["row_type"], line_rows[ids["no_show_card"]]["collected_by"],
            line_rows[ids["no_show_card"]]["no_show_fee"]) == ("no_show_fee", "bill_card", "25000")
    assert sum(int(r["amount"]) for r in line_rows.values()) == 142000 + 25000

    # The admin's page: a table of the lines, and the totals, in the reader's language.
    admin = await make_user(live, "organisation_admin")
    async with await signed_in(live, admin, lang="en") as browser:
        page = await browser.get("/admin/reports/settlement")
        assert page.status == 200
        html = page.text.replace("&nbsp;", "\xa0")

        def row(key: str) -> str:
            found = re.search(rf'<tr data-line="([a-z_]+)" data-key="{key}".*?</tr>', html, re.S)
            assert found, key
            return found.group(0)

        nok = lambda minor: format_money(minor, "NOK", "en")  # noqa: E731
        captured = row(ids["in_call"])
        assert "Card hold captured" in captured and nok(80000) in captured and nok(50000) in captured
        assert nok(30000) in captured
        released = row(ids["released"])
        assert "Card hold released" in released and nok(80000) in released
        fee = row(ids["no_show_hold"])
        assert "No-show fee" in fee and "From the card hold" in fee and nok(30000) in fee
        assert "On the MediPay bill card" in row(ids["no_show_card"])
        totals = re.search(r'data-testid="hold-totals".*?</table>', html, re.S)
        assert totals and nok(142000) in totals.group(0) and nok(178000) in totals.group(0)
        assert nok(55000) in totals.group(0)
        # At the cash desk, each card shows its own lines: the released hold's card has nothing else on it.
        desk = await browser.get(f"/admin/cash-desk/cards/{lines[ids['released']]['card_id']}")
        assert desk.status == 200 and desk.text.count("<tr data-line=") == 1
        assert f'data-line="hold_released" data-key="{ids["released"]}"' in desk.text
        desk = await browser.get(f"/admin/cash-desk/cards/{lines[ids['no_show_card']]['card_id']}")
        assert f'data-line="no_show_fee" data-key="{ids["no_show_card"]}"' in desk.text
        assert "On the MediPay bill card" in desk.text and desk.text.count("<tr data-line=") == 1
        # The people's exports: the lines as a table of their own after the cards (CSV), or a second sheet.
        status, _, body = await download(browser, link(page.text, "csv-local-link"))
        assert status == 200
        local = body.decode("utf-8-sig").split("\r\n\r\n")
        assert len(local) == 2 and local[1].startswith("Card holds and no-show fees\r\n")
        table = list(csv.DictReader(io.StringIO(local[1].split("\r\n", 1)[1])))
        assert len(table) == 5
        fees = [r for r in table if r["What"] == "No-show fee"]
        assert sorted((r["Collected"], r["No-show fee"], r["Authorised"]) for r in fees) == [
            ("From the card hold", "300.00", "800.00"), ("On the MediPay bill card", "250.00", "")]
        status, _, body = await download(browser, link(page.text, "xlsx-link"))
        book = load_workbook(io.BytesIO(body))
        assert book.sheetnames == ["Settlement report", "Card holds and no-show fees"]
        sheet = book["Card holds and no-show fees"]
        header = [c.value for c in sheet[1]]
        rows = [[c.value for c in r] for r in sheet.iter_rows(min_row=2)]
        released = next(r for r in rows if r[header.index("What")] == "Card hold released")
        assert Decimal(str(released[header.index("Released")])) == Decimal("800")
        assert Decimal(str(released[header.index("Captured")])) == Decimal("0")
    async with await signed_in(live, admin, lang="nb") as browser:
        page = await browser.get("/admin/reports/settlement")
        assert "Kortreservasjon trukket" in page.text and "Gebyr for uteblitt time" in page.text


async def test_a_fee_not_collected_is_a_line_without_a_card(live: Live) -> None:
    # No hold and no MediPay book: the no-show is recorded, the fee not collected, and no card made.
    async with live.app[DB].write() as s:
        await s.execute(update(Book).values(active=False))
    consult = await live.consult(payment_policy={"kind": "in_call", "no_show_fee": 25000})
    status, ended = await live.api("POST", f"/api/v1/consults/{consult['id']}/end")
    assert status == 200 and ended["patients"][0]["no_show"]["how"] == "none"

    status, report = await live.api("GET", SETTLEMENT)
    assert status == 200, report
    assert report["cards_count"] == 0 and report["totals"] == []
    [fee] = report["hold_lines"]
    assert (fee["line"], fee["collected_by"], fee["no_show_fee"], fee["amount"], fee["card_id"]) == (
        "no_show_fee", "none", 25000, 0, None)
    assert fee["consult_id"] == consult["id"] and fee["patient_name"] and fee["clinic_id"] == live.demo["clinic_id"]
    assert report["hold_totals"] == [{"currency": "NOK", "captured": 0, "released": 0, "no_show_fees": 0,
                                      "no_show_fees_not_collected": 25000}]
    # A card-less line has no book and was never exported: filters that need a card leave it out.
    book_id = await live.scalar(select(Book.id).limit(1))
    for query in ("exported=true", "payment_type=stripe", f"book_id={book_id}", "basis_type=card"):
        status, narrowed = await live.api("GET", f"{SETTLEMENT}?{query}")
        assert status == 200 and narrowed["hold_lines"] == [], (query, narrowed)
    status, not_exported = await live.api("GET", f"{SETTLEMENT}?exported=false&basis_type=call")
    assert len(not_exported["hold_lines"]) == 1
    # No card at all, and still the no-show's row in the CSV.
    assert live.http
    async with live.http.get(live.url + SETTLEMENT + "?format=csv", headers=live.headers) as resp:
        rows = list(csv.DictReader(io.StringIO(await resp.text())))
    assert [(r["row_type"], r["card_id"], r["collected_by"], r["no_show_fee"], r["amount"]) for r in rows] == [
        ("no_show_fee", "", "none", "25000", "0")]
    admin = await make_user(live, "organisation_admin")
    async with await signed_in(live, admin, lang="sv") as browser:
        page = await browser.get("/admin/reports/settlement")
        assert page.status == 200 and f'data-line="no_show_fee" data-key="{consult["id"]}"' in page.text
        assert "Inte indriven" in page.text


async def test_a_lapsed_hold_is_a_line_that_moved_no_money(live: Live) -> None:
    _, _, _, lapsed = await authorised_hold(live)
    await live.sandbox_control("POST", f"/payment_intents/{lapsed.payment_intent_id}/lapse")
    assert await webhook_applied(live, "payment_intent.canceled") == ["expired"]
    status, report = await live.api("GET", SETTLEMENT)
    assert status == 200, report
    [line] = report["hold_lines"]
    assert (line["line"], line["request_id"], line["authorised"], line["captured"], line["released"],
            line["amount"]) == ("hold_expired", lapsed.id, 80000, 0, 80000, 0)
    assert report["hold_totals"] == [{"currency": "NOK", "captured": 0, "released": 80000, "no_show_fees": 0,
                                      "no_show_fees_not_collected": 0}]
    assert report["totals"][0]["paid"] == 0 and report["totals"][0]["patient_share"] == 0
    admin = await make_user(live, "organisation_admin")
    async with await signed_in(live, admin, lang="nb") as browser:
        page = await browser.get("/admin/reports/settlement")
        assert page.status == 200 and 'data-line="hold_expired"' in page.text
        assert "Kortreservasjon utløpt" in page.text
