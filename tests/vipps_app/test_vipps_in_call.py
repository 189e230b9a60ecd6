"""Vipps in the call end to end: Socket.IO → the Vipps sandbox over HTTP → the patient's phone →
signed webhooks → capture → the ledger and the bill card; and what goes wrong on the way."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from app.keys import DB, PAYMENTS, SERVICES
from app.ledger import journal
from app.models import BillCard, BillCardLine, LedgerTransaction, Payment
from app.payments.vipps import qr_image
from tests.factories import PATIENT, Live
from tests.vipps_app.support import TOKEN_FIELD, control, eventually, phone_answer, request_row, take_vipps


async def _vipps_request(live: Live, amount: int = 45000, **consult: object):  # type: ignore[no-untyped-def]
    await take_vipps(live)
    _, clinician, patient = await live.call_pair(**consult)
    ack = await clinician.call("payment:request", {"amount": amount, "description": "Consultation"})
    assert ack["ok"], ack
    return clinician, patient, ack["request"]


async def _balances(live: Live) -> dict[tuple[str, str], int]:
    async with live.app[DB].read() as s:
        return await journal.balances(s, live.demo["clinic_id"])


async def test_the_patient_pays_with_a_push_and_the_webhook_settles_it(live: Live) -> None:
    clinician, patient, request = await _vipps_request(live)

    ack = await patient.call("payment:vipps", {"request_id": request["id"]})
    assert ack["ok"], ack
    # The patient's number is known: a push to their phone, nothing to open here.
    assert (ack["vipps"]["flow"], ack["vipps"]["status"], ack["vipps"]["url"]) == ("PUSH_MESSAGE", "checkout_open",
                                                                                   None)
    waiting = await clinician.wait_for("payment:updated", lambda d: d["request"]["status"] == "checkout_open")
    assert waiting["request"]["method"] == "vipps"
    assert waiting["request"]["vipps"]["reference"] == ack["vipps"]["reference"]
    # Pressing Pay with Vipps again is the same payment, not a second push.
    again = await patient.call("payment:vipps", {"request_id": request["id"]})
    assert again["vipps"]["reference"] == ack["vipps"]["reference"]

    await phone_answer(live, "approve")

    # Approved in the app: the clinician sees it authorised, then paid once captured.
    authorised = await clinician.wait_for("payment:updated", lambda d: (d["request"]["vipps"] or {}).get("state")
                                          == "AUTHORIZED", timeout=10)
    assert authorised["request"]["status"] == "checkout_open"
    received = await clinician.wait_for("payment:received", timeout=10)
    assert received["request"]["status"] == "paid" and received["request"]["method"] == "vipps"
    assert received["request"]["receipt"]["number"].startswith("CP-")
    await patient.wait_for("payment:updated", lambda d: d["request"]["status"] == "paid")

    card = await live.scalar(select(BillCard).where(BillCard.id == request["bill_card_id"]))
    assert card.status == "paid" and card.patient_share == 45000
    rows = await live.rows(select(Payment.amount, Payment.method, Payment.reference)
                           .where(Payment.bill_card_id == card.id))
    assert rows == [(45000, "vipps", ack["vipps"]["reference"])]
    balances = await _balances(live)
    assert balances[("vipps_clearing", "NOK")] == 45000
    assert balances[("patient_revenue", "NOK")] == -45000
    assert balances[("patient_receivable", "NOK")] == 0
    assert ("stripe_clearing", "NOK") not in balances
    assert await live.ledger_balanced()
    # Captured in full at Vipps, once; the receipt's lines reached Vipps.
    payments = (await control(live, "GET", "/payments"))["payments"]
    mine = [p for p in payments if p["reference"] == ack["vipps"]["reference"]]
    assert mine[0]["aggregate"]["captured"] == 45000
    row = await eventually(lambda: _receipt_sent(live, request["id"]))
    assert row.vipps_psp_reference
    # Our receipt says how it was paid.
    assert live.http
    async with live.http.get(received["request"]["receipt"]["url"], headers={"Accept-Language": "en"}) as resp:
        assert resp.status == 200 and "Vipps" in await resp.text()

    # The settlement report's payment type `vipps` covers it.
    status, report = await live.api("GET", "/api/v1/reports/settlement?payment_type=vipps")
    assert status == 200, report
    assert report["by_payment_type"] == [{"payment_type": "vipps", "currency": "NOK", "payments": 1, "amount": 45000}]
    assert [(c["card_id"], c["payment_types"]) for c in report["cards"]] == [(card.id, ["vipps"])]


async def _receipt_sent(live: Live, request_id: str):  # type: ignore[no-untyped-def]
    row = await request_row(live, request_id)
    return row if row.vipps_receipt_sent_at else None


async def test_no_number_known_gives_a_qr_code(live: Live) -> None:
    patient_without_phone = {k: v for k, v in PATIENT.items() if k != "mobile"}
    clinician, patient, request = await _vipps_request(live, patients=[patient_without_phone])

    ack = await patient.call("payment:vipps", {"request_id": request["id"]})
    assert ack["ok"], ack
    assert ack["vipps"]["flow"] == "QR"
    # The code is drawn here from the target Vipps gave (qrFormat TEXT/TARGETURL): an SVG data URL,
    # so the panel loads no image from Vipps' servers, and the code says the payment's landing page.
    reference = ack["vipps"]["reference"]
    row = await request_row(live, request["id"])
    assert row.checkout_url.startswith(f"{live.settings.vipps_base}/landing?token=")
    assert ack["vipps"]["url"].startswith("data:image/svg+xml")
    assert ack["vipps"]["url"] == qr_image(row.checkout_url)
    assert live.http
    async with live.http.get(row.checkout_url, headers={"Accept-Language": "en"}) as resp:
        assert resp.status == 200 and "Pay with Vipps" in await resp.text()

    # The phone scans the code and approves on the landing page.
    await control(live, "POST", f"/payments/{row.vipps_msn}/{reference}/approve")
    await clinician.wait_for("payment:received", timeout=10)
    assert await live.rows(select(Payment.method, Payment.amount)) == [("vipps", 45000)]


async def test_a_number_typed_under_the_qr_code_sends_a_push(live: Live) -> None:
    patient_without_phone = {k: v for k, v in PATIENT.items() if k != "mobile"}
    clinician, patient, request = await _vipps_request(live, patients=[patient_without_phone])
    qr = await patient.call("payment:vipps", {"request_id": request["id"]})
    push = await patient.call("payment:vipps", {"request_id": request["id"], "flow": "PUSH_MESSAGE",
                                                "phone": "+47 912 34 567"})
    assert push["ok"], push
    assert push["vipps"]["flow"] == "PUSH_MESSAGE" and push["vipps"]["reference"] != qr["vipps"]["reference"]
    # The QR payment was cancelled at Vipps first: only the push can be paid.
    states = {p["reference"]: p["state"] for p in (await control(live, "GET", "/payments"))["payments"]}
    assert states[qr["vipps"]["reference"]] == "TERMINATED"
    await phone_answer(live, "approve")
    await clinician.wait_for("payment:received", timeout=10)
    assert await live.scalar(select(func.count(Payment.id))) == 1


async def test_rejected_in_vipps_the_request_can_be_paid_again(live: Live) -> None:
    clinician, patient, request = await _vipps_request(live)
    first = await patient.call("payment:vipps", {"request_id": request["id"]})
    await phone_answer(live, "reject")
    update = await clinician.wait_for("payment:updated", lambda d: (d["request"]["problem"] or {}).get("code")
                                      == "rejected", timeout=10)
    assert update["request"]["status"] == "requested"
    assert await live.scalar(select(Payment.id)) is None

    second = await patient.call("payment:vipps", {"request_id": request["id"]})
    assert second["ok"] and second["vipps"]["reference"] != first["vipps"]["reference"]
    await phone_answer(live, "approve")
    await clinician.wait_for("payment:received", timeout=10)


async def test_a_push_not_answered_in_five_minutes_expires(live: Live) -> None:
    clinician, patient, request = await _vipps_request(live)
    await patient.call("payment:vipps", {"request_id": request["id"]})
    await control(live, "POST", "/clock/advance", {"minutes": 6})
    update = await clinician.wait_for("payment:updated", lambda d: d["request"]["status"] == "expired", timeout=10)
    assert update["request"]["problem"]["code"] == "expired"
    line = await live.scalar(select(BillCardLine).where(BillCardLine.payment_request_id == request["id"]))
    assert line.voided_at is not None
    assert await live.scalar(select(Payment.id)) is None


async def test_duplicate_and_late_webhooks_settle_once(live: Live) -> None:
    clinician, patient, request = await _vipps_request(live)
    await control(live, "POST", "/webhooks", {"duplicate": 3, "late_next": 2, "late_seconds": 0.5})
    await patient.call("payment:vipps", {"request_id": request["id"]})
    await phone_answer(live, "approve")
    await clinician.wait_for("payment:received", timeout=10)

    async def all_delivered():  # type: ignore[no-untyped-def]
        log = (await control(live, "GET", "/webhooks"))["deliveries"]
        # CREATED, AUTHORIZED and CAPTURED, each more than once, every copy answered 2xx.
        return len(log) >= 2 * 3 and all(d["status"] == "succeeded" for d in log)

    await eventually(all_delivered, timeout=15)
    assert await live.scalar(select(func.count(Payment.id))) == 1
    assert await live.scalar(select(func.count(LedgerTransaction.id))) == 1
    assert len(clinician.named("payment:received")) == 1
    assert (await _balances(live))[("vipps_clearing", "NOK")] == 45000


async def test_webhooks_and_the_poll_racing_settle_once(live: Live) -> None:
    import asyncio

    clinician, patient, request = await _vipps_request(live)
    # No webhook gets through: the poll (Vipps' recommended fallback) must find the payment.
    await control(live, "POST", "/webhooks", {"fail_next": 1000})
    ack = await patient.call("payment:vipps", {"request_id": request["id"]})
    await phone_answer(live, "approve")
    vipps = live.app[SERVICES].vipps_payments
    event = {"reference": ack["vipps"]["reference"]}
    outcomes = await asyncio.gather(vipps.poll(), vipps.sync(request["id"]), vipps.handle_event(event),
                                    live.app[PAYMENTS].expire_due(), vipps.sync(request["id"]))
    assert outcomes
    await clinician.wait_for("payment:received", timeout=10)
    assert await live.scalar(select(func.count(Payment.id))) == 1
    assert await live.scalar(select(func.count(LedgerTransaction.id))) == 1
    assert (await request_row(live, request["id"])).status == "paid"
    assert await live.ledger_balanced()


async def test_a_capture_that_fails_after_vipps_made_it_is_retried_with_the_same_key(live: Live) -> None:
    clinician, patient, request = await _vipps_request(live)
    ack = await patient.call("payment:vipps", {"request_id": request["id"]})
    await control(live, "POST", "/faults", {"kind": "error_after_commit", "path": "/epayment/v1/payments/"
                                            + ack["vipps"]["reference"] + "/capture"})
    await phone_answer(live, "approve")
    await clinician.wait_for("payment:received", timeout=10)
    mine = [p for p in (await control(live, "GET", "/payments"))["payments"]
            if p["reference"] == ack["vipps"]["reference"]]
    # Captured once, though the first answer was lost.
    assert mine[0]["aggregate"]["captured"] == 45000
    assert (await control(live, "GET", "/faults"))["faults"] == []
    assert await live.scalar(select(func.count(Payment.id))) == 1


async def test_refunds_partial_then_full_go_back_through_vipps(live: Live) -> None:
    clinician, patient, request = await _vipps_request(live)
    ack = await patient.call("payment:vipps", {"request_id": request["id"]})
    await phone_answer(live, "approve")
    await clinician.wait_for("payment:received", timeout=10)

    part = await clinician.call("payment:refund", {"request_id": request["id"], "amount": 10000,
                                                   "idempotency_key": "r-1"})
    assert part["ok"], part
    assert part["refund"]["status"] == "succeeded" and part["request"]["status"] == "partially_refunded"
    same = await clinician.call("payment:refund", {"request_id": request["id"], "amount": 10000,
                                                   "idempotency_key": "r-1"})
    assert same["refund"]["id"] == part["refund"]["id"]
    too_much = await clinician.call("payment:refund", {"request_id": request["id"], "amount": 40000})
    assert too_much["error"]["code"] == "amount_too_large"

    status, rest = await live.api("POST", f"/api/v1/payment-requests/{request['id']}/refunds")
    assert status in (200, 201), rest
    assert rest["amount"] == 35000
    row = await request_row(live, request["id"])
    assert (row.status, row.refunded_amount) == ("refunded", 45000)
    rows = sorted(await live.rows(select(Payment.method, Payment.amount)))
    assert rows == [("vipps", 45000), ("vipps_refund", -35000), ("vipps_refund", -10000)]
    balances = await _balances(live)
    assert balances[("vipps_clearing", "NOK")] == 0 and balances[("patient_revenue", "NOK")] == 0
    assert await live.ledger_balanced()
    mine = [p for p in (await control(live, "GET", "/payments"))["payments"]
            if p["reference"] == ack["vipps"]["reference"]]
    assert mine[0]["aggregate"]["refunded"] == 45000


async def test_bad_input_gets_a_clear_error_and_changes_nothing(live: Live) -> None:
    clinician, patient, request = await _vipps_request(live)
    for payload, code in (
        ({"request_id": request["id"], "flow": "FAX"}, "invalid_flow"),
        ({"request_id": request["id"], "phone": "not a number"}, "invalid_phone"),
        ({"request_id": request["id"], "phone": "+47 12"}, "invalid_phone"),
        ({"request_id": request["id"], "amount": 1}, "unknown_field"),
        ({}, "missing_field"),
        ({"request_id": "pr_nope"}, "request_not_found"),
        ("oops", None),
    ):
        ack = await patient.call("payment:vipps", payload)
        assert ack["ok"] is False, (payload, ack)
        assert code is None or ack["error"]["code"] == code, (payload, ack)
    # Only the patient pays.
    ack = await clinician.call("payment:vipps", {"request_id": request["id"]})
    assert ack["error"]["code"] == "forbidden_role"
    row = await request_row(live, request["id"])
    assert (row.status, row.method, row.vipps_reference) == ("requested", "card", None)


async def test_a_clinic_with_vipps_switched_off_is_not_offered(live: Live) -> None:
    await take_vipps(live, enabled=False)
    _, clinician, patient = await live.call_pair()
    request = (await clinician.call("payment:request", {"amount": 45000, "description": "Consultation"}))["request"]
    ack = await patient.call("payment:vipps", {"request_id": request["id"]})
    assert ack["error"]["code"] == "vipps_not_offered"
    assert (await request_row(live, request["id"])).method == "card"
    # The panel offers only the card.
    assert live.http
    async with live.http.get(f"{live.url}/join/{(await live.consult())['patients'][0]['token']}") as resp:
        assert '"vipps": false' in await resp.text()


async def test_a_forged_or_unknown_webhook_is_refused_and_changes_nothing(live: Live) -> None:
    clinician, patient, request = await _vipps_request(live)
    ack = await patient.call("payment:vipps", {"request_id": request["id"]})
    row = await request_row(live, request["id"])
    body = json.dumps({"msn": row.vipps_msn, "reference": ack["vipps"]["reference"], "pspReference": "1",
                       "name": "CAPTURED", "amount": {"currency": "NOK", "value": 45000},
                       "timestamp": "2026-12-03T10:00:00Z", "success": True})
    headers = {"x-ms-date": "Thu, 03 Dec 2026 10:00:00 GMT", "x-ms-content-sha256": "AAAA",
               "Authorization": "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=AAAA"}
    status, answer = await live.api("POST", "/webhooks/vipps", raw=body.encode(), headers=headers)
    assert status == 401 and answer["error"]["code"] == "invalid_signature"
    status, _ = await live.api("POST", "/webhooks/vipps", raw=b'{"msn": "999999"}', headers=headers)
    assert status == 401
    status, _ = await live.api("POST", "/webhooks/vipps", raw=b"not json", headers=headers)
    assert status == 400
    assert (await request_row(live, request["id"])).status == "checkout_open"
    assert await live.scalar(select(Payment.id)) is None


async def test_pay_by_card_after_choosing_vipps_cancels_the_vipps_payment(live: Live) -> None:
    clinician, patient, request = await _vipps_request(live)
    vipps = await patient.call("payment:vipps", {"request_id": request["id"]})
    card = await patient.call("payment:checkout", {"request_id": request["id"]})
    assert card["ok"], card
    states = {p["reference"]: p["state"] for p in (await control(live, "GET", "/payments"))["payments"]}
    assert states[vipps["vipps"]["reference"]] == "TERMINATED"
    row = await request_row(live, request["id"])
    assert (row.method, row.status) == ("card", "checkout_open")
    # And back to Vipps: the Checkout page is closed first, the late expiry of it is stale.
    again = await patient.call("payment:vipps", {"request_id": request["id"]})
    assert again["ok"], again
    await phone_answer(live, "approve")
    await clinician.wait_for("payment:received", timeout=10)
    assert await live.rows(select(Payment.method)) == [("vipps",)]


async def test_the_clinician_cancels_a_payment_waiting_in_vipps(live: Live) -> None:
    clinician, patient, request = await _vipps_request(live)
    vipps = await patient.call("payment:vipps", {"request_id": request["id"]})
    ack = await clinician.call("payment:cancel", {"request_id": request["id"]})
    assert ack["ok"] and ack["request"]["status"] == "cancelled"
    states = {p["reference"]: p["state"] for p in (await control(live, "GET", "/payments"))["payments"]}
    assert states[vipps["vipps"]["reference"]] == "TERMINATED"
    assert await live.scalar(select(Payment.id)) is None


async def test_on_a_phone_the_vipps_app_opens_and_comes_back_to_the_call(live: Live) -> None:
    await take_vipps(live)
    consult, clinician, patient = await live.call_pair()
    request = (await clinician.call("payment:request", {"amount": 45000, "description": "Consultation"}))["request"]
    ack = await patient.call("payment:vipps", {"request_id": request["id"], "flow": "NATIVE_REDIRECT"})
    assert ack["ok"] and ack["vipps"]["flow"] == "NATIVE_REDIRECT" and ack["vipps"]["url"]
    assert live.http
    async with live.http.get(ack["vipps"]["url"]) as resp:
        assert resp.status == 200
        token = TOKEN_FIELD.search(await resp.text())
    assert token
    async with live.http.post(f"{live.url}/_sandbox/vipps/pay", allow_redirects=False,
                              data={"token": token.group(1), "action": "approve", "from": "landing"}) as resp:
        assert resp.status == 303
        # Back to the patient's own panel in the call.
        assert resp.headers["Location"] == consult["patients"][0]["join_url"]
    await clinician.wait_for("payment:received", timeout=10)


async def test_a_lost_answer_to_the_payment_is_sent_again_with_its_key_not_made_twice(live: Live) -> None:
    clinician, patient, request = await _vipps_request(live)
    # Vipps makes the payment but both answers are lost (the call is tried twice with the same key).
    await control(live, "POST", "/faults", {"kind": "error_after_commit", "next": 2,
                                            "path": "/epayment/v1/payments"})
    lost = await patient.call("payment:vipps", {"request_id": request["id"]})
    assert lost["ok"] is False and lost["error"]["code"] == "vipps_unavailable"
    row = await request_row(live, request["id"])
    assert (row.status, row.method) == ("requested", "vipps")

    again = await patient.call("payment:vipps", {"request_id": request["id"]})
    assert again["ok"], again
    assert again["vipps"]["reference"] == row.vipps_reference
    made = [p for p in (await control(live, "GET", "/payments"))["payments"]
            if p["reference"].startswith(row.vipps_reference.rsplit("-", 1)[0])]
    assert len(made) == 1
    await phone_answer(live, "approve")
    await clinician.wait_for("payment:received", timeout=10)


async def test_the_demo_call_offers_vipps_with_the_seeded_merchant(live: Live) -> None:
    """A newcomer on the embedded default: the demo clinic's merchant is the sandbox's demo merchant."""
    import re

    assert live.http
    async with live.http.get(f"{live.url}/demo", headers={"Accept-Language": "en"}) as resp:
        assert resp.status == 200
        page = await resp.text()
    phone = re.search(r'href="([^"]+/_sandbox/vipps/phone/\d+)"', page)
    assert phone, "the demo links the patient's phone"
    patient_url = re.findall(r'<iframe class="call__frame" src="([^"]+)"', page)[1]
    async with live.http.get(patient_url.replace("&amp;", "&")) as resp:
        assert '"vipps": true' in await resp.text()

    token = patient_url.rsplit("/join/", 1)[1].split("?")[0]
    clinician_url = re.findall(r'<iframe class="call__frame" src="([^"]+)"', page)[0]
    clinician = await live.peer(clinician_url.rsplit("/join/", 1)[1].split("?")[0])
    patient = await live.peer(token)
    await clinician.wait_for("consult:state")
    ack = await clinician.call("payment:request", {"amount": 45000, "description": "Consultation"})
    request_id = ack["request"]["id"]
    pay = await patient.call("payment:vipps", {"request_id": request_id})
    assert pay["ok"] and pay["vipps"]["flow"] == "PUSH_MESSAGE", pay
    await phone_answer(live, "approve")
    await clinician.wait_for("payment:received", timeout=10)
