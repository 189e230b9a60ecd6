"""The hand-off from the call to MediPay: previewed, confirmed, and told truthfully to both people.

``bill_card:preview`` shows what the patient would be asked and changes
nothing; ``bill_card:send`` with the confirmed ``expect_total`` sends only that.
The claim carries the clinician's description and the patient's language, and
every request handed over says so (``onward``) instead of a bare *Cancelled*.
"""

from __future__ import annotations

from tests.medipay.conftest import Pipeline


async def test_preview_changes_nothing_and_send_goes_only_as_confirmed(pipeline: Pipeline) -> None:
    p = pipeline
    consult, clinician, patient = await p.live.call_pair(language="sv")
    ack = await clinician.call("payment:request", {"amount": 45000, "description": "Blodprov"})
    request, card_id = ack["request"], ack["request"]["bill_card_id"]

    refused = await patient.call("bill_card:preview", {})
    assert not refused["ok"] and refused["error"]["code"] == "forbidden_role"
    shown = await clinician.call("bill_card:preview", {})
    assert shown["ok"], shown
    assert shown["preview"] == {
        "card_id": card_id, "patient_id": "p-1", "amount": 45000, "admin_fee": 3900, "total": 48900,
        "currency": "NOK", "channel": "sms", "mobile": "+4791234567", "description": "Blodprov", "language": "sv",
    }
    # Nothing went: no SMS, the request is still payable in the call.
    assert p.medipay.sms == [] and await p.status(card_id) == "under_work"
    assert (await p.live.api("GET", f"/api/v1/payment-requests/{request['id']}"))[1]["status"] == "requested"

    # A total other than the one shown is refused, and nothing changes.
    stale = await clinician.call("bill_card:send", {"expect_total": 45000})
    assert not stale["ok"] and stale["error"]["code"] == "preview_changed"
    assert p.medipay.sms == [] and await p.status(card_id) == "under_work"

    sent = await clinician.call("bill_card:send", {"expect_total": 48900})
    assert sent["ok"] and sent["card"]["status"] == "open_exported", sent
    [sms] = p.medipay.sms
    assert "Blodprov" in sms["text"] and "489,00" in sms["text"] and "Consultation" not in sms["text"], sms
    assert sms["text"].startswith("MediPay: Du har en räkning"), sms["text"]
    claim = p.medipay.claims[card_id]
    assert (claim["description"], claim["language"], claim["total"]) == ("Blodprov", "sv", 48900)

    # Both people hear where it went.
    for person in (clinician, patient):
        update = await person.wait_for("payment:updated", lambda d: d["request"]["onward"] == "medipay_sms")
        assert update["request"]["id"] == request["id"]
    assert await p.live.ledger_balanced()


async def test_call_end_says_where_each_unpaid_amount_went(pipeline: Pipeline) -> None:
    p = pipeline
    consult, clinician, _ = await p.live.call_pair()
    open_one = (await clinician.call("payment:request", {"amount": 45000, "description": "Consultation"}))["request"]
    status, ended = await p.live.api("POST", f"/api/v1/consults/{consult['id']}/end")
    assert status == 200
    [r] = [x for x in ended["payment_requests"] if x["id"] == open_one["id"]]
    assert (r["status"], r["onward"]) == ("expired", "medipay_queue")
