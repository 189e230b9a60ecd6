"""One ledger: a card left unpaid in the call goes on to MediPay, and the clinician hears of it live."""

from __future__ import annotations

from tests.medipay.conftest import Pipeline


async def _request(p: Pipeline, amount: int = 45000) -> tuple[dict, object, str]:
    consult, clinician, patient = await p.live.call_pair()
    # Above the clinic's confirmation threshold the panel has asked the clinician (confirmed: true).
    ack = await clinician.call("payment:request", {"amount": amount, "description": "Consultation", "confirmed": True})
    assert ack["ok"], ack
    return consult, clinician, ack["request"]["bill_card_id"]


async def test_unpaid_card_sent_from_the_call_and_paid_in_medipay_checkout(pipeline: Pipeline) -> None:
    p = pipeline
    consult, clinician, card_id = await _request(p)
    card = await p.card(card_id)
    assert card["status"] == "under_work" and card["book_id"] == p.live.demo["medipay_book_id"]

    status, sent = await p.send(card_id)
    assert status == 200 and sent["status"] == "open_exported", sent
    # The request in the call is taken over: the patient cannot pay it twice.
    cancelled = await clinician.wait_for("payment:updated", lambda d: d["request"]["status"] == "cancelled")
    assert cancelled["request"]["bill_card_id"] == card_id
    assert (await p.card(card_id))["patient_share"] == 45000
    update = await clinician.wait_for("bill_card:updated", lambda d: d["card"]["status"] == "open_exported")
    assert update["card"]["id"] == card_id and "national_id" not in str(update)

    await p.medipay.choose(card_id, "card")
    update = await clinician.wait_for("bill_card:updated", lambda d: d["card"]["status"] == "paid")
    assert update["card"]["medipay"]["state"] == "paid"
    card = await p.card(card_id)
    assert [x["method"] for x in card["payments"]] == ["card"]
    assert await p.live.ledger_balanced()


async def test_rejection_is_shown_live_to_the_clinician(pipeline: Pipeline) -> None:
    p = pipeline
    _, clinician, card_id = await _request(p, amount=5_000_000)
    await p.send(card_id)
    update = await clinician.wait_for("bill_card:updated", lambda d: d["card"]["status"] == "manual_handling")
    assert update["card"]["medipay"]["reason_code"] == "over_limit"


async def test_call_ending_unpaid_puts_the_card_in_the_hourly_queue(pipeline: Pipeline) -> None:
    p = pipeline
    consult, _, card_id = await _request(p)
    status, _ = await p.live.api("POST", f"/api/v1/consults/{consult['id']}/end")
    assert status == 200
    assert await p.status(card_id) == "open"
    [row] = await p.exports(card_id)
    assert row.trigger == "hourly"
    await p.later(hours=1)
    assert await p.export_queue() == 1
    assert await p.status(card_id) == "open_exported"


async def test_request_cancelled_in_the_call_leaves_nothing_to_send(pipeline: Pipeline) -> None:
    p = pipeline
    consult, clinician, card_id = await _request(p)
    card = await p.card(card_id)
    request_id = card["lines"][0]["payment_request_id"]
    ack = await clinician.call("payment:cancel", {"request_id": request_id})
    assert ack["ok"]
    status, _ = await p.live.api("POST", f"/api/v1/consults/{consult['id']}/end")
    card = await p.card(card_id)
    assert card["patient_share"] == 0 and card["status"] == "under_work"
    assert await p.exports(card_id) == []
    status, body = await p.send(card_id)
    assert status == 409 and body["error"]["code"] == "nothing_to_collect"


