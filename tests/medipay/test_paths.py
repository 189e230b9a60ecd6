"""Every path of a bill card through MediPay (docs/rules.md, rule T1), over REST and signed callbacks."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import pytest

from app.collection.export import MediPayExporter
from app.consults.notifier import RecordingNotifier
from app.keys import DB, SETTINGS
from tests.factories import PATIENT
from tests.medipay.conftest import START, Pipeline


async def test_hourly_export_then_paid_by_card(pipeline: Pipeline) -> None:
    p = pipeline
    card = await p.new_card()
    assert card["status"] == "open" and card["status_label"] == "Åpen"
    assert card["medipay"]["state"] is None
    [row] = await p.exports(card["id"])
    assert row.trigger == "hourly" and row.available_at == START.replace(minute=0) + timedelta(hours=1)

    assert await p.export_queue() == 0  # not before the hour
    assert p.medipay.puts == []
    await p.later(minutes=30)
    assert await p.export_queue() == 1
    card = await p.card(card["id"])
    assert card["status"] == "open_exported" and card["status_label"] == "Åpen og eksportert"
    assert card["medipay"]["state"] == "sent" and card["medipay"]["exported_at"] is not None
    assert [s["kind"] for s in p.medipay.sms] == ["checkout_link"]

    await p.medipay.choose(card["id"], "card")
    card = await p.card(card["id"])
    assert card["status"] == "paid"
    assert card["status_label"] == "Bankkortnota generert. Innbetalinger registrert"
    [payment] = card["payments"]
    assert payment["method"] == "card" and payment["amount"] == 45000 and payment["reference"]
    assert payment["registered_at"]
    assert await p.medipay_clearing() == 45000
    assert await p.live.ledger_balanced()
    assert await p.export_queue() == 0  # nothing left, nothing sent twice
    assert p.medipay.puts == [card["id"]]


async def test_send_to_payment_paid_by_vipps(pipeline: Pipeline) -> None:
    p = pipeline
    card = await p.new_card()
    status, sent = await p.send(card["id"])
    assert status == 200, sent
    assert sent["status"] == "open_exported"  # sent at once, not at the hour
    await p.medipay.choose(card["id"], "vipps")
    card = await p.card(card["id"])
    assert card["status"] == "paid" and [x["method"] for x in card["payments"]] == ["vipps"]
    # Sending a paid card again is a clear conflict that changes nothing.
    status, body = await p.send(card["id"])
    assert status == 409 and body["error"]["code"] == "card_settled"
    assert p.medipay.puts == [card["id"]]


async def test_invoice_chosen_in_checkout_and_approved(pipeline: Pipeline) -> None:
    p = pipeline
    card = await p.new_card()
    await p.send(card["id"])
    await p.medipay.choose(card["id"], "invoice")
    card = await p.card(card["id"])
    assert card["status"] == "paid" and card["medipay"]["state"] == "paid"
    assert [x["method"] for x in card["payments"]] == ["invoice"]
    assert await p.medipay_clearing() == 45000 and await p.live.ledger_balanced()


async def test_no_choice_reminder_then_invoice_then_paid(pipeline: Pipeline) -> None:
    p = pipeline
    card = await p.new_card()
    await p.send(card["id"])
    await p.later(hours=39, minutes=59)
    assert [s["kind"] for s in p.medipay.sms] == ["checkout_link"]
    await p.later(minutes=1)  # 8 h before the 48 h deadline
    assert [s["kind"] for s in p.medipay.sms] == ["checkout_link", "reminder"]
    card_now = await p.card(card["id"])
    assert card_now["status"] == "open_exported"  # a reminder changes no status
    await p.later(hours=8)
    card_now = await p.card(card["id"])
    assert card_now["status"] == "invoice_exported"
    assert card_now["status_label"] == "Faktura generert. Eksportert"
    await p.later(hours=100)  # time rules fire once: no second reminder or invoice
    assert [s["kind"] for s in p.medipay.sms] == ["checkout_link", "reminder", "invoice"]
    await p.medipay.pay_invoice(card["id"])
    card_now = await p.card(card["id"])
    assert card_now["status"] == "invoice_paid"
    assert card_now["status_label"] == "Faktura generert. Innbetalinger er registrert. Eksportert."
    assert [(x["method"], x["amount"]) for x in card_now["payments"]] == [("invoice", 45000)]
    assert await p.live.ledger_balanced()


async def test_credit_rejected_goes_to_manual_handling(pipeline: Pipeline) -> None:
    p = pipeline
    p.medipay.credit_rejects.add(PATIENT["national_id"])
    card = await p.new_card()
    await p.send(card["id"])
    await p.medipay.choose(card["id"], "invoice")
    card = await p.card(card["id"])
    assert card["status"] == "manual_handling"
    assert card["medipay"]["reason_code"] == "credit_rejected" and card["medipay"]["message"]
    assert card["payments"] == [] and await p.medipay_clearing() == 0
    status, listed = await p.live.api("GET", "/api/v1/bill-cards?status=manual_handling")
    assert status == 200 and [c["id"] for c in listed["data"]] == [card["id"]]


async def test_no_choice_and_internal_assessment_fails(pipeline: Pipeline) -> None:
    p = pipeline
    p.medipay.credit_rejects.add(PATIENT["national_id"])
    card = await p.new_card()
    await p.send(card["id"])
    await p.later(hours=48)
    card = await p.card(card["id"])
    assert card["status"] == "manual_handling" and card["medipay"]["reason_code"] == "credit_rejected"


async def test_over_the_limit_is_rejected_at_once(pipeline: Pipeline) -> None:
    p = pipeline
    card = await p.new_card(amount=5_000_000)
    status, sent = await p.send(card["id"])
    assert status == 200
    assert sent["status"] == "manual_handling"
    assert sent["medipay"]["reason_code"] == "over_limit"
    assert p.medipay.sms == []


async def test_missing_address_not_exported_fixed_and_exported_next_day(pipeline: Pipeline) -> None:
    p = pipeline
    patient = {k: v for k, v in PATIENT.items() if k != "address"}
    card = await p.new_card(patient=patient)
    await p.later(hours=1)
    assert await p.export_queue() == 1
    card = await p.card(card["id"])
    assert card["status"] == "not_exported" and card["status_label"] == "Faktura generert"
    assert card["medipay"]["reason_code"] == "missing_address"
    assert p.medipay.puts == []  # checked before anything was sent

    status, fixed = await p.live.api("PATCH", f"/api/v1/bill-cards/{card['id']}",
                                     {"patient": {"address": PATIENT["address"]}})
    assert status == 200 and fixed["status"] == "not_exported"
    await p.later(hours=12)
    assert await p.retry_not_exported() == 0  # retried daily, not sooner
    await p.later(hours=12)
    assert await p.retry_not_exported() == 1
    card = await p.card(card["id"])
    assert card["status"] == "open_exported" and card["medipay"]["reason_code"] is None
    assert await p.retry_not_exported() == 0
    assert p.medipay.puts == [card["id"]]


async def test_not_exported_is_retried_daily_until_fixed(pipeline: Pipeline) -> None:
    p = pipeline
    card = await p.new_card(patient={**PATIENT, "mobile": "+4722334455"})  # a landline: no SMS
    await p.send(card["id"])
    assert (await p.card(card["id"]))["medipay"]["reason_code"] == "invalid_mobile"
    for _ in range(3):
        await p.later(days=1)
        assert await p.retry_not_exported() == 1
        assert await p.status(card["id"]) == "not_exported"
    await p.live.api("PATCH", f"/api/v1/bill-cards/{card['id']}", {"patient": {"mobile": "+4791234567"}})
    await p.later(days=1)
    assert await p.retry_not_exported() == 1
    assert await p.status(card["id"]) == "open_exported"


async def test_patient_share_locked_after_export_refund_share_not(pipeline: Pipeline) -> None:
    p = pipeline
    card = await p.new_card()
    status, body = await p.live.api("PATCH", f"/api/v1/bill-cards/{card['id']}", {"patient_share": 40000})
    assert status == 200 and body["patient_share"] == 40000  # before export: free to change
    await p.send(card["id"])
    status, body = await p.live.api("PATCH", f"/api/v1/bill-cards/{card['id']}", {"patient_share": 30000})
    assert status == 409 and body["error"]["code"] == "patient_share_locked"
    status, body = await p.live.api("PATCH", f"/api/v1/bill-cards/{card['id']}", {"refund_share": 20000})
    assert status == 200 and body["refund_share"] == 20000 and body["patient_share"] == 40000
    after = await p.card(card["id"])
    assert after["medipay"]["exported_patient_share"] == 40000


async def test_manual_office_sends_only_one_by_one(pipeline: Pipeline) -> None:
    p = pipeline
    await p.set_manual_office(True)
    first = await p.new_card()
    second = await p.new_card()
    await p.later(hours=3)
    assert await p.export_queue() == 0
    assert await p.status(first["id"]) == "open"
    status, sent = await p.send(second["id"])
    assert status == 200 and sent["status"] == "open_exported"
    assert await p.status(first["id"]) == "open"
    assert p.medipay.puts == [second["id"]]


async def test_a_card_outside_a_medipay_book_is_not_sent(pipeline: Pipeline) -> None:
    p = pipeline
    card = await p.new_card(book_id=None)
    assert await p.exports(card["id"]) == []
    status, body = await p.send(card["id"])
    assert status == 409 and body["error"]["code"] == "book_not_medipay"
    status, body = await p.live.api("POST", "/api/v1/bill-cards/bc_nope/send-to-payment")
    assert status == 404 and body["error"]["code"] == "card_not_found"


async def test_invoice_made_by_hand_is_exported_as_an_invoice(pipeline: Pipeline) -> None:
    from app.billing.transitions import transition
    from app.keys import DB
    from app.models import BillCard

    p = pipeline
    card = await p.new_card()
    async with p.live.app[DB].write() as s:  # invoiced by hand at the cash desk
        row = await s.get(BillCard, card["id"])
        assert row is not None
        await transition(s, row, "invoice_generated", "invoiced by hand", p.clock.now())
    status, sent = await p.send(card["id"])
    assert status == 200 and sent["status"] == "invoice_exported", sent
    assert p.medipay.claims[card["id"]]["mode"] == "invoice"
    await p.medipay.pay_invoice(card["id"])
    paid = await p.card(card["id"])
    assert paid["status"] == "invoice_paid" and [x["method"] for x in paid["payments"]] == ["invoice"]


class _StopsAfter:
    """The sandbox's gateway, failing with an unexpected error from the ``n``-th claim on."""

    def __init__(self, gateway: Any, n: int) -> None:
        self.gateway, self.left = gateway, n

    async def export_claim(self, credentials: Any, claim: Any) -> Any:
        self.left -= 1
        if self.left < 0:
            raise RuntimeError("the exporter stops here")
        return await self.gateway.export_claim(credentials, claim)


