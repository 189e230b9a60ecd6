"""The /consult namespace: who may connect, what each role may do, and what survives a reload."""

from __future__ import annotations

import time

import jwt
import pytest
import socketio
from sqlalchemy import func, select

from app.models import PaymentRequest
from tests.factories import PATIENT, Live, Peer


async def refused(live: Live, auth: object) -> str:
    peer = Peer()
    with pytest.raises(socketio.exceptions.ConnectionError) as info:
        await peer.client.connect(live.url, namespaces=["/consult"], auth=auth, transports=["websocket"],
                                  wait_timeout=5)
    await peer.close()
    return str(info.value)


async def test_bad_tokens_are_refused_at_connect(live: Live) -> None:
    consult = await live.consult()
    token = consult["clinician"]["token"]
    claims = jwt.decode(token, options={"verify_signature": False})

    assert await refused(live, None)
    assert await refused(live, {"token": ""})
    assert await refused(live, {"token": token[:-4] + "AAAA"})  # forged signature
    other_secret = "another-secret-that-is-long-enough-for-hs256"
    forged = jwt.encode({**claims, "role": "clinician"}, other_secret, algorithm="HS256")
    assert await refused(live, {"token": forged})
    expired = jwt.encode({**claims, "exp": int(time.time()) - 1}, live.settings.secret_key, algorithm="HS256")
    assert await refused(live, {"token": expired})

    status, _ = await live.api("POST", f"/api/v1/consults/{consult['id']}/end")
    assert status == 200
    assert await refused(live, {"token": token})


async def test_roles_are_checked_on_every_event(live: Live) -> None:
    _, clinician, patient = await live.call_pair()
    ack = await patient.call("payment:request", {"amount": 500, "description": "x"})
    assert ack["ok"] is False and ack["error"]["code"] == "forbidden_role"
    ack = await patient.call("payment:cancel", {"request_id": "pr_x"})
    assert ack["error"]["code"] == "forbidden_role"
    request = (await clinician.call("payment:request", {"amount": 500, "description": "x"}))["request"]
    ack = await clinician.call("payment:checkout", {"request_id": request["id"]})
    assert ack["error"]["code"] == "forbidden_role"
    ack = await clinician.call("payment:nonsense", {})
    assert ack["error"]["code"] == "unknown_event"


async def test_patients_never_see_each_other(live: Live) -> None:
    other = {**PATIENT, "id": "p-2", "name": "Per Hansen", "email": "per@example.no"}
    consult = await live.consult(patients=[dict(PATIENT), other])
    clinician = await live.peer(consult["clinician"]["token"])
    kari = await live.peer(consult["patients"][0]["token"])
    per = await live.peer(consult["patients"][1]["token"])
    for peer in (clinician, kari, per):
        await peer.wait_for("consult:state")

    # With two patients the clinician must say whom the request is for.
    ack = await clinician.call("payment:request", {"amount": 500, "description": "x"})
    assert ack["error"]["code"] == "unknown_patient"
    for_per = (await clinician.call("payment:request", {"amount": 52000, "description": "Per", "patient_id": "p-2"}))
    await per.wait_for("payment:requested")
    await clinician.call("payment:request", {"amount": 41000, "description": "Kari", "patient_id": "p-1"})
    await kari.wait_for("payment:requested")

    assert all(d["request"]["patient_id"] == "p-1" for _, d in kari.events if _.startswith("payment:"))
    assert all(d["request"]["patient_id"] == "p-2" for _, d in per.events if _.startswith("payment:"))
    ack = await kari.call("payment:checkout", {"request_id": for_per["request"]["id"]})
    assert ack["error"]["code"] == "request_not_found"

    # A reconnect gives Kari her own state only.
    again = await live.peer(consult["patients"][0]["token"])
    state = await again.wait_for("consult:state")
    assert [r["patient_id"] for r in state["requests"]] == ["p-1"]
    assert [p["id"] for p in state["consult"]["patients"]] == ["p-1"]
    assert "national_id" not in state["consult"]["patients"][0]


async def test_other_consults_are_out_of_reach(live: Live) -> None:
    _, clinician_a, _ = await live.call_pair()
    _, clinician_b, patient_b = await live.call_pair()
    request_b = (await clinician_b.call("payment:request", {"amount": 500, "description": "B"}))["request"]
    ack = await clinician_a.call("payment:cancel", {"request_id": request_b["id"]})
    assert ack["error"]["code"] == "request_not_found"


