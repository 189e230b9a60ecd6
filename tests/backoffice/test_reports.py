"""The settlement report and MediPay earnings over REST and on the admin pages, checked against the cards made."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from app.backoffice.report_queries import parse_percent, percent_of
from app.errors import Invalid
from app.keys import CLOCK
from tests.admin.cards_helpers import exported, new_card, settled_by_medipay
from tests.admin.factories import make_clinic, make_user, signed_in
from tests.admin.test_payments_page import plain
from tests.consults.test_refunds import paid_request
from tests.factories import Live


def local_day(when: datetime) -> date:
    """The day ``when`` falls on in the demo clinic's zone, the zone the reports count days in
    (23:30 UTC is already the next day in Oslo)."""
    return when.astimezone(ZoneInfo("Europe/Oslo")).date()

SETTLEMENT = "/api/v1/reports/settlement"
EARNINGS = "/api/v1/reports/medipay-earnings"


def test_percent_rounds_half_up_in_minor_units() -> None:
    assert parse_percent("2.5") == 250 and parse_percent("2,55") == 255 and parse_percent("0") == 0
    assert percent_of(82800, 255) == 2111  # 2111.4
    assert percent_of(1, 5000) == 1 and percent_of(3, 5000) == 2  # halves go up
    assert percent_of(10_000_000_00, 10000) == 10_000_000_00
    for bad in ("abc", "2.555", "-1", "101", "NaN", "1e2", "Infinity"):
        with pytest.raises(Invalid):
            parse_percent(bad)


async def ledger_of_cards(live: Live) -> dict[str, Any]:
    """Five cards along every path: two settled through MediPay, one exported and waiting,
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


async def test_settlement_report_over_rest(live: Live) -> None:
    ids = await ledger_of_cards(live)
    status, report = await live.api("GET", SETTLEMENT)
    assert status == 200, report
    assert report["cards_count"] == 5
    assert report["totals"] == [{"currency": "NOK", "cards": 5, "patient_share": 150000, "refund_share": 25000,
                                 "paid": 127800, "refunded": 0, "admin_fees": 7800}]
    assert report["by_payment_type"] == [
        {"payment_type": "card", "currency": "NOK", "payments": 1, "amount": 33900},
        {"payment_type": "stripe", "currency": "NOK", "payments": 1, "amount": 45000},
        {"payment_type": "vipps", "currency": "NOK", "payments": 1, "amount": 48900},
    ]
    by_id = {row["card_id"]: row for row in report["cards"]}
    assert by_id[ids["d"]]["basis_type"] == "call" and by_id[ids["d"]]["payment_types"] == ["stripe"]
    assert by_id[ids["d"]]["status"] == "paid" and by_id[ids["d"]]["paid"] == 45000
    assert by_id[ids["a"]]["basis_type"] == "card" and by_id[ids["a"]]["status_label"].startswith("Bankkortnota")

    async def cards(query: str) -> set[str]:
        status, body = await live.api("GET", f"{SETTLEMENT}?{query}")
        assert status == 200, body
        assert body["cards_count"] == len(body["cards"])
        return {row["card_id"] for row in body["cards"]}

    day = local_day(ids["now"])
    assert await cards("exported=true") == {ids["a"], ids["b"], ids["c"]}
    assert await cards("exported=false") == {ids["d"], ids["e"]}
    assert await cards(f"exported=true&from={day}&to={day}") == {ids["a"], ids["b"], ids["c"]}
    assert await cards(f"exported=true&from={day + timedelta(days=1)}") == set()
    assert await cards("basis_type=call") == {ids["d"]}
    assert await cards("basis_type=card&payment_type=vipps") == {ids["a"]}
    assert await cards("payment_type=stripe") == {ids["d"]}
    assert await cards("payment_type=invoice") == set()
    assert await cards(f"unit={live.demo['clinic_id']}&exported=true&payment_type=card") == {ids["b"]}
    sibling = await make_clinic(live, live.demo["organisation_id"], name="Sibling clinic")
    assert await cards(f"unit={sibling.id}") == set()
    status, page = await live.api("GET", f"{SETTLEMENT}?limit=2&offset=2")
    assert len(page["cards"]) == 2 and page["has_more"] and page["next_offset"] == 4 and page["cards_count"] == 5

    # CSV: text/csv, a header row, one row per card, amounts in minor units.
    assert live.http
    async with live.http.get(live.url + SETTLEMENT + "?format=csv", headers=live.headers) as resp:
        assert resp.status == 200 and resp.content_type == "text/csv" and resp.charset == "utf-8"
        rows = list(csv.DictReader(io.StringIO(await resp.text())))
    assert len(rows) == 5 and sum(int(r["paid"]) for r in rows) == 127800
    assert {r["card_id"]: r["payment_types"] for r in rows}[ids["d"]] == "stripe"
    assert {r["card_id"]: r["patient_share"] for r in rows}[ids["a"]] == "45000"


