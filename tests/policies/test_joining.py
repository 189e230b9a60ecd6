"""Joining means being in the call, not waiting at its gate (docs/rules.md, rule H4)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.models import ConsultPatient
from tests.factories import Live, Peer

BEFORE_JOIN = {"kind": "before_join", "amount": 45000, "description": "Consultation", "no_show_fee": 30000}


async def _joined_at(live: Live, consult_id: str, patient_id: str = "p-1") -> Any:
    return await live.scalar(select(ConsultPatient.joined_at).where(
        ConsultPatient.consult_id == consult_id, ConsultPatient.patient_id == patient_id))


async def _pay_gate(live: Live, patient: Peer, gate: dict[str, Any]) -> None:
    """The patient pays the gate on Stripe's page, in another tab: their panel stays connected."""
    ack = await patient.call("payment:checkout", {"request_id": gate["request_id"]})
    assert ack["ok"], ack
    status, final_url, _ = await live.pay_on_hosted_page(ack["url"])
    assert status == 200 and final_url.startswith(live.url + "/checkout/return")
    await patient.wait_for("patient:gate", lambda d: d["gate"]["status"] == "paid")


async def test_waiting_room_is_not_joining_until_the_gate_opens(live: Live) -> None:
    consult = await live.consult(payment_policy=BEFORE_JOIN)
    gate = consult["patients"][0]["gate"]
    clinician = await live.peer(consult["clinician"]["token"])
    first = await clinician.wait_for("consult:state")
    assert first["consult"]["patients"][0]["joined_at"] is None
    patient = await live.peer(consult["patients"][0]["token"])
    await patient.wait_for("consult:state")
    # Connected, but in the waiting room: not joined, and saying so changes nothing.
    assert await _joined_at(live, consult["id"]) is None
    refused = await patient.call("patient:present", {})
    assert refused["ok"] is False and refused["error"]["code"] == "gate_closed"
    assert await _joined_at(live, consult["id"]) is None
    # Only the patient says it.
    assert (await clinician.call("patient:present", {}))["error"]["code"] == "forbidden_role"
    assert (await patient.call("patient:present", {"x": 1}))["error"]["code"] == "unknown_field"

    # Paid in Stripe's tab: the panel, still connected, hears its gate open and says it is present.
    await _pay_gate(live, patient, gate)
    assert await _joined_at(live, consult["id"]) is None
    ack = await patient.call("patient:present", {})
    assert ack["ok"] and ack["joined_at"]
    joined = await _joined_at(live, consult["id"])
    assert joined is not None
    told = await clinician.wait_for("patient:joined")
    assert told == {"patient_id": "p-1", "joined_at": ack["joined_at"]}
    # Once: said again, or reconnecting, keeps the first time and tells the clinician nothing more.
    again = await patient.call("patient:present", {})
    assert again == {"ok": True, "joined_at": ack["joined_at"]}
    await patient.close()
    back = await live.peer(consult["patients"][0]["token"])
    await back.wait_for("consult:state")
    assert await _joined_at(live, consult["id"]) == joined
    assert len(clinician.named("patient:joined")) == 1
    # The clinician's panel, reconnecting, reads it from consult:state.
    await clinician.close()
    panel = await live.peer(consult["clinician"]["token"])
    state = await panel.wait_for("consult:state")
    assert state["consult"]["patients"][0]["joined_at"] == ack["joined_at"]
    _, got = await live.api("GET", f"/api/v1/consults/{consult['id']}")
    assert got["patients"][0]["joined_at"] == ack["joined_at"]


async def test_connecting_with_the_gate_open_is_joining(live: Live) -> None:
    consult = await live.consult(payment_policy=BEFORE_JOIN)
    clinician = await live.peer(consult["clinician"]["token"])
    await clinician.wait_for("consult:state")
    waiting = await live.peer(consult["patients"][0]["token"])
    await waiting.wait_for("consult:state")
    await _pay_gate(live, waiting, consult["patients"][0]["gate"])
    # The patient closed the panel while paying and opens their link again: in the call at once.
    await waiting.close()
    patient = await live.peer(consult["patients"][0]["token"])
    await patient.wait_for("consult:state")
    told = await clinician.wait_for("patient:joined")
    assert told["patient_id"] == "p-1" and told["joined_at"]
    status, ended = await live.api("POST", f"/api/v1/consults/{consult['id']}/end")
    assert status == 200 and ended["patients"][0]["no_show"] is None


async def test_host_admits_the_patient(live: Live) -> None:
    consult = await live.consult(payment_policy=BEFORE_JOIN, patients=[
        {"id": "p-1", "name": "Kari"}, {"id": "p-2", "name": "Ola", "payment_policy": {"kind": "in_call"}}])
    clinician = await live.peer(consult["clinician"]["token"])
    await clinician.wait_for("consult:state")
    admit = f"/api/v1/consults/{consult['id']}/patients/%s/admit"
    # Not before the gate is open; nothing written.
    status, body = await live.api("POST", admit % "p-1")
    assert (status, body["error"]["code"]) == (409, "gate_closed")
    assert await _joined_at(live, consult["id"]) is None
    # A patient without a gate may be admitted before their panel connects.
    status, ola = await live.api("POST", admit % "p-2")
    assert status == 200 and ola["id"] == "p-2" and ola["joined_at"] and ola["gate"] is None
    assert (await clinician.wait_for("patient:joined"))["patient_id"] == "p-2"
    status, again = await live.api("POST", admit % "p-2")
    assert status == 200 and again["joined_at"] == ola["joined_at"]
    assert len(clinician.named("patient:joined")) == 1
    # Unknown ones, and another organisation's key.
    status, body = await live.api("POST", admit % "p-9")
    assert (status, body["error"]["code"]) == (404, "patient_not_found")
    status, body = await live.api("POST", "/api/v1/consults/con_nope/patients/p-1/admit")
    assert (status, body["error"]["code"]) == (404, "consult_not_found")
    status, _ = await live.api("POST", admit % "p-1", headers={"Authorization": "Bearer nope"})
    assert status == 401

    # Kari pays in the waiting room, her panel closed meanwhile; the host lets her in.
    patient = await live.peer(consult["patients"][0]["token"])
    await patient.wait_for("consult:state")
    await _pay_gate(live, patient, consult["patients"][0]["gate"])
    await patient.close()
    status, kari = await live.api("POST", admit % "p-1")
    assert status == 200 and kari["joined_at"] and kari["gate"]["status"] == "paid"
    assert kari["payment_policy"]["kind"] == "before_join"
    await clinician.wait_for("patient:joined", lambda d: d["patient_id"] == "p-1")

    # Over: no one is admitted any more, whoever they are.
    status, ended = await live.api("POST", f"/api/v1/consults/{consult['id']}/end")
    assert status == 200 and [p["no_show"] for p in ended["patients"]] == [None, None]
    status, body = await live.api("POST", admit % "p-1")
    assert (status, body["error"]["code"]) == (409, "consult_ended")