async def test_double_click_makes_one_request(live: Live) -> None:
    import asyncio

    _, clinician, patient = await live.call_pair()
    payload = {"amount": 45000, "description": "Consultation", "idempotency_key": "click-1"}
    acks = await asyncio.gather(*(clinician.call("payment:request", payload) for _ in range(3)))
    assert len({a["request"]["id"] for a in acks}) == 1
    # The same click without a key, twice in a row, is still one request.
    plain = {"amount": 30000, "description": "Follow-up"}
    first, second = [await clinician.call("payment:request", plain) for _ in range(2)]
    assert first["request"]["id"] == second["request"]["id"]
    assert await live.scalar(select(func.count()).select_from(PaymentRequest)) == 2
    await patient.wait_for("payment:requested", lambda d: d["request"]["amount"] == 30000)
    assert len(patient.named("payment:requested")) == 2


@pytest.mark.parametrize(
    "payload, code",
    [
        (None, "bad_request"),
        ("45000", "bad_request"),
        ([], "bad_request"),
        ({"amount": 0, "description": "x"}, "invalid_amount"),
        ({"amount": -5, "description": "x"}, "invalid_amount"),
        ({"amount": 450.5, "description": "x"}, "invalid_amount"),
        ({"amount": "45000", "description": "x"}, "invalid_amount"),
        ({"amount": True, "description": "x"}, "invalid_amount"),
        ({"amount": 10**12, "description": "x"}, "invalid_amount"),
        ({"amount": 500}, "invalid_description"),
        ({"amount": 500, "description": "   "}, "invalid_description"),
        ({"amount": 500, "description": "x" * 201}, "invalid_field"),
        ({"amount": 500, "description": 7}, "invalid_field"),
        ({"amount": 500, "description": "x", "currency": "SEK"}, "currency_mismatch"),
        ({"amount": 500, "description": "x", "currency": 3}, "currency_mismatch"),
        ({"amount": 500, "description": "x", "patient_id": "p-9"}, "unknown_patient"),
        ({"amount": 500, "description": "x", "patient_id": {"a": 1}}, "unknown_patient"),
        ({"amount": 500, "description": "x", "idempotency_key": 5}, "invalid_field"),
    ],
)
async def test_bad_request_payloads_get_clear_errors(live: Live, payload: object, code: str) -> None:
    _, clinician, patient = await live.call_pair()
    ack = await clinician.call("payment:request", payload)
    assert ack["ok"] is False and ack["error"]["code"] == code, ack
    assert ack["error"]["message"]
    for bad in (None, {}, {"request_id": 5}, {"request_id": "nope"}):
        assert (await clinician.call("payment:cancel", bad))["ok"] is False
        assert (await patient.call("payment:checkout", bad))["ok"] is False
    assert await live.scalar(select(func.count()).select_from(PaymentRequest)) == 0
    assert not patient.named("payment:requested")


async def test_reconnect_restores_everything(live: Live) -> None:
    consult, clinician, patient = await live.call_pair()
    request = (await clinician.call("payment:request", {"amount": 45000, "description": "Consultation"}))["request"]
    await patient.close()
    await clinician.call("payment:cancel", {"request_id": request["id"]})
    second = (await clinician.call("payment:request", {"amount": 35000, "description": "Again"}))["request"]

    back = await live.peer(consult["patients"][0]["token"])
    state = await back.wait_for("consult:state")
    by_id = {r["id"]: r["status"] for r in state["requests"]}
    assert by_id == {request["id"]: "cancelled", second["id"]: "requested"}


async def test_ending_the_consult_stops_everyone(live: Live) -> None:
    consult, clinician, patient = await live.call_pair()
    request = (await clinician.call("payment:request", {"amount": 45000, "description": "Consultation"}))["request"]
    status, body = await live.api("POST", f"/api/v1/consults/{consult['id']}/end")
    assert status == 200 and body["status"] == "ended"
    assert body["payment_requests"][0]["status"] == "expired"
    await patient.wait_for("consult:ended")
    await clinician.wait_for("payment:updated", lambda d: d["request"]["id"] == request["id"])