async def test_clinician_sends_the_card_on_from_the_panel(pipeline: Pipeline) -> None:
    p = pipeline
    consult, clinician, patient = await p.live.call_pair()
    # Nothing requested yet: nothing to send, and only the clinician may send.
    refused = await clinician.call("bill_card:send", {})
    assert not refused["ok"] and refused["error"]["code"] == "card_not_found"
    ack = await clinician.call("payment:request", {"amount": 45000, "description": "Consultation"})
    card_id = ack["request"]["bill_card_id"]
    refused = await patient.call("bill_card:send", {})
    assert not refused["ok"] and refused["error"]["code"] == "forbidden_role"
    assert await p.status(card_id) == "under_work"

    sent = await clinician.call("bill_card:send", {})
    assert sent["ok"], sent
    assert sent["card"]["id"] == card_id and sent["card"]["status"] == "open_exported"
    assert "national_id" not in str(sent)
    await p.medipay.choose(card_id, "vipps")
    update = await clinician.wait_for("bill_card:updated", lambda d: d["card"]["status"] == "paid")
    assert update["card"]["medipay"]["state"] == "paid"
    assert [x["method"] for x in (await p.card(card_id))["payments"]] == ["vipps"]
    assert await p.live.ledger_balanced()
    # A reload sees the card's state in consult:state; the patient sees only their own card.
    again = await p.live.peer(consult["clinician"]["token"])
    state = await again.wait_for("consult:state")
    assert [c["status"] for c in state["cards"]] == ["paid"]
    other = await p.live.peer(consult["patients"][0]["token"])
    assert [c["id"] for c in (await other.wait_for("consult:state"))["cards"]] == [card_id]


async def test_missing_patient_data_is_refused_before_anything_changes(pipeline: Pipeline) -> None:
    p = pipeline
    status, consult = await p.live.api("POST", "/api/v1/consults", {
        "clinic_id": p.live.demo["clinic_id"], "clinician": {"id": "u-1", "name": "Dr. Nordmann"},
        "patients": [{"id": "p-9", "name": "Ola Uten Nummer"}], "currency": "NOK"})
    assert status == 201, consult
    clinician = await p.live.peer(consult["clinician"]["token"])
    ack = await clinician.call("payment:request", {"amount": 45000, "description": "Consultation"})
    card_id = ack["request"]["bill_card_id"]
    refused = await clinician.call("bill_card:send", {"patient_id": "p-9"})
    assert not refused["ok"] and refused["error"]["code"] == "missing_national_id"
    assert await p.status(card_id) == "under_work" and await p.exports(card_id) == []
    refused = await clinician.call("bill_card:send", {"patient_id": "nobody"})
    assert not refused["ok"] and refused["error"]["code"] == "unknown_patient"


async def test_a_cancelled_request_is_sent_on_to_medipay_once(pipeline: Pipeline) -> None:
    p = pipeline
    _, clinician, card_id = await _request(p)
    request_id = (await p.card(card_id))["lines"][0]["payment_request_id"]
    assert (await clinician.call("payment:cancel", {"request_id": request_id}))["ok"]
    assert (await p.card(card_id))["patient_share"] == 0

    # Bad ids change nothing.
    for bad, code in ((123, "invalid_field"), ("pr_nope", "request_not_found")):
        refused = await clinician.call("bill_card:send", {"request_id": bad})
        assert not refused["ok"] and refused["error"]["code"] == code
    assert (await p.card(card_id))["patient_share"] == 0 and await p.exports(card_id) == []

    sent = await clinician.call("bill_card:send", {"request_id": request_id})
    assert sent["ok"], sent
    assert sent["card"]["status"] == "open_exported" and sent["card"]["patient_share"] == 45000
    card = await p.card(card_id)
    live_lines = [line for line in card["lines"] if not line["voided"]]
    assert [line["patient_amount"] for line in live_lines] == [45000]
    # The cancelled request's own line stays void, for the record.
    assert [line["voided"] for line in card["lines"]] == [True, False]

    # A double click: the request is on the card once, and the card is not sent twice.
    again = await clinician.call("bill_card:send", {"request_id": request_id})
    assert not again["ok"] and again["error"]["code"] == "already_exported"
    assert (await p.card(card_id))["patient_share"] == 45000
    assert len(await p.exports(card_id)) == 1
    assert await p.live.ledger_balanced()
