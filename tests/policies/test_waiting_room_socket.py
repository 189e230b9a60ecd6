"""The waiting room over Socket.IO: the patient pays the gate through the sandbox, the clinician is told."""

from __future__ import annotations

from sqlalchemy import select

from app.keys import DB
from app.ledger import journal
from app.models import BillCard, ConsultPatient, Payment
from tests.factories import Live

BEFORE_JOIN = {"kind": "before_join", "amount": 45000, "description": "Consultation"}


async def test_patient_pays_before_joining_and_the_clinician_is_told(live: Live) -> None:
    consult = await live.consult(payment_policy=BEFORE_JOIN)
    gate = consult["patients"][0]["gate"]
    clinician = await live.peer(consult["clinician"]["token"])
    state = await clinician.wait_for("consult:state")
    # The clinician sees the patient waiting at the gate.
    assert state["consult"]["patients"][0]["gate"]["status"] == "waiting"
    assert state["me"]["gate"] is None

    # The patient opens their link: the waiting room knows what to pay.
    patient = await live.peer(consult["patients"][0]["token"])
    mine = await patient.wait_for("consult:state")
    assert mine["me"]["gate"] == gate
    assert [r["kind"] for r in mine["requests"]] == ["before_join"]

    ack = await patient.call("payment:checkout", {"request_id": gate["request_id"]})
    assert ack["ok"], ack
    status, final_url, _ = await live.pay_on_hosted_page(ack["url"])
    assert status == 200 and final_url.startswith(live.url + "/checkout/return")

    told = await clinician.wait_for("patient:gate", lambda d: d["gate"]["status"] == "paid")
    assert told["patient_id"] == "p-1" and told["gate"]["request_id"] == gate["request_id"]
    assert told["gate"]["amount"] == 45000 and told["gate"]["paid_at"]
    await patient.wait_for("patient:gate", lambda d: d["gate"]["status"] == "paid")

    status, got = await live.api("GET", f"/api/v1/consults/{consult['id']}")
    # Paid, but still in the waiting room until the panel says it is present (rule H4).
    assert got["patients"][0]["gate"]["status"] == "paid" and got["patients"][0]["joined_at"] is None
    ack = await patient.call("patient:present", {})
    assert ack["ok"]
    assert (await clinician.wait_for("patient:joined"))["joined_at"] == ack["joined_at"]

    # The ledger: as for a payment asked for in the call.
    card = await live.scalar(select(BillCard).where(BillCard.patient_ref == "p-1"))
    assert card.status == "paid" and card.patient_share == 45000
    payments = await live.rows(select(Payment.amount, Payment.method).where(Payment.bill_card_id == card.id))
    assert payments == [(45000, "stripe")]
    async with live.app[DB].read() as s:
        balances = await journal.balances(s, live.demo["clinic_id"])
    assert balances[("stripe_clearing", "NOK")] == 45000
    assert balances[("patient_revenue", "NOK")] == -45000
    assert balances[("patient_receivable", "NOK")] == 0
    assert await live.ledger_balanced()


async def test_joined_at_is_set_once_when_the_patient_first_connects(live: Live) -> None:
    consult = await live.consult()
    clinician = await live.peer(consult["clinician"]["token"])
    await clinician.wait_for("consult:state")
    # The clinician joining is not the patient joining.
    row = await live.scalar(select(ConsultPatient).where(ConsultPatient.consult_id == consult["id"]))
    assert row.joined_at is None

    first = await live.peer(consult["patients"][0]["token"])
    await first.wait_for("consult:state")
    row = await live.scalar(select(ConsultPatient).where(ConsultPatient.consult_id == consult["id"]))
    joined = row.joined_at
    assert joined is not None

    # A reconnect later leaves the first time as it was.
    await first.close()
    again = await live.peer(consult["patients"][0]["token"])
    await again.wait_for("consult:state")
    row = await live.scalar(select(ConsultPatient).where(ConsultPatient.consult_id == consult["id"]))
    assert row.joined_at == joined
    _, got = await live.api("GET", f"/api/v1/consults/{consult['id']}")
    assert got["patients"][0]["joined_at"] == joined.isoformat().replace("+00:00", "Z")


async def test_in_call_requests_send_no_gate_event(live: Live) -> None:
    _, clinician, patient = await live.call_pair()
    ack = await clinician.call("payment:request", {"amount": 30000, "description": "Follow-up"})
    assert ack["ok"] and ack["request"]["kind"] == "in_call"
    await clinician.call("payment:cancel", {"request_id": ack["request"]["id"]})
    await patient.wait_for("payment:updated", lambda d: d["request"]["status"] == "cancelled")
    assert clinician.named("patient:gate") == [] and patient.named("patient:gate") == []


async def test_a_hold_waits_in_the_waiting_room_and_ends_with_the_call(live: Live) -> None:
    # Two patients: one whose card the clinic holds, one who pays in the call.
    consult = await live.consult(
        payment_policy={"kind": "hold", "amount": 80000, "description": "Consultation"},
        patients=[{"id": "p-1", "name": "Kari"},
                  {"id": "p-2", "name": "Ola", "payment_policy": {"kind": "in_call"}}])
    clinician = await live.peer(consult["clinician"]["token"])
    state = await clinician.wait_for("consult:state")
    gates = {p["id"]: p["gate"] for p in state["consult"]["patients"]}
    assert gates["p-2"] is None
    assert gates["p-1"]["kind"] == "hold" and gates["p-1"]["status"] == "waiting"
    assert gates["p-1"]["amount"] == 80000

    kari = await live.peer(consult["patients"][0]["token"])
    mine = await kari.wait_for("consult:state")
    assert mine["me"]["gate"] == gates["p-1"]
    # Ola sees no gate, and not Kari's.
    ola = await live.peer(consult["patients"][1]["token"])
    theirs = await ola.wait_for("consult:state")
    assert theirs["me"]["gate"] is None and theirs["requests"] == []

    # The call ends with the card never authorised: the clinician hears the gate expired.
    status, _ = await live.api("POST", f"/api/v1/consults/{consult['id']}/end")
    assert status == 200
    told = await clinician.wait_for("patient:gate")
    assert told == {"patient_id": "p-1", "gate": {**gates["p-1"], "status": "expired"}}
    assert ola.named("patient:gate") == []
