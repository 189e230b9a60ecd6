"""Socket.IO events from clients: reserved names refused, every event rate-limited, names cut short in logs."""

from __future__ import annotations

import asyncio
import logging

import pytest

from tests.factories import Live


def acks_of(results: list[object]) -> list[str]:
    """Each ack's outcome: "ok" or its error code."""
    return ["ok" if r.get("ok") else r["error"]["code"] for r in results]  # type: ignore[attr-defined]


async def test_emitting_disconnect_does_not_clear_the_rate_limit(live: Live) -> None:
    _, clinician, _ = await live.call_pair()
    outcomes = []
    for _ in range(50):
        await clinician.client.emit("disconnect", namespace="/consult")
        outcomes.append(await clinician.call("payment:cancel", {"request_id": "pr_nope"}))
    codes = acks_of(outcomes)
    # A burst of 10 and 2 a second: a hundred events in a few seconds cannot all be handled.
    assert codes.count("rate_limited") >= 10, codes
    assert clinician.client.connected


async def test_reserved_events_from_a_client_are_refused_and_counted(live: Live) -> None:
    _, clinician, _ = await live.call_pair()
    for name in ("connect", "disconnect"):
        ack = await clinician.call(name, {})
        assert ack["ok"] is False and ack["error"]["code"] == "reserved_event"
    codes = acks_of([await clinician.call("connect", {}) for _ in range(20)])
    assert "rate_limited" in codes, codes


async def test_emitting_connect_does_not_run_the_connect_handler_again(live: Live) -> None:
    consult, clinician, patient = await live.call_pair()
    assert len(patient.named("consult:state")) == 1
    # As if connecting afresh, with the clinician's token as the auth payload.
    await patient.client.emit("connect", ({"REQUEST_METHOD": "GET"}, {"token": consult["clinician"]["token"]}),
                              namespace="/consult")
    await asyncio.sleep(0.5)
    assert len(patient.named("consult:state")) == 1
    ack = await patient.call("payment:request", {"amount": 100, "description": "x"})
    assert ack["error"]["code"] == "forbidden_role"  # still the patient


async def test_unknown_events_are_rate_limited_and_their_names_cut_short_in_the_log(
    live: Live, caplog: pytest.LogCaptureFixture
) -> None:
    _, clinician, _ = await live.call_pair()
    caplog.set_level(logging.DEBUG)
    caplog.clear()
    name = "x" * 30_000
    acks = await asyncio.gather(*(clinician.call(f"{name}{i}", {}) for i in range(100)))
    codes = acks_of(acks)
    assert set(codes) == {"unknown_event", "rate_limited"} and codes.count("unknown_event") < 50, codes
    logged = sum(len(r.getMessage()) for r in caplog.records)
    assert logged < 20_000, logged
    assert all(len(r.getMessage()) < 500 for r in caplog.records)
