"""A connect's read (``app/consults/join_read.py``): one ready statement, the same ``consult:state``.

The ORM read it replaced is kept here, word for word, as the reference: for a
clinician and for patients with requests in every state, cards with MediPay's
side filled in, gates (paid, authorised, waiting), a no-show and the clinic's
limits, the ``consult:state`` the socket hears is the same JSON, byte for byte.
The refusals keep their messages, and a connect's statements are pinned.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import socketio
from sqlalchemy import select, update

from app.billing.card_views import CardSummary
from app.billing.serialisers import as_json
from app.consults.participant import Participant
from app.i18n import get_translator
from app.keys import CONSULTS, DB
from app.models import BillCard, Clinic, Consult, ConsultPatient, PaymentRequest
from app.payments.amount_limits import limits_view
from tests.factories import PATIENT, Live, Peer
from tests.realtime.test_request_statements import sqlite_statements

BEFORE_JOIN = {"kind": "before_join", "amount": 45000, "description": "Consultation", "no_show_fee": 30000}
HOLD = {"kind": "hold", "amount": 60000, "description": "Hold", "no_show_fee": 20000}
# A reconnect (the patient already joined, or a clinician): the one statement of the read.
RECONNECT = 1


async def orm_state(live: Live, token: str) -> dict[str, Any]:
    """``consult:state`` as the connect made it through the ORM before (a session, five statements)."""
    consults = live.app[CONSULTS]
    claims = consults.claims(token)
    async with live.app[DB].read() as s:
        consult = await s.get(Consult, claims.consult_id)
        assert consult is not None
        who = Participant(claims=claims, consult=consult)
        patients = await consults._patients(s, consult.id)
        requests = await consults._requests(s, consult.id)
        query = select(BillCard).where(BillCard.consult_id == consult.id).order_by(BillCard.created_at)
        if who.role != "clinician":
            query = query.where(BillCard.patient_ref == who.id)
        bill_cards = list(await s.scalars(query))
        clinic = await s.get(Clinic, consult.clinic_id) if who.role == "clinician" else None
    state = as_json(consults._state_view(who, consult, patients, requests))
    state["cards"] = [as_json(CardSummary.from_row(card)) for card in bill_cards]
    if who.role == "clinician":
        state["limits"] = limits_view(clinic)
    return state


async def _write(live: Live, *statements: Any) -> None:
    async with live.app[DB].write() as s:
        for statement in statements:
            await s.execute(statement)


async def _busy_consult(live: Live) -> dict[str, Any]:
    """Three patients (a paid gate, an authorised hold and a no-show, none at all) and requests and
    cards with every field the views show set somewhere."""
    patients = [
        {**PATIENT, "id": "p-1", "payment_policy": BEFORE_JOIN},
        {**PATIENT, "id": "p-2", "name": "Per Hansen", "email": "per@example.no", "payment_policy": HOLD},
        {**PATIENT, "id": "p-3", "name": "Ola Berg", "email": "ola@example.no"},
    ]
    consult = await live.consult(patients=patients)
    clinician = await live.peer(consult["clinician"]["token"])
    await clinician.wait_for("consult:state")
    made = []
    for patient_id, amount, description in (("p-3", 45000, "Consultation"), ("p-3", 12000, "Prescription"),
                                            ("p-1", 9000, "Certificate")):
        ack = await clinician.call("payment:request", {"patient_id": patient_id, "amount": amount,
                                                       "description": description})
        assert ack["ok"], ack
        made.append(ack["request"])
    await clinician.close()
    at = datetime(2026, 12, 1, 10, 0, 30, 123456, tzinfo=UTC)
    gate_1, gate_2 = consult["patients"][0]["gate"]["request_id"], consult["patients"][1]["gate"]["request_id"]
    by_id = PaymentRequest.id
    await _write(
        live,
        # p-1's gate paid (their first connect joins them); p-2's hold authorised, but a no-show.
        update(PaymentRequest).where(by_id == gate_1).values(
            status="paid", paid_at=at, receipt_reference="K-1001", receipt_token="tok-1",
            checkout_session_id="cs_1", payment_intent_id="pi_1", checkout_expires_at=at + timedelta(hours=1)),
        update(PaymentRequest).where(by_id == gate_2).values(
            status="authorised", authorised_at=at, capture_before=at + timedelta(days=6), payment_intent_id="pi_2"),
        update(ConsultPatient).where(ConsultPatient.consult_id == consult["id"],
                                     ConsultPatient.patient_id == "p-2").values(no_show_at=at),
        # p-3's requests: one paid with Vipps and refunded in part, one with a declined checkout.
        update(PaymentRequest).where(by_id == made[0]["id"]).values(
            status="partially_refunded", paid_at=at, refunded_amount=5000, method="vipps",
            vipps_reference="vr-1", vipps_flow="PUSH_MESSAGE", vipps_state="CAPTURED", vipps_psp_reference="psp-1",
            receipt_reference="K-1002", receipt_token="tok-2", updated_at=at),
        update(PaymentRequest).where(by_id == made[1]["id"]).values(
            status="checkout_open", problem="declined", problem_detail="insufficient_funds", problem_at=at,
            failure_reason="card_declined", onward="medipay_queue"),
        # p-3's card exported to MediPay and refused there.
        update(BillCard).where(BillCard.id == made[0]["bill_card_id"]).values(
            medipay_state="rejected", medipay_reason_code="R12", medipay_message="Unknown patient",
            exported_at=at, exported_patient_share=57000, medipay_admin_fee=6500, next_retry_at=at + timedelta(days=1)),
        update(Clinic).where(Clinic.id == live.demo["clinic_id"]).values(
            max_request_amount=750_000, confirm_above_amount=120_000),
    )
    return consult


async def _compare(live: Live, token: str) -> tuple[Peer, dict[str, Any]]:
    expected = await orm_state(live, token)
    peer = await live.peer(token)
    heard = await peer.wait_for("consult:state")
    assert json.dumps(heard) == json.dumps(expected)
    return peer, heard


async def test_the_state_is_the_orm_reads_byte_for_byte(live: Live) -> None:
    consult = await _busy_consult(live)
    clinician, state = await _compare(live, consult["clinician"]["token"])
    assert [p["gate"]["status"] if p["gate"] else None for p in state["consult"]["patients"]] == \
        ["paid", "authorised", None]
    assert len(state["requests"]) == 5 and len(state["cards"]) == 3
    assert state["limits"] == {"max_amount": 750_000, "confirm_above": 120_000}
    for n in range(3):
        patient, mine = await _compare(live, consult["patients"][n]["token"])
        assert {r["patient_id"] for r in mine["requests"]} == {f"p-{n + 1}"}
        assert [c["patient_id"] for c in mine["cards"]] == [f"p-{n + 1}"]
        assert "limits" not in mine
    # The first connect through an open gate joined p-1 (once, the clinician told); not the no-show.
    joined = dict(await live.rows(select(ConsultPatient.patient_id, ConsultPatient.joined_at)
                                   .where(ConsultPatient.consult_id == consult["id"])))
    assert joined["p-1"] is not None and joined["p-2"] is None and joined["p-3"] is not None
    told = await clinician.wait_for("patient:joined", lambda d: d["patient_id"] == "p-1")
    assert told["joined_at"]
    # And after those writes, still the same.
    await clinician.close()
    await _compare(live, consult["clinician"]["token"])


async def _refusal(live: Live, token: str, lang: str | None = None) -> str:
    heard: list[Any] = []
    peer = Peer()
    peer.client.on("connect_error", heard.append, namespace="/consult")
    auth: dict[str, Any] = {"token": token, **({"lang": lang} if lang else {})}
    with pytest.raises(socketio.exceptions.ConnectionError):
        await peer.client.connect(live.url, namespaces=["/consult"], auth=auth, transports=["websocket"],
                                  wait_timeout=5)
    await peer.close()
    assert len(heard) == 1, heard
    return str(heard[0]["message"] if isinstance(heard[0], dict) else heard[0])


async def test_refusals_keep_their_messages(live: Live) -> None:
    nb, en = get_translator("nb").gettext, get_translator("en").gettext
    ended, invalid = "The consultation has ended.", "The join link is invalid or has expired."
    consult = await live.consult()
    token = consult["clinician"]["token"]
    # A token for a consult that is not there.
    signer = live.app[CONSULTS].signer
    now = datetime.now(UTC)
    unknown = signer.issue(consult_id="con_missing", role="patient", participant_id="p-1", now=now,
                           expires_at=now + timedelta(hours=1))
    assert await _refusal(live, unknown) == nb(invalid)
    assert await _refusal(live, unknown, "en") == en(invalid)
    # Past its expiry in the database, while its token still runs.
    await _write(live, update(Consult).where(Consult.id == consult["id"]).values(expires_at=now - timedelta(seconds=1)))
    assert await _refusal(live, token) == nb(ended)
    assert await _refusal(live, consult["patients"][0]["token"], "en") == en(ended)
    # Ended.
    other = await live.consult()
    status, _ = await live.api("POST", f"/api/v1/consults/{other['id']}/end")
    assert status == 200
    assert await _refusal(live, other["patients"][0]["token"]) == nb(ended)
    assert await _refusal(live, other["clinician"]["token"] + "x") == nb(invalid)


async def test_a_reconnect_is_one_statement(live: Live) -> None:
    if not live.app[DB].is_sqlite:
        pytest.skip("counted on SQLite, where a statement costs CPU in this process")
    consult = await _busy_consult(live)
    for token in (consult["clinician"]["token"], consult["patients"][2]["token"]):
        first = await live.peer(token)
        await first.wait_for("consult:state")  # a patient's first connect joins them: a write of its own
        await first.close()
        with sqlite_statements(live) as seen:
            again = await live.peer(token)
            await again.wait_for("consult:state")
        assert len(seen) == RECONNECT, "\n".join(seen)
        await again.close()
