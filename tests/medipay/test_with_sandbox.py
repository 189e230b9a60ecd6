"""The pipeline against the built-in MediPay sandbox over real HTTP: claims, SMS, Checkout, callbacks."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.factories import PATIENT, Live


async def _control(live: Live, method: str, path: str, body: Any = None) -> Any:
    assert live.http
    async with live.http.request(method, f"{live.settings.medipay_sandbox_url}/_control{path}", json=body) as r:
        assert r.status < 300, await r.text()
        return await r.json()


async def _card(live: Live, **patient: Any) -> dict[str, Any]:
    status, card = await live.api("POST", "/api/v1/bill-cards", {
        "clinic_id": live.demo["clinic_id"], "book_id": live.demo["medipay_book_id"],
        "patient": {**PATIENT, **patient},
        "lines": [{"code": "2ad", "description": "Consultation", "patient_amount": 45000, "refund_amount": 0}]})
    assert status == 201, card
    return card


async def _until(live: Live, card_id: str, status: str, timeout: float = 10.0) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        code, card = await live.api("GET", f"/api/v1/bill-cards/{card_id}")
        assert code == 200
        if card["status"] == status or asyncio.get_running_loop().time() > deadline:
            assert card["status"] == status, card
            return card
        await asyncio.sleep(0.1)


async def test_demo_account_is_verified_by_the_sandbox(live: Live) -> None:
    from app.keys import MEDIPAY_ACCOUNTS

    accounts = await live.app[MEDIPAY_ACCOUNTS].for_books([live.demo["medipay_book_id"]])
    assert accounts[live.demo["medipay_book_id"]].status == "active"
    wrong = await live.app[MEDIPAY_ACCOUNTS].save(live.demo["organisation_id"], "book_demo_medipay",
                                                  username="demo-legesenter", password="not-the-password",
                                                  actor_id=None)
    assert wrong.status == "invalid"


async def test_sent_paid_by_card_in_sandbox_checkout(live: Live) -> None:
    card = await _card(live)
    status, sent = await live.api("POST", f"/api/v1/bill-cards/{card['id']}/send-to-payment")
    assert status == 200 and sent["status"] == "open_exported", sent
    sms = (await _control(live, "GET", f"/sms?claim_id={card['id']}"))["sms"]
    assert [s["kind"] for s in sms] == ["checkout_link"]
    await _control(live, "POST", f"/claims/{card['id']}/choose", {"method": "card"})
    paid = await _until(live, card["id"], "paid")
    assert [p["method"] for p in paid["payments"]] == ["card"]
    assert paid["payments"][0]["amount"] == 45000
    assert await live.ledger_balanced()


async def test_no_choice_invoice_then_paid_in_sandbox(live: Live) -> None:
    card = await _card(live)
    await live.api("POST", f"/api/v1/bill-cards/{card['id']}/send-to-payment")
    await _control(live, "POST", "/clock/advance", {"hours": 48})
    await _until(live, card["id"], "invoice_exported")
    await _control(live, "POST", f"/claims/{card['id']}/pay")
    paid = await _until(live, card["id"], "invoice_paid")
    assert [p["method"] for p in paid["payments"]] == ["invoice"]
    kinds = [s["kind"] for s in (await _control(live, "GET", f"/sms?claim_id={card['id']}"))["sms"]]
    assert kinds.count("checkout_link") == 1 and kinds.count("reminder") == 1


async def test_credit_rejected_in_sandbox_goes_to_manual_handling(live: Live) -> None:
    await _control(live, "POST", "/credit", {"national_id": PATIENT["national_id"], "outcome": "reject"})
    card = await _card(live)
    await live.api("POST", f"/api/v1/bill-cards/{card['id']}/send-to-payment")
    await _control(live, "POST", f"/claims/{card['id']}/choose", {"method": "invoice"})
    handled = await _until(live, card["id"], "manual_handling")
    assert handled["medipay"]["reason_code"] == "credit_rejected"


async def test_answer_dropped_after_commit_is_resent_without_a_second_claim(live: Live) -> None:
    from app.keys import MEDIPAY_EXPORTER

    card = await _card(live)
    await _control(live, "POST", "/faults", {"kind": "drop_after_commit", "path": "/v1/claims/"})
    status, sent = await live.api("POST", f"/api/v1/bill-cards/{card['id']}/send-to-payment")
    # The answer was lost (or the connection's own retry got the claim back): either way one claim.
    assert status == 200 and sent["status"] in ("open", "open_exported")
    # The worker's next look, once the back-off has passed.
    from sqlalchemy import update

    from app.keys import DB
    from app.models import MediPayExport

    async with live.app[DB].write() as s:
        await s.execute(update(MediPayExport).values(available_at=MediPayExport.created_at))
    assert await live.app[MEDIPAY_EXPORTER].export_due() == (1 if sent["status"] == "open" else 0)
    await _until(live, card["id"], "open_exported")
    sms = (await _control(live, "GET", f"/sms?claim_id={card['id']}"))["sms"]
    assert len(sms) == 1
