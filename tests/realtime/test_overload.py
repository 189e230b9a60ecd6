"""Overload: past its bound a process answers new work "busy" at once, keeps webhooks and health, and recovers."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import func, select

from app.db import Database
from app.keys import DB
from app.models import Payment, PaymentRequest, StripeEvent
from app.realtime.overload import LOAD_GATE, LoadGate
from tests.consults.test_stripe_webhooks import completed_event, open_request, post_event
from tests.factories import Live


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_gate_counts_lag_and_work_in_flight() -> None:
    clock = FakeClock()
    gate = LoadGate(max_lag_ms=200, max_in_flight=2, clock=clock)
    assert gate.retry_after_ms() is None
    # A probe due at 100.05 that has not run by 100.5: the loop is 450 ms behind now.
    gate._next_wake = 100.05  # noqa: SLF001 - the probe's own state, set as the probe would
    clock.now = 100.5
    assert abs(gate.lag() - 0.45) < 1e-9
    assert gate.retry_after_ms() == 900
    # The probe ran and found the loop on time again.
    gate._lag, gate._next_wake = 0.001, 100.55  # noqa: SLF001
    assert gate.retry_after_ms() is None
    with gate.working(), gate.working():
        assert gate.in_flight == 2
        assert gate.refuse() == 400  # at least twice the lag bound
    assert gate.in_flight == 0 and gate.refused == 1
    assert gate.retry_after_ms() is None
    # Work queued behind the database does not show as lag, but the oldest socket event ages.
    queued = LoadGate(max_lag_ms=200, max_in_flight=0, max_queue_ms=500, clock=clock)
    with queued.working(event=True):
        clock.now += 0.2
        with queued.working(event=True), queued.working():
            assert queued.retry_after_ms() is None
            clock.now += 0.4
            assert abs(queued.oldest_event_age() - 0.6) < 1e-9
            assert queued.retry_after_ms() == 600
    assert queued.oldest_event_age() == 0 and queued.retry_after_ms() is None
    # 0 turns a bound off.
    off = LoadGate(max_lag_ms=0, max_in_flight=0, clock=clock)
    off._next_wake = 0.0  # noqa: SLF001
    with off.working():
        assert off.retry_after_ms() is None


async def _block_the_loop(stop: asyncio.Event, seconds: float, blocks: list[int] | None = None) -> None:
    # The lag of an overloaded process: the loop runs something that does not yield.
    while not stop.is_set():
        if blocks is not None:
            blocks[0] += 1
        time.sleep(seconds)  # noqa: ASYNC251 - blocking on purpose
        await asyncio.sleep(0.001)


async def test_under_injected_lag_events_are_answered_busy_at_once_then_admitted(live: Live) -> None:
    _, clinician, patient = await live.call_pair()
    gate = live.app[LOAD_GATE]
    gate.max_lag = 0.2  # the default bound; the tests' settings turn it off (tests/conftest.py)
    gate.start()  # the probe, which runs only with a lag bound
    ok = await clinician.call("payment:request", {"amount": 500, "description": "Before"})
    assert ok["ok"] is True

    stop = asyncio.Event()
    blocks = [0]
    blocker = asyncio.create_task(_block_the_loop(stop, 0.3, blocks))
    try:
        await asyncio.sleep(0.7)
        assert gate.lag() >= gate.max_lag
        before = blocks[0]
        ack = await clinician.call("payment:request", {"amount": 600, "description": "During"})
        # How many of the loop's 0.3 s blocks the answer waited through: the client and the server
        # share this loop, so the event and its ack each take a turn of it.
        waited = blocks[0] - before
    finally:
        stop.set()
        await blocker
    assert ack["ok"] is False and ack["error"]["code"] == "busy", ack
    assert ack["error"]["retry_after"] >= 1 and 250 <= ack["error"]["retry_after_ms"] <= 5000
    assert ack["error"]["message"]  # in the consult's language
    # Answered within the blocked loop's own pauses, not after a queue: a handful of its turns (the
    # way there and back through both sides' sockets), counted, not timed, so a block that oversleeps
    # on a busy machine (5 × 0.302 s) does not count as a queue.
    assert waited <= 5, waited
    # Nothing was stored for the refused request.
    assert await live.scalar(select(func.count()).select_from(PaymentRequest)
                             .where(PaymentRequest.description == "During")) == 0

    # Once the lag clears, the same request is admitted.
    await asyncio.sleep(0.2)
    assert gate.retry_after_ms() is None
    again = await clinician.call("payment:request", {"amount": 600, "description": "During"})
    assert again["ok"] is True
    await patient.wait_for("payment:requested", lambda d: d["request"]["description"] == "During")


async def test_past_the_bound_rest_is_503_webhooks_and_health_still_served(live: Live) -> None:
    request, session_id, clinician = await open_request(live)
    account = await live.scalar(select(PaymentRequest.stripe_account_id))
    gate = live.app[LOAD_GATE]
    held = [gate.working() for _ in range(gate.max_in_flight)]
    for hold in held:
        hold.__enter__()
    try:
        status, body = await live.api("GET", "/api/v1/bill-cards")
        assert status == 503 and body["error"]["code"] == "busy"
        assert int(body["error"]["retry_after"]) >= 1
        async with live.http.get(live.url + "/api/v1/bill-cards", headers=live.headers) as resp:
            assert resp.status == 503 and int(resp.headers["Retry-After"]) >= 1
        ack = await clinician.call("payment:request", {"amount": 700, "description": "Busy"})
        assert ack["error"]["code"] == "busy"
        # Health and readiness keep answering.
        for path in ("/healthz", "/readyz"):
            status, _ = await live.api("GET", path)
            assert status == 200, path
        # Webhooks are never shed: each delivery (some twice, as Stripe retries) is applied exactly once.
        event = completed_event("evt_overload_1", request, session_id, account=account)
        results = await asyncio.gather(*(post_event(live, event) for _ in range(3)))
        assert [status for status, _ in results] == [200, 200, 200]
    finally:
        for hold in held:
            hold.__exit__(None, None, None)
    assert await live.scalar(select(func.count()).select_from(Payment)
                             .where(Payment.payment_request_id == request["id"])) == 1
    assert await live.scalar(select(func.count()).select_from(StripeEvent)
                             .where(StripeEvent.id == "evt_overload_1")) == 1
    assert await live.scalar(select(PaymentRequest.status).where(PaymentRequest.id == request["id"])) == "paid"
    assert await live.ledger_balanced()
    # Below the bound again: admitted.
    status, _ = await live.api("GET", "/api/v1/bill-cards")
    assert status == 200
    assert gate.refused >= 3


def test_a_new_event_is_refused_when_those_of_its_kind_ahead_would_make_it_wait_past_the_bound() -> None:
    clock = FakeClock()
    gate = LoadGate(max_lag_ms=0, max_in_flight=0, max_queue_ms=300, clock=clock)
    kind = "payment:request"
    # Nothing measured yet, nothing in flight: admitted, and nothing predicted.
    assert gate.predicted_wait(kind) == 0 and gate.refuse(kind) is None
    # Alone, one takes 50 ms.
    with gate.working(event=kind):
        clock.now += 0.05
    # One writer: a burst arrives at once and each finishes 100 ms after the one before.
    admitted = []
    while gate.refuse(kind) is None:
        hold = gate.working(event=kind)
        hold.__enter__()
        admitted.append(hold)
    # In flight n, the next waits (n + 1) × 50 ms less its own 50 ms: refused once that passes 300 ms.
    assert len(admitted) == 7
    assert abs(gate.predicted_wait(kind) - 0.35) < 1e-9
    refused = gate.refuse(kind)
    assert refused is not None and 340 <= refused <= 5000
    # Another kind has no queue of its own: admitted (the oldest event is young yet).
    assert gate.refuse("payment:cancel") is None
    # Nothing finishes for 150 ms: the interval is at least that long now, before any is done.
    clock.now += 0.15
    assert abs(gate.predicted_wait(kind) - (8 * 0.15 - 0.05)) < 1e-9
    for hold in admitted:
        clock.now += 0.1
        hold.__exit__(None, None, None)
    # Done one per 100 ms (the first after 150 ms): the measured interval moved from 50 ms towards that.
    interval = gate._kinds[kind].interval  # noqa: SLF001 - the measurement itself
    assert interval is not None and 0.09 < interval < 0.11
    # With 100 ms between two done, fewer are let in at once than before.
    again = []
    while gate.refuse(kind) is None:
        hold = gate.working(event=kind)
        hold.__enter__()
        again.append(hold)
    assert 1 < len(again) < len(admitted)
    for hold in again:
        hold.__exit__(None, None, None)
    # After an idle spell the first is admitted at once: the gap is not counted as the interval.
    clock.now += 60
    assert gate.refuse(kind) is None
    with gate.working(event=kind):
        clock.now += 0.05
    assert gate._kinds[kind].interval < 0.11  # noqa: SLF001
    # 0 turns the bound off.
    off = LoadGate(max_lag_ms=0, max_in_flight=0, max_queue_ms=0, clock=clock)
    held = [off.working(event=kind) for _ in range(50)]
    for hold in held:
        hold.__enter__()
    assert off.refuse(kind) is None
    for hold in held:
        hold.__exit__(None, None, None)


async def _another_writer(db: Database, stop: asyncio.Event, hold: float) -> None:
    # Someone else's writes keep SQLite's one writer busy: each request waits its turn behind one.
    while not stop.is_set():
        async with db.write():
            await asyncio.sleep(hold)
        await asyncio.sleep(0)


async def _timed(peer: object, description: str) -> tuple[str, dict, float]:
    started = time.monotonic()
    ack = await peer.call("payment:request", {"amount": 500, "description": description})  # type: ignore[attr-defined]
    return description, ack, time.monotonic() - started


async def test_a_burst_behind_a_busy_writer_admits_what_it_can_do_within_the_bound_and_loses_nothing(
    live: Live,
) -> None:
    gate = live.app[LOAD_GATE]
    gate.max_age = 0.3  # the default queue bound; the tests' settings turn it off (tests/conftest.py)
    calls = [await live.call_pair() for _ in range(8)]
    request, session_id, _ = await open_request(live)  # paid by a webhook in the middle of the burst
    account = await live.scalar(select(PaymentRequest.stripe_account_id))
    stop = asyncio.Event()
    writer = asyncio.create_task(_another_writer(live.app[DB], stop, 0.15))
    try:
        # The gate learns what a request costs now: one at a time, each behind one of the other's writes.
        for i in range(3):
            _, ack, _ = await _timed(calls[0][1], f"Learn {i}")
            assert ack["ok"] is True, ack
        # 24 requests at once from 8 clinicians (each within its own rate limit), and Stripe's webhook.
        burst = asyncio.gather(*(_timed(clinician, f"Burst {n}-{i}")
                                 for n, (_, clinician, _) in enumerate(calls) for i in range(3)))
        hook = post_event(live, completed_event("evt_burst_1", request, session_id, account=account))
        answers, (hook_status, _) = await asyncio.gather(burst, hook)
    finally:
        stop.set()
        await writer
    accepted = [(d, took) for d, ack, took in answers if ack["ok"] is True]
    busy = [d for d, ack, _ in answers if ack["ok"] is False]
    assert all(ack["error"]["code"] == "busy" for _, ack, _ in answers if ack["ok"] is False), answers
    # Every request got its answer at once or its request done, well within 2 s; without the
    # bound all 24 would queue and the last would wait 24 × 150 ms.
    assert max(took for _, _, took in answers) < 2.0
    # What was admitted waited at most about the bound (300 ms) behind the others, plus its own turn.
    assert accepted and max(took for _, took in accepted) < 1.0, accepted
    if live.app[DB].is_sqlite:
        # SQLite has one writer, so each request waits its 150 ms turn: 24 of them would take
        # 3.6 s, and the bound must have refused at least 8. PostgreSQL writes side by side (the
        # other writer holds no lock there), so how many it refuses is the machine's to decide;
        # the bounds on every answer's wait above are what hold there.
        assert len(busy) >= 8, answers
    # Each accepted request is stored once and pushed to its patient; a refused one left nothing behind.
    stored = {d for (d,) in await live.rows(select(PaymentRequest.description)
                                            .where(PaymentRequest.description.like("Burst %")))}
    assert stored == {d for d, _ in accepted}
    # The webhook was not refused, and settled once.
    assert hook_status == 200
    assert await live.scalar(select(PaymentRequest.status).where(PaymentRequest.id == request["id"])) == "paid"
    assert await live.scalar(select(func.count()).select_from(Payment)
                             .where(Payment.payment_request_id == request["id"])) == 1
    # Sent again once the burst is over (as the panels do after their back-off), every refused one is done.
    by_description = {f"Burst {n}-{i}": clinician for n, (_, clinician, _) in enumerate(calls) for i in range(3)}
    for description in busy:
        _, ack, _ = await _timed(by_description[description], description)
        assert ack["ok"] is True, ack
    for n, (_, _, patient) in enumerate(calls):
        for i in range(3):
            await patient.wait_for("payment:requested", lambda d, w=f"Burst {n}-{i}": d["request"]["description"] == w)
    assert await live.scalar(select(func.count()).select_from(PaymentRequest)
                             .where(PaymentRequest.description.like("Burst %"))) == 24
    assert await live.ledger_balanced()
