"""The cash desk with the MediPay pipeline and the built-in sandbox: *Send to payment* from the card
page, the exported card's lock, the patient paying with Vipps in MediPay Checkout, and the reports."""

from __future__ import annotations

import asyncio
from typing import Any

from app.billing.statuses import CARD_LABELS
from tests.admin.cards_helpers import new_card
from tests.admin.factories import make_user, signed_in
from tests.factories import Live

DESK = "/admin/cash-desk"


async def card_status(live: Live, card_id: str, status: str, timeout: float = 10.0) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        code, card = await live.api("GET", f"/api/v1/bill-cards/{card_id}")
        assert code == 200, card
        if card["status"] == status:
            return card
        assert asyncio.get_running_loop().time() < deadline, card
        await asyncio.sleep(0.1)


async def choose(live: Live, claim_id: str, method: str) -> None:
    assert live.http
    async with live.http.post(f"{live.settings.medipay_base}/_control/claims/{claim_id}/choose",
                              json={"method": method}) as resp:
        assert resp.status < 300, await resp.text()


async def test_send_to_payment_lock_then_paid_by_vipps_in_the_reports(live: Live) -> None:
    book_id = live.demo["medipay_book_id"]
    card = await new_card(live, "Sigrid Vik", 45000, 20000, book_id=book_id)
    other = await new_card(live, "Ola Hansen", 30000, book_id=book_id)
    admin = await make_user(live, "organisation_admin")
    async with await signed_in(live, admin) as browser:
        page = await browser.get(f"{DESK}/cards/{card['id']}")
        assert 'data-testid="send-form"' in page.text
        sent = await browser.post(f"{DESK}/cards/{card['id']}/send", {"confirm": "yes"}, follow=True)
        assert sent.status == 200 and "was sent to MediPay" in sent.text
        await card_status(live, card["id"], "open_exported")
        page = await browser.get(f"{DESK}/cards/{card['id']}")
        assert 'data-testid="exported-warning"' in page.text and CARD_LABELS["open_exported"] in page.text
        assert "disabled" in page.text.split('name="patient_share"')[1][:120]
        assert 'data-testid="medipay-state" data-state="sent">Sent: the patient has the SMS<' in page.text
        assert 'data-testid="send-form"' not in page.text
        refused = await browser.post(f"{DESK}/cards/{card['id']}/shares", {"patient_share": "100"})
        assert refused.status == 409
        changed = await browser.post(f"{DESK}/cards/{card['id']}/shares", {"refund_share": "250"})
        assert changed.status == 303
        again = await browser.post(f"{DESK}/cards/{card['id']}/send", {"confirm": "yes"}, follow=True)
        assert 'role="status"' in again.text and "already been sent" in again.text

        # An invoice made by hand without the fee, then exported by hand: the desk warns first.
        await browser.get(f"{DESK}/cards/{other['id']}")
        await browser.post(f"{DESK}/cards/{other['id']}/invoice", {"confirm": "yes"})
        page = await browser.get(f"{DESK}/cards/{other['id']}")
        assert 'data-testid="invoice-export-warning"' in page.text and 'data-testid="send-form"' in page.text
        await browser.post(f"{DESK}/cards/{other['id']}/send", {"confirm": "yes"})
    invoiced = await card_status(live, other["id"], "invoice_exported")
    assert invoiced["admin_fee"] is False

    await choose(live, card["id"], "vipps")
    paid = await card_status(live, card["id"], "paid")
    assert paid["patient_share"] == 45000 and paid["refund_share"] == 25000
    assert [p["method"] for p in paid["payments"]] == ["vipps"]

    status, earnings = await live.api("GET", "/api/v1/reports/medipay-earnings?price_per_card=100&price_percent=1")
    assert status == 200 and earnings["cards"] == 1 and earnings["patient_share"] == 45000
    fee = earnings["admin_fees"]
    assert earnings["total"] == 45000 + fee
    assert earnings["medipay_cost"] == 100 + (45000 + fee + 50) // 100
    status, report = await live.api("GET", "/api/v1/reports/settlement?exported=true")
    assert {c["card_id"] for c in report["cards"]} == {card["id"], other["id"]}
    assert [r["payment_type"] for r in report["by_payment_type"]] == ["vipps"]
    assert await live.ledger_balanced()
