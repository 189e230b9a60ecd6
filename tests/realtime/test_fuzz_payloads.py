"""Socket.IO payloads fuzzed: every one gets an ack, none crashes a handler, nothing is made."""

from __future__ import annotations

import random
from typing import Any

from sqlalchemy import select

from app.models import PaymentRequest
from tests.factories import Live

KEYS = ["amount", "currency", "description", "patient_id", "request_id", "idempotency_key", "x", ""]
ATOMS: list[Any] = [None, True, False, 0, -1, 1.5, 10**30, "", " ", "NOK", "p-1", "pr_x", "💸" * 50,
                    "x" * 5000, [], {}, float("inf")]


def value(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth > 2 or roll < 0.5:
        atom = rng.choice(ATOMS)
        return 1e308 if atom == float("inf") else atom
    if roll < 0.75:
        return [value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return {rng.choice(KEYS): value(rng, depth + 1) for _ in range(rng.randint(0, 4))}


def payload(rng: random.Random) -> Any:
    if rng.random() < 0.3:
        return value(rng)
    # Mostly near-valid objects, one field off.
    base: dict[str, Any] = {"amount": 500, "description": "x", "request_id": "pr_x"}
    base[rng.choice(KEYS)] = value(rng)
    return base


async def test_fuzzed_events_always_get_a_clear_ack(live: Live) -> None:
    _, clinician, patient = await live.call_pair()
    rng = random.Random(20261123)
    # The rate limiter would answer most of these; the handlers are what is fuzzed.
    from app.factory import SIO
    from app.realtime.limits import RateLimiter

    live.app[SIO].namespace_handlers["/consult"].limiter = RateLimiter(rate_per_second=1e6, burst=10**6)
    for peer in (clinician, patient):
        for n in range(120):
            event = rng.choice(["payment:request", "payment:cancel", "payment:checkout", "payment:other"])
            data = payload(rng)
            if event == "payment:request" and isinstance(data, dict):
                data.pop("amount", None) if n % 2 else None
            ack = await peer.call(event, data)
            assert isinstance(ack, dict) and "ok" in ack, (event, data, ack)
            if not ack["ok"]:
                assert ack["error"]["code"] != "internal_error", (event, data, ack)
                assert ack["error"]["message"]
    # Whatever got through was a valid request.
    for amount, description in await live.rows(select(PaymentRequest.amount, PaymentRequest.description)):
        assert isinstance(amount, int) and 0 < amount <= 100_000_000 and description.strip()
    assert clinician.client.connected and patient.client.connected
