"""A before_join gate still unpaid when the call is over is not owed; the no-show fee is (rules H4, H5)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.clock import ManualClock
from app.keys import SERVICES
from app.models import BillCard, BillCardLine, MediPayExport, Payment, PaymentRequest
from tests.factories import Live

BEFORE_JOIN = {"kind": "before_join", "amount": 45000, "description": "Consultation", "no_show_fee": 30000}


async def _card_owes(live: Live, request_id: str) -> tuple[BillCard, list[Any]]:
    r = await live.scalar(select(PaymentRequest).where(PaymentRequest.id == request_id))
    card = await live.scalar(select(BillCard).where(BillCard.id == r.bill_card_id))
    lines = await live.rows(select(BillCardLine.code, BillCardLine.description, BillCardLine.patient_amount)
                            .where(BillCardLine.bill_card_id == card.id, BillCardLine.voided_at.is_(None)))
    return card, lines


async def test_host_ends_with_the_gate_unpaid(live: Live) -> None:
    consult = await live.consult(payment_policy=BEFORE_JOIN)
    request_id = consult["patients"][0]["gate"]["request_id"]
    clinician = await live.peer(consult["clinician"]["token"])
    await clinician.wait_for("consult:state")
    # The patient opened the waiting room and left without paying; the host ends the consult.
    patient = await live.peer(consult["patients"][0]["token"])
    await patient.wait_for("consult:state")
    await patient.close()
    status, ended = await live.api("POST", f"/api/v1/consults/{consult['id']}/end")
    assert status == 200, ended
    [r] = ended["payment_requests"]
    assert (r["id"], r["status"], r["onward"]) == (request_id, "cancelled", "not_collected")
    assert ended["patients"][0]["gate"]["status"] == "expired"
    told = await clinician.wait_for("payment:updated", lambda d: d["request"]["id"] == request_id)
    assert told["request"]["status"] == "cancelled"
    # The patient never got in: the consultation is not owed, the no-show fee is, on the MediPay card.
    assert ended["patients"][0]["no_show"]["how"] == "bill_card"
    card, lines = await _card_owes(live, request_id)
    assert lines == [("NOSHOW", "No-show fee", 30000)]
    assert card.patient_share == 30000 and card.status == "open"
    queued = await live.rows(select(MediPayExport.trigger).where(MediPayExport.bill_card_id == card.id))
    assert queued == [("hourly",)]
    assert await live.rows(select(Payment.id)) == []
    assert await live.ledger_balanced()


async def test_host_ends_while_the_gate_payment_page_is_open(live: Live) -> None:
    consult = await live.consult(payment_policy=BEFORE_JOIN)
    request_id = consult["patients"][0]["gate"]["request_id"]
    patient = await live.peer(consult["patients"][0]["token"])
    await patient.wait_for("consult:state")
    # The patient opened Stripe's page from the waiting room and left it there.
    ack = await patient.call("payment:checkout", {"request_id": request_id})
    assert ack["ok"], ack
    r = await live.scalar(select(PaymentRequest).where(PaymentRequest.id == request_id))
    assert r.status == "checkout_open"
    status, ended = await live.api("POST", f"/api/v1/consults/{consult['id']}/end")
    assert status == 200, ended
    [r] = ended["payment_requests"]
    assert (r["status"], r["onward"]) == ("cancelled", "not_collected")
    # The page is closed at Stripe: it can no longer take the gate's amount.
    assert live.http
    row = await live.scalar(select(PaymentRequest).where(PaymentRequest.id == request_id))
    headers = {"Authorization": f"Bearer {live.settings.stripe_key}", "Stripe-Account": row.stripe_account_id or ""}
    async with live.http.get(f"{live.sandbox}/v1/checkout/sessions/{row.checkout_session_id}",
                             headers=headers) as resp:
        assert (await resp.json())["status"] == "expired"
    # The card owes the no-show fee alone, and only that goes to MediPay.
    assert ended["patients"][0]["no_show"]["how"] == "bill_card"
    card, lines = await _card_owes(live, request_id)
    assert lines == [("NOSHOW", "No-show fee", 30000)] and card.patient_share == 30000
    queued = await live.rows(select(MediPayExport.trigger).where(MediPayExport.bill_card_id == card.id))
    assert queued == [("hourly",)]
    assert await live.rows(select(Payment.id)) == []


async def test_without_a_no_show_fee_nothing_is_owed(live: Live) -> None:
    consult = await live.consult(payment_policy={**BEFORE_JOIN, "no_show_fee": None})
    request_id = consult["patients"][0]["gate"]["request_id"]
    status, ended = await live.api("POST", f"/api/v1/consults/{consult['id']}/end")
    assert status == 200 and ended["patients"][0]["no_show"] is None
    assert ended["payment_requests"][0]["status"] == "cancelled"
    card, lines = await _card_owes(live, request_id)
    assert lines == [] and card.patient_share == 0
    assert await live.rows(select(MediPayExport.id)) == []


async def test_a_consult_that_ran_out_with_the_gate_unpaid(clocked: tuple[Live, ManualClock]) -> None:
    live, clock = clocked
    consult = await live.consult(payment_policy=BEFORE_JOIN,
                                 patients=[{"id": "p-1", "name": "Kari"},
                                           {"id": "p-2", "name": "Ola",
                                            "payment_policy": {**BEFORE_JOIN, "no_show_fee": None}}])
    gates = [p["gate"]["request_id"] for p in consult["patients"]]
    job = live.app[SERVICES].job("no-shows")
    assert await job() == 0  # still running: the gates wait
    clock.advance(seconds=live.settings.consult_ttl_seconds + 60)
    # Never ended by the host: the job cancels both gates and decides Kari's no-show, once.
    assert await job() == 3
    assert await job() == 0
    _, got = await live.api("GET", f"/api/v1/consults/{consult['id']}")
    assert {r["id"]: r["status"] for r in got["payment_requests"]} == dict.fromkeys(gates, "cancelled")
    assert [p["no_show"] and p["no_show"]["how"] for p in got["patients"]] == ["bill_card", None]
    card, lines = await _card_owes(live, gates[0])
    assert lines == [("NOSHOW", "No-show fee", 30000)] and card.patient_share == 30000
    card, lines = await _card_owes(live, gates[1])
    assert lines == [] and card.patient_share == 0
