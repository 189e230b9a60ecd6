"""The host sets a payment policy when it creates a consult (REST): the gate is made, or nothing is written."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select, update

from app.keys import DB
from app.models import AuditEvent, BillCard, BillCardLine, Clinic, Consult, ConsultPatient, PaymentRequest
from tests.admin.factories import make_clinic
from tests.factories import PATIENT, Live, consult_body

BEFORE_JOIN = {"kind": "before_join", "amount": 45000, "description": "Consultation"}
HOLD = {"kind": "hold", "amount": 80000, "description": "Consultation, up to", "no_show_fee": 30000}


async def test_host_asks_payment_before_joining(live: Live) -> None:
    # The host creates a consult whose patient pays 450 kr before joining.
    status, body = await live.api("POST", "/api/v1/consults",
                                  consult_body(live.demo["clinic_id"], payment_policy=BEFORE_JOIN))
    assert status == 201, body
    patient = body["patients"][0]
    assert patient["payment_policy"] == {**BEFORE_JOIN, "no_show_fee": None}
    gate = patient["gate"]
    assert gate["kind"] == "before_join" and gate["status"] == "waiting" and gate["amount"] == 45000
    assert gate["paid_at"] is None and patient["joined_at"] is None

    # The gate is a normal payment request of its kind, on the patient's card with its line.
    r = await live.scalar(select(PaymentRequest).where(PaymentRequest.id == gate["request_id"]))
    assert (r.kind, r.amount, r.description, r.status, r.hold_amount) == (
        "before_join", 45000, "Consultation", "requested", None)
    row = await live.scalar(select(ConsultPatient).where(ConsultPatient.consult_id == body["id"]))
    assert row.gate_request_id == r.id and row.payment_policy == "before_join" and row.policy_amount == 45000
    card = await live.scalar(select(BillCard).where(BillCard.id == r.bill_card_id))
    assert card.patient_share == 45000 and card.patient_ref == "p-1"
    lines = await live.rows(select(BillCardLine.patient_amount).where(BillCardLine.payment_request_id == r.id))
    assert lines == [(45000,)]
    audit = await live.scalar(select(AuditEvent).where(AuditEvent.subject_id == r.id))
    assert audit.action == "payment.requested" and audit.details["kind"] == "before_join"

    # GET shows the same gate, and the request with its kind.
    status, got = await live.api("GET", f"/api/v1/consults/{body['id']}")
    assert status == 200 and got["patients"][0]["gate"] == gate
    assert [(p["id"], p["kind"]) for p in got["payment_requests"]] == [(r.id, "before_join")]


async def test_patients_own_policy_wins_and_hold_puts_nothing_on_the_card(live: Live) -> None:
    # Two patients: the consult's policy is a hold; the second patient's own policy is in the call.
    patients = [dict(PATIENT), {"id": "p-2", "name": "Ola", "payment_policy": {"kind": "in_call",
                                                                               "no_show_fee": 20000}}]
    status, body = await live.api("POST", "/api/v1/consults", consult_body(
        live.demo["clinic_id"], patients=patients, payment_policy=HOLD))
    assert status == 201, body
    first, second = body["patients"]
    assert first["payment_policy"] == HOLD
    assert first["gate"]["kind"] == "hold" and first["gate"]["status"] == "waiting"
    assert first["gate"]["amount"] == 80000 and first["gate"]["authorised_at"] is None
    assert second["payment_policy"] == {"kind": "in_call", "amount": None, "description": None,
                                        "no_show_fee": 20000}
    assert second["gate"] is None

    r = await live.scalar(select(PaymentRequest).where(PaymentRequest.id == first["gate"]["request_id"]))
    assert (r.kind, r.hold_amount, r.amount, r.patient_id) == ("hold", 80000, 80000, "p-1")
    # The hold has its patient's card, but nothing owed on it until a capture.
    card = await live.scalar(select(BillCard).where(BillCard.id == r.bill_card_id))
    assert card.patient_share == 0 and card.patient_ref == "p-1"
    assert await live.scalar(select(func.count()).select_from(BillCardLine)) == 0
    assert await live.scalar(select(func.count()).select_from(PaymentRequest)) == 1


async def test_clinic_default_applies_unless_the_host_says_otherwise(live: Live) -> None:
    # The clinic's admin has set "pay before joining, 300 kr" for new consults.
    async with live.app[DB].write() as s:
        await s.execute(update(Clinic).where(Clinic.id == live.demo["clinic_id"]).values(
            payment_policy="before_join", policy_amount=30000, policy_description="Video consultation"))
    body = await live.consult()
    gate = body["patients"][0]["gate"]
    assert body["patients"][0]["payment_policy"]["description"] == "Video consultation"
    assert gate["kind"] == "before_join" and gate["amount"] == 30000
    r = await live.scalar(select(PaymentRequest).where(PaymentRequest.id == gate["request_id"]))
    assert r.description == "Video consultation" and r.kind == "before_join"

    # The host's own in_call wins over the clinic's default: no gate, no request.
    body = await live.consult(payment_policy={"kind": "in_call"})
    assert body["patients"][0]["gate"] is None and body["patients"][0]["payment_policy"]["kind"] == "in_call"
    assert await live.scalar(select(func.count()).select_from(PaymentRequest)) == 1


async def test_without_any_policy_nothing_changes(live: Live) -> None:
    body = await live.consult()
    assert body["patients"][0]["payment_policy"]["kind"] == "in_call" and body["patients"][0]["gate"] is None
    assert await live.scalar(select(func.count()).select_from(PaymentRequest)) == 0


def _patient_policy(policy: Any) -> dict[str, Any]:
    return {"patients": [{**PATIENT, "payment_policy": policy}]}


@pytest.mark.parametrize(
    "change, code, field",
    [
        ({"payment_policy": {"kind": "later"}}, "invalid_field", "payment_policy.kind"),
        ({"payment_policy": {}}, "missing_field", "payment_policy.kind"),
        ({"payment_policy": "before_join"}, None, "payment_policy"),
        ({"payment_policy": {"kind": "before_join"}}, "policy_amount_required", "payment_policy.amount"),
        ({"payment_policy": {"kind": "hold", "amount": 45000}}, "policy_description_required",
         "payment_policy.description"),
        ({"payment_policy": {"kind": "in_call", "amount": 45000}}, "invalid_field", "payment_policy.amount"),
        ({"payment_policy": {"kind": "in_call", "description": "x"}}, "invalid_field",
         "payment_policy.description"),
        ({"payment_policy": {**BEFORE_JOIN, "amount": "450"}}, "invalid_field", "payment_policy.amount"),
        ({"payment_policy": {**BEFORE_JOIN, "amount": 450.5}}, "invalid_field", "payment_policy.amount"),
        ({"payment_policy": {**BEFORE_JOIN, "amount": True}}, "invalid_field", "payment_policy.amount"),
        ({"payment_policy": {**BEFORE_JOIN, "amount": 0}}, "invalid_field", "payment_policy.amount"),
        ({"payment_policy": {**BEFORE_JOIN, "amount": 100}}, "amount_too_small", "payment_policy.amount"),
        ({"payment_policy": {**BEFORE_JOIN, "amount": 5_000_001}}, "amount_above_maximum",
         "payment_policy.amount"),
        ({"payment_policy": {**BEFORE_JOIN, "no_show_fee": 100}}, "amount_too_small",
         "payment_policy.no_show_fee"),
        ({"payment_policy": {**BEFORE_JOIN, "description": "a\u202eb"}}, "invalid_text",
         "payment_policy.description"),
        ({"payment_policy": {**BEFORE_JOIN, "description": "x" * 201}}, "invalid_field",
         "payment_policy.description"),
        ({"payment_policy": {**BEFORE_JOIN, "amout": 1}}, "unknown_field", "payment_policy.amout"),
        (_patient_policy({"kind": "hold", "amount": 0, "description": "x"}), "invalid_field",
         "patients[0].payment_policy.amount"),
        (_patient_policy({"kind": "before_join", "description": "x"}), "policy_amount_required",
         "patients[0].payment_policy.amount"),
        (_patient_policy({"kind": "hold", "amount": 200, "description": "x"}), "amount_too_small",
         "patients[0].payment_policy.amount"),
    ],
)
async def test_bad_policies_are_refused_and_nothing_is_written(live: Live, change: dict, code: str | None,
                                                               field: str) -> None:
    # The host sends a policy the service cannot take: a clear 422 naming the field, and no consult.
    body = consult_body(live.demo["clinic_id"])
    body.update(change)
    status, got = await live.api("POST", "/api/v1/consults", body)
    assert status == 422, got
    assert got["error"]["field"] == field and got["error"]["message"]
    if code is not None:
        assert got["error"]["code"] == code
    for table in (Consult, ConsultPatient, PaymentRequest, BillCard, BillCardLine):
        assert await live.scalar(select(func.count()).select_from(table)) == 0


async def test_the_openapi_document_describes_policies_and_gates(live: Live) -> None:
    # A host's developer reads the document: the policy in the body, the gate in the answer.
    status, spec = await live.api("GET", "/api/v1/openapi.json")
    assert status == 200
    op = spec["paths"]["/api/v1/consults"]["post"]
    body = op["requestBody"]["content"]["application/json"]["schema"]
    policy = body["properties"]["payment_policy"]
    assert policy["properties"]["kind"]["enum"] == ["in_call", "before_join", "hold", "card_on_file"]
    assert set(policy["properties"]) == {"kind", "amount", "description", "no_show_fee"}
    assert body["properties"]["patients"]["items"]["properties"]["payment_policy"] == policy
    patient = op["responses"]["201"]["content"]["application/json"]["schema"]["properties"]["patients"]["items"]
    gate = patient["properties"]["gate"]
    assert gate["properties"]["status"]["enum"] == ["waiting", "paid", "authorised", "captured", "released",
                                                    "expired", "card_saved", "charged"]
    assert {"payment_policy", "joined_at"} <= set(patient["properties"])
    # What the service answers has the fields the document names.
    answer = await live.consult(payment_policy=BEFORE_JOIN)
    assert set(gate["properties"]) >= set(answer["patients"][0]["gate"])
    assert set(answer["patients"][0]["payment_policy"]) == set(policy["properties"])


async def test_a_hold_never_authorised_ends_with_the_call_owing_nothing(live: Live) -> None:
    # The host ends a consult whose patient never authorised their card.
    consult = await live.consult(payment_policy=HOLD)
    request_id = consult["patients"][0]["gate"]["request_id"]
    status, ended = await live.api("POST", f"/api/v1/consults/{consult['id']}/end")
    assert status == 200
    assert ended["patients"][0]["gate"]["status"] == "expired"
    [r] = ended["payment_requests"]
    assert r["id"] == request_id and r["status"] == "expired" and r["onward"] == "not_collected"
    card = await live.scalar(select(BillCard).where(BillCard.id == r["bill_card_id"]))
    # Nothing of the hold is owed; the patient never joined, so the no-show fee (HOLD's 300 kr) is the
    # card's one line, for the hourly transfer to MediPay (docs/rules.md, rule H4).
    assert ended["patients"][0]["no_show"]["how"] == "bill_card"
    lines = await live.rows(select(BillCardLine.code, BillCardLine.patient_amount)
                            .where(BillCardLine.bill_card_id == card.id, BillCardLine.voided_at.is_(None)))
    assert lines == [("NOSHOW", 30000)] and card.patient_share == 30000
    assert await live.ledger_balanced()


async def test_a_gate_needs_a_stripe_account_and_nothing_is_written_without_one(live: Live) -> None:
    # A second clinic of the organisation, with no Stripe account linked yet.
    clinic = await make_clinic(live, live.demo["organisation_id"], name="Ny klinikk")
    status, got = await live.api("POST", "/api/v1/consults", consult_body(clinic.id, payment_policy=BEFORE_JOIN))
    assert status == 409 and got["error"]["code"] == "no_stripe_account", got
    for table in (Consult, ConsultPatient, PaymentRequest, BillCard):
        assert await live.scalar(select(func.count()).select_from(table)) == 0
    # Paying in the call still works there (the clinician is told when asking).
    status, got = await live.api("POST", "/api/v1/consults", consult_body(clinic.id))
    assert status == 201
