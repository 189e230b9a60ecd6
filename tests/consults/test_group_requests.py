"""Group consults: the clinician asks one, several or all patients at once (``payment:request`` with
``patient_ids``); each patient sees and pays only their own request, and the clinician sees each one's state."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import func, select

from app.errors import Conflict
from app.keys import DB
from app.ledger import journal
from app.models import AuditEvent, BillCard, BillCardLine, Payment, PaymentRequest
from app.payments import group_requests
from app.payments.request_store import store
from tests.factories import PATIENT, Live, Peer

PER = {**PATIENT, "id": "p-2", "name": "Per Hansen", "email": "per@example.no"}
ANNE = {**PATIENT, "id": "p-3", "name": "Anne Berg", "email": "anne@example.no"}


async def group_call(live: Live) -> tuple[dict[str, Any], Peer, dict[str, Peer]]:
    """A consult with three patients, the clinician and each patient connected."""
    consult = await live.consult(patients=[dict(PATIENT), PER, ANNE])
    clinician = await live.peer(consult["clinician"]["token"])
    patients = {p["id"]: await live.peer(p["token"]) for p in consult["patients"]}
    for peer in (clinician, *patients.values()):
        await peer.wait_for("consult:state")
    return consult, clinician, patients


async def written(live: Live) -> tuple[int, int, int, int]:
    """Requests, cards, card lines and request audit entries in the database."""
    return (
        await live.scalar(select(func.count()).select_from(PaymentRequest)),
        await live.scalar(select(func.count()).select_from(BillCard)),
        await live.scalar(select(func.count()).select_from(BillCardLine)),
        await live.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "payment.requested")),
    )


async def test_all_patients_each_get_their_own_request_and_pay_it(live: Live) -> None:
    consult, clinician, patients = await group_call(live)

    ack = await clinician.call("payment:request", {"amount": 45000, "description": "Group session",
                                                   "patient_ids": "all", "idempotency_key": "group-1"})
    assert ack["ok"], ack
    made = ack["requests"]
    assert [r["patient_id"] for r in made] == ["p-1", "p-2", "p-3"]
    assert "request" not in ack
    assert all(r["amount"] == 45000 and r["status"] == "requested" for r in made)
    by_patient = {r["patient_id"]: r for r in made}

    # Each patient hears of their own request and of no one else's.
    for patient_id, peer in patients.items():
        pushed = await peer.wait_for("payment:requested")
        assert pushed["request"]["id"] == by_patient[patient_id]["id"]
    for patient_id, peer in patients.items():
        assert {d["request"]["patient_id"] for name, d in peer.events if name.startswith("payment:")} == {patient_id}
    for r in made:
        await clinician.wait_for("payment:updated", lambda d, r=r: d["request"]["id"] == r["id"])

    # In the database: one card per patient, each with its one line, and an audit entry per request.
    cards = await live.rows(select(BillCard.patient_ref, BillCard.patient_share, BillCard.id)
                            .where(BillCard.consult_id == consult["id"]))
    assert sorted((ref, share) for ref, share, _ in cards) == [("p-1", 45000), ("p-2", 45000), ("p-3", 45000)]
    card_of = {ref: card_id for ref, _, card_id in cards}
    lines = await live.rows(select(BillCardLine.bill_card_id, BillCardLine.payment_request_id,
                                   BillCardLine.patient_amount))
    assert sorted(lines) == sorted((card_of[r["patient_id"]], r["id"], 45000) for r in made)
    assert all(r["bill_card_id"] == card_of[r["patient_id"]] for r in made)
    audited = await live.rows(select(AuditEvent.subject_id).where(AuditEvent.action == "payment.requested"))
    assert sorted(a for (a,) in audited) == sorted(r["id"] for r in made)

    # A patient cannot open another's request.
    other = await patients["p-1"].call("payment:checkout", {"request_id": by_patient["p-2"]["id"]})
    assert other["error"]["code"] == "request_not_found"

    # Each pays on their own; the clinician sees each one paid, and only that one.
    for n, patient_id in enumerate(["p-2", "p-1", "p-3"], start=1):
        request_id = by_patient[patient_id]["id"]
        url = (await patients[patient_id].call("payment:checkout", {"request_id": request_id}))["url"]
        status, _, _ = await live.pay_on_hosted_page(url, email=f"{patient_id}@example.no")
        assert status == 200
        received = await clinician.wait_for("payment:received", lambda d, i=request_id: d["request"]["id"] == i)
        assert received["request"]["patient_id"] == patient_id
        paid = await live.rows(select(PaymentRequest.patient_id).where(PaymentRequest.status == "paid"))
        assert len(paid) == n and (patient_id,) in paid
        await patients[patient_id].wait_for("payment:updated", lambda d: d["request"]["status"] == "paid")

    payments = await live.rows(select(Payment.bill_card_id, Payment.amount))
    assert sorted(payments) == sorted((card_id, 45000) for card_id in card_of.values())
    async with live.app[DB].read() as s:
        balances = await journal.balances(s, live.demo["clinic_id"])
    assert balances[("stripe_clearing", "NOK")] == 3 * 45000
    assert balances[("patient_receivable", "NOK")] == 0
    assert await live.ledger_balanced()


async def test_some_patients_only(live: Live) -> None:
    consult, clinician, patients = await group_call(live)

    ack = await clinician.call("payment:request", {"amount": 30000, "description": "Follow-up",
                                                   "patient_ids": ["p-3", "p-1"]})
    assert ack["ok"], ack
    assert sorted(r["patient_id"] for r in ack["requests"]) == ["p-1", "p-3"]
    await patients["p-1"].wait_for("payment:requested")
    await patients["p-3"].wait_for("payment:requested")
    assert await live.rows(select(PaymentRequest.patient_id).order_by(PaymentRequest.patient_id)) == [
        ("p-1",), ("p-3",)]
    assert await live.scalar(select(BillCard.id).where(BillCard.patient_ref == "p-2")) is None
    assert patients["p-2"].named("payment:requested") == []

    # One patient in the list: the ack also carries it as ``request``, as a single request's does.
    one = await clinician.call("payment:request", {"amount": 12000, "description": "Note", "patient_ids": ["p-2"]})
    assert one["ok"] and one["request"] == one["requests"][0] and one["request"]["patient_id"] == "p-2"
    assert (await patients["p-2"].wait_for("payment:requested"))["request"]["id"] == one["request"]["id"]
    # A host's numeric ids are taken as text, as for patient_id.
    assert (await clinician.call("payment:request", {"amount": 500, "description": "x",
                                                     "patient_ids": [2]}))["error"]["field"] == "patient_ids"


async def test_a_bad_patient_refuses_all_and_writes_nothing(live: Live) -> None:
    consult, clinician, patients = await group_call(live)
    # Two of the clinician's sockets, so the refusals below stay within each one's burst of events.
    second = await live.peer(consult["clinician"]["token"])
    await second.wait_for("consult:state")
    base = {"amount": 45000, "description": "Group session"}

    refusals = [
        ({"patient_ids": ["p-1", "nobody", "p-3"]}, "unknown_patient", "patient_ids"),
        ({"patient_ids": ["p-1", "p-2", "p-1"]}, "invalid_field", "patient_ids"),
        ({"patient_ids": []}, "missing_field", "patient_ids"),
        ({"patient_ids": "everyone"}, "invalid_field", "patient_ids"),
        ({"patient_ids": ["p-1"] * 21}, "invalid_field", "patient_ids"),
        ({"patient_ids": "all", "patient_id": "p-1"}, "invalid_field", "patient_ids"),
        ({"patient_ids": [{"id": "p-1"}]}, "invalid_field", "patient_ids[0]"),
        # The rules of one request hold for each: here above the clinic's maximum, or too small for Stripe.
        ({"patient_ids": "all", "amount": 6_000_000}, "amount_above_maximum", "amount"),
        ({"patient_ids": "all", "amount": 100}, "amount_too_small", "amount"),
        ({"patient_ids": "all", "amount": 600_000}, "confirmation_required", "confirmed"),
        ({"patient_ids": "all", "currency": "SEK"}, "currency_mismatch", None),
    ]
    for n, (change, code, field) in enumerate(refusals):
        ack = await (clinician, second)[n % 2].call("payment:request", {**base, **change})
        assert ack["ok"] is False, (change, ack)
        assert ack["error"]["code"] == code, (change, ack)
        assert ack["error"].get("field") == field, (change, ack)
        assert ack["error"]["message"]

    patient = await patients["p-1"].call("payment:request", {**base, "patient_ids": "all"})
    assert patient["error"]["code"] == "forbidden_role"

    assert await written(live) == (0, 0, 0, 0)
    await asyncio.sleep(0.2)
    assert all(peer.named("payment:requested") == [] for peer in patients.values())
    assert clinician.named("payment:updated") == second.named("payment:updated") == []


async def test_a_refusal_for_one_patient_rolls_back_the_others(live: Live, monkeypatch: Any) -> None:
    consult, clinician, patients = await group_call(live)
    # The first two patients' requests are stored, then the third is refused: none are kept.
    stored: list[str] = []

    def third_refused(conn: Any, ask: Any) -> Any:
        if len(stored) == 2:
            raise Conflict("consult_ended", "The consultation has ended.")
        stored.append(ask.patient_id)
        return store(conn, ask)

    monkeypatch.setattr(group_requests, "store", third_refused)
    ack = await clinician.call("payment:request", {"amount": 45000, "description": "x", "patient_ids": "all"})
    assert ack["error"]["code"] == "consult_ended" and stored == ["p-1", "p-2"]
    assert await written(live) == (0, 0, 0, 0)
    monkeypatch.undo()

    # And a consult that has ended refuses the group as a whole.
    status, _ = await live.api("POST", f"/api/v1/consults/{consult['id']}/end")
    assert status == 200
    ack = await clinician.call("payment:request", {"amount": 45000, "description": "x", "patient_ids": "all"})
    assert ack["ok"] is False
    assert await written(live) == (0, 0, 0, 0)
    await asyncio.sleep(0.2)
    assert all(peer.named("payment:requested") == [] for peer in patients.values())


async def test_the_same_key_twice_returns_the_same_set(live: Live) -> None:
    _, clinician, patients = await group_call(live)
    payload = {"amount": 45000, "description": "Group session", "patient_ids": "all", "idempotency_key": "click-9"}

    acks = await asyncio.gather(*(clinician.call("payment:request", payload) for _ in range(3)))
    assert all(a["ok"] for a in acks), acks
    sets = [[r["id"] for r in a["requests"]] for a in acks]
    assert sets[0] == sets[1] == sets[2] and len(set(sets[0])) == 3
    # A retry later, with the same key, is the same set too.
    again = await clinician.call("payment:request", payload)
    assert [r["id"] for r in again["requests"]] == sets[0]
    keys = await live.rows(select(PaymentRequest.idempotency_key).order_by(PaymentRequest.patient_id))
    assert keys == [("click-9:p-1",), ("click-9:p-2",), ("click-9:p-3",)]
    assert await written(live) == (3, 3, 3, 3)
    await asyncio.sleep(0.2)
    for peer in patients.values():
        assert len(peer.named("payment:requested")) == 1

    # Without a key, the same click twice is still one request per patient.
    plain = {"amount": 20000, "description": "Extra", "patient_ids": ["p-1", "p-2"]}
    first, second = [await clinician.call("payment:request", plain) for _ in range(2)]
    assert [r["id"] for r in first["requests"]] == [r["id"] for r in second["requests"]]
    assert await written(live) == (5, 3, 5, 5)


async def test_a_group_request_is_one_event_for_the_rate_limit(live: Live) -> None:
    _, clinician, _ = await group_call(live)
    # A socket may send bursts of 10 events: six group requests of three patients each are six events.
    acks = [await clinician.call("payment:request", {"amount": 45000 + n, "description": f"Session {n}",
                                                     "patient_ids": "all"}) for n in range(6)]
    assert all(a["ok"] for a in acks), acks
    assert await written(live) == (18, 3, 18, 18)


# On PostgreSQL, where the same click's events really run side by side (they meet at the clinic's row lock).


async def test_all_patients_pay_on_postgres(live_pg: Live) -> None:
    await test_all_patients_each_get_their_own_request_and_pay_it(live_pg)


async def test_the_same_key_twice_on_postgres(live_pg: Live) -> None:
    await test_the_same_key_twice_returns_the_same_set(live_pg)


async def test_a_refusal_rolls_back_on_postgres(live_pg: Live, monkeypatch: Any) -> None:
    await test_a_refusal_for_one_patient_rolls_back_the_others(live_pg, monkeypatch)