async def test_medipay_earnings_over_rest(live: Live) -> None:
    ids = await ledger_of_cards(live)
    status, report = await live.api("GET", f"{EARNINGS}?price_per_card=350&price_percent=2.55")
    assert status == 200, report
    # Cards a and b: exported and settled through MediPay; c is still waiting, d was paid in the call.
    assert {k: report[k] for k in ("cards", "patient_share", "admin_fees", "total", "medipay_cost_per_card",
                                   "medipay_cost_percent", "medipay_cost", "net")} == {
        "cards": 2, "patient_share": 75000, "admin_fees": 7800, "total": 82800, "medipay_cost_per_card": 700,
        "medipay_cost_percent": 2111, "medipay_cost": 2811, "net": 79989}
    day = local_day(ids["now"])
    status, none = await live.api("GET", f"{EARNINGS}?from={day - timedelta(days=3)}&to={day - timedelta(days=1)}")
    assert status == 200 and none["cards"] == 0 and none["medipay_cost"] == 0
    assert live.http
    async with live.http.get(live.url + EARNINGS + "?price_per_card=350&price_percent=2,55&format=csv",
                             headers=live.headers) as resp:
        assert resp.status == 200 and resp.content_type == "text/csv"
        rows = list(csv.DictReader(io.StringIO(await resp.text())))
    assert rows == [{"currency": "NOK", "cards": "2", "patient_share": "75000", "admin_fees": "7800",
                     "total": "82800", "medipay_cost_per_card": "700", "medipay_cost_percent": "2111",
                     "medipay_cost": "2811", "net": "79989"}]


@pytest.mark.parametrize("query", [
    f"{SETTLEMENT}?exported=maybe", f"{SETTLEMENT}?from=yesterday", f"{SETTLEMENT}?from=2026-02-30",
    f"{SETTLEMENT}?from=2026-03-02&to=2026-03-01", f"{SETTLEMENT}?basis_type=fax", f"{SETTLEMENT}?payment_type=cash",
    f"{SETTLEMENT}?unit=cl_nope", f"{SETTLEMENT}?book_id=book_nope", f"{SETTLEMENT}?limit=0",
    f"{SETTLEMENT}?limit=abc", f"{SETTLEMENT}?format=xml", f"{SETTLEMENT}?colour=red",
    f"{SETTLEMENT}?unit={'x' * 500}", f"{SETTLEMENT}?format=csv&from=nope",
    f"{EARNINGS}?price_percent=abc", f"{EARNINGS}?price_percent=2.555", f"{EARNINGS}?price_per_card=-1",
    f"{EARNINGS}?price_per_card=3.50", f"{EARNINGS}?price_per_card=99999999999", f"{EARNINGS}?to=31.12.2026",
])
async def test_bad_parameters_are_clear_4xx(live: Live, query: str) -> None:
    status, body = await live.api("GET", query)
    assert status in (400, 422), (query, status, body)
    assert body["error"]["code"] and body["error"]["message"]


async def test_reports_need_the_key_and_stay_in_the_organisation(live: Live) -> None:
    await new_card(live, "Anne Solberg", 45000)
    assert (await live.api("GET", SETTLEMENT, headers={}))[0] == 401
    assert (await live.api("GET", EARNINGS, headers={"Authorization": "Bearer nope"}))[0] == 401
    foreign = await make_clinic(live)
    status, body = await live.api("GET", f"{SETTLEMENT}?unit={foreign.id}")
    assert status == 422 and body["error"]["code"] == "invalid_unit"