async def test_batches_overlap_and_a_failed_batch_keeps_the_answers_before_it(pipeline: Pipeline) -> None:
    """A batch's answers are recorded while the next batch is sent; they are kept when that one fails."""
    p = pipeline
    cards = [await p.new_card() for _ in range(12)]
    await p.later(hours=1)
    settings = p.live.app[SETTINGS]
    exporter = MediPayExporter(p.live.app[DB], gateway=_StopsAfter(p.medipay, 8), clock=p.clock,  # type: ignore[arg-type]
                               secret_key=settings.secret_key, notifier=RecordingNotifier(),
                               concurrency=2, batch=4)
    with pytest.raises(RuntimeError):
        await exporter.export_due()
    # The first two batches of four were answered and recorded; the third was claimed and left leased.
    statuses = Counter([await p.status(c["id"]) for c in cards])
    assert statuses == Counter({"open_exported": 8, "open": 4})
    rows = Counter([row.status for c in cards for row in await p.exports(c["id"])])
    assert rows == Counter({"sent": 8, "sending": 4})

    await p.later(minutes=3)  # the lease runs out: the ordinary exporter takes the rest, once each
    assert await p.export_queue() == 4
    assert Counter(p.medipay.puts) == Counter({c["id"]: 1 for c in cards})
    assert [await p.status(c["id"]) for c in cards] == ["open_exported"] * 12
