"""One strict input layer: REST bodies and socket payloads refuse what they do not declare.

A misspelt field once meant "not given" (``{"amout": 1000}`` refunded the whole
payment); now every body and payload is parsed by its declared schema and a
field it does not know, a wrong type, an extreme value or a text with control
or bidirectional characters is a 422 / ``{ok: false}`` naming the field, and
nothing changes.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from app.models import Consult, PaymentRefund, PaymentRequest
from tests.consults.test_refunds import ledger, paid_request
from tests.factories import PATIENT, Live, consult_body

BIDI = ["\u202e", "\u202a", "\u202d", "\u2066", "\u2067", "\u2068", "\u2069", "\u200f", "\x00", "\x1b", "\x7f",
        "\x85", "\u2028"]


async def count(live: Live, model: Any) -> int:
    return await live.scalar(select(func.count()).select_from(model))


async def test_a_misspelt_refund_amount_refunds_nothing(live: Live) -> None:
    request, _, _ = await paid_request(live)
    status, body = await live.api("POST", f"/api/v1/payment-requests/{request['id']}/refunds", {"amout": 1000})
    assert status == 422, body
    assert body["error"]["code"] == "unknown_field" and body["error"]["field"] == "amout"
    assert await count(live, PaymentRefund) == 0
    assert await ledger(live) == (45000, -45000)
    _, after = await live.api("GET", f"/api/v1/payment-requests/{request['id']}")
    assert after["status"] == "paid" and after["refunded_amount"] == 0
    # No body at all still means "all that remains", as documented.
    status, refund = await live.api("POST", f"/api/v1/payment-requests/{request['id']}/refunds")
    assert status == 201 and refund["amount"] == 45000


@pytest.mark.parametrize("amount", [0, -1, 10**30, 1.5, "1000", True, [1000], {"minor": 1000}])
async def test_extreme_refund_amounts_are_422(live: Live, amount: Any) -> None:
    request, _, _ = await paid_request(live)
    status, body = await live.api("POST", f"/api/v1/payment-requests/{request['id']}/refunds", {"amount": amount})
    assert status == 422 and body["error"]["field"] == "amount", body
    assert await count(live, PaymentRefund) == 0


async def test_the_panels_refund_refuses_a_misspelt_amount(live: Live) -> None:
    request, clinician, _ = await paid_request(live)
    ack = await clinician.call("payment:refund", {"request_id": request["id"], "amout": 1000})
    assert ack["ok"] is False, ack
    assert ack["error"]["code"] == "unknown_field" and ack["error"]["field"] == "amout"
    assert ack["error"]["message"]
    assert await count(live, PaymentRefund) == 0
    assert await ledger(live) == (45000, -45000)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"clinican": {"id": "u-1", "name": "Dr. N"}}, "clinican"),
        ({"clinician": {"id": "u-1", "name": "Dr. N", "role": "admin"}}, "clinician.role"),
        ({"patients": [{**PATIENT, "nmae": "Kari"}]}, "patients[0].nmae"),
        ({"patients": [{**PATIENT, "address": {"line1": "x", "zip": "0150"}}]}, "patients[0].address.zip"),
    ],
)
async def test_consults_refuse_unknown_fields(live: Live, change: dict[str, Any], field: str) -> None:
    status, body = await live.api("POST", "/api/v1/consults", consult_body(live.demo["clinic_id"], **change))
    assert status == 422 and body["error"] == {**body["error"], "code": "unknown_field", "field": field}, body
    assert await count(live, Consult) == 0


@pytest.mark.parametrize("currency", ["XXX", "XAU", "USD", "SEK", "EUR"])
async def test_consults_take_only_the_clinics_currencies(live: Live, currency: str) -> None:
    status, body = await live.api("POST", "/api/v1/consults",
                                  consult_body(live.demo["clinic_id"], currency=currency))
    assert status == 422 and body["error"]["code"] == "invalid_currency", body
    assert body["error"]["field"] == "currency"
    assert await count(live, Consult) == 0


async def test_the_clinics_currency_is_accepted_in_any_case(live: Live) -> None:
    for currency in ("NOK", "nok", None):
        body = consult_body(live.demo["clinic_id"], currency=currency)
        if currency is None:
            del body["currency"]
        status, answer = await live.api("POST", "/api/v1/consults", body)
        assert status == 201 and answer["currency"] == "NOK", answer


@pytest.mark.parametrize("char", BIDI)
async def test_names_refuse_control_and_bidi_characters_over_rest(live: Live, char: str) -> None:
    spoof = f"Dr. {char}nnamdroN"
    cases = [
        ({"clinician": {"id": "u-1", "name": spoof}}, "clinician.name"),
        ({"patients": [{**PATIENT, "name": spoof}]}, "patients[0].name"),
        ({"external_id": f"call{char}1"}, "external_id"),
    ]
    for change, field in cases:
        status, body = await live.api("POST", "/api/v1/consults", consult_body(live.demo["clinic_id"], **change))
        assert status == 422 and body["error"]["code"] == "invalid_text", (change, body)
        assert body["error"]["field"] == field
    card = {"clinic_id": live.demo["clinic_id"], "patient": {"name": "Kari"},
            "lines": [{"code": "2ad", "description": f"Konsul{char}tasjon", "patient_amount": 100}]}
    status, body = await live.api("POST", "/api/v1/bill-cards", card)
    assert status == 422 and body["error"] == {**body["error"], "code": "invalid_text", "field": "lines[0].description"}
    assert await count(live, Consult) == 0


async def test_the_payment_description_refuses_bidi_characters_on_the_socket(live: Live) -> None:
    _, clinician, patient = await live.call_pair()
    ack = await clinician.call("payment:request", {"amount": 45000, "description": "Konsultasjon \u202egnp.exe"})
    assert ack["ok"] is False and ack["error"]["code"] == "invalid_text" and ack["error"]["field"] == "description"
    assert await count(live, PaymentRequest) == 0
    assert not patient.named("payment:requested")


@pytest.mark.parametrize(
    ("event", "payload", "field"),
    [
        ("payment:request", {"amount": 45000, "description": "Consultation", "ammount": 1}, "ammount"),
        ("payment:request", {"amount": 10**30, "description": "Consultation"}, "amount"),
        ("payment:request", {"amount": -45000, "description": "Consultation"}, "amount"),
        ("payment:request", {"amount": 45000, "description": "x" * 5_000}, "description"),
        ("payment:cancel", {"request_id": "pr_x", "force": True}, "force"),
        ("payment:checkout", {"request_id": "pr_x", "amount": 1}, "amount"),
        ("bill_card:send", {"patient": "p-1"}, "patient"),
    ],
)
async def test_socket_payloads_refuse_unknown_fields_and_extreme_values(
    live: Live, event: str, payload: dict[str, Any], field: str
) -> None:
    _, clinician, patient = await live.call_pair()
    peer = patient if event == "payment:checkout" else clinician
    ack = await peer.call(event, payload)
    assert ack["ok"] is False and ack["error"]["field"] == field, ack
    assert ack["error"]["code"] in ("unknown_field", "invalid_amount", "invalid_field"), ack
    assert await count(live, PaymentRequest) == 0