async def test_report_pages_with_filters_chart_and_csv(live: Live) -> None:
    ids = await ledger_of_cards(live)
    admin = await make_user(live, "organisation_admin")
    async with await signed_in(live, admin, lang="nb") as browser:
        page = await browser.get("/admin/reports/settlement?exported=true")
        assert page.status == 200
        text = plain(page.text)
        assert 'data-testid="total-cards">3<' in text and "<svg" in text and 'role="img"' in text
        assert 'data-payment-type="vipps"' in text and "489,00 kr" in text and ids["d"] not in text
        assert 'href="/admin/reports/settlement?exported=true&amp;format=csv"' in text
        download = await browser.get("/admin/reports/settlement?exported=true&format=csv")
        assert download.status == 200 and download.text.splitlines()[0].startswith("card_id,created_at")
        assert len(download.text.strip().splitlines()) == 4
        call = await browser.get("/admin/reports/settlement?basis_type=call&payment_type=stripe")
        assert 'data-testid="total-cards">1<' in call.text and ids["d"] in call.text
        bad = await browser.get("/admin/reports/settlement?from=nope")
        assert bad.status == 422 and 'data-testid="report-error"' in bad.text

        earnings = await browser.get("/admin/reports/medipay-earnings?price_per_card=3,50&price_percent=2,55")
        assert earnings.status == 200
        text = plain(earnings.text)
        assert 'data-testid="earnings-cards">2<' in text and 'data-testid="earnings-cost">28,11 kr<' in text
        assert 'data-testid="earnings-net">799,89 kr<' in text and "<svg" in text
        csv_reply = await browser.get("/admin/reports/medipay-earnings?price_per_card=3,50&price_percent=2,55"
                                      "&format=csv")
        assert csv_reply.text.splitlines()[1] == "NOK,2,75000,7800,82800,700,2111,2811,79989"
        bad = await browser.get("/admin/reports/medipay-earnings?price_per_card=abc")
        assert bad.status == 422 and 'role="alert"' in bad.text

    # A clinic admin of another clinic sees nothing of these cards and cannot aim past their clinic.
    sibling = await make_clinic(live, live.demo["organisation_id"], name="Sibling clinic")
    other = await make_user(live, "clinic_admin", clinic_id=sibling.id)
    async with await signed_in(live, other) as browser:
        page = await browser.get("/admin/reports/settlement")
        assert page.status == 200 and ids["a"] not in page.text and "No bill cards match." in page.text
        aimed = await browser.get(f"/admin/reports/settlement?unit={live.demo['clinic_id']}")
        assert aimed.status == 422
        earnings = await browser.get("/admin/reports/medipay-earnings")
        assert 'data-testid="earnings-cards">0<' in earnings.text
    member = await make_user(live, "team_member")
    async with await signed_in(live, member) as browser:
        assert (await browser.get("/admin/reports/settlement")).status == 403


async def test_reports_and_desk_search_on_postgresql(live_pg: Live) -> None:
    live = live_pg
    ids = await ledger_of_cards(live)
    status, report = await live.api("GET", f"{SETTLEMENT}?exported=true&payment_type=vipps")
    assert status == 200 and [r["card_id"] for r in report["cards"]] == [ids["a"]]
    status, report = await live.api("GET", SETTLEMENT)
    assert report["totals"][0]["paid"] == 127800 and report["cards_count"] == 5
    status, earnings = await live.api("GET", f"{EARNINGS}?price_per_card=350&price_percent=2.55")
    assert (earnings["cards"], earnings["medipay_cost"], earnings["net"]) == (2, 2811, 79989)
    admin = await make_user(live, "organisation_admin")
    async with await signed_in(live, admin) as browser:
        found = await browser.get("/admin/cash-desk?q=SOLB")
        assert ids["a"] in found.text and ids["b"] not in found.text
        assert ids["a"] not in (await browser.get("/admin/cash-desk?q=_olb")).text
