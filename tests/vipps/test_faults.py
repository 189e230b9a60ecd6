"""Failures on demand: outages, rate limits and timeouts are ProviderUnavailable,
and a capture whose answer was lost is retried with the same key, once."""

from __future__ import annotations

import pytest

from integrations.vipps.client import VippsClient
from integrations.vipps.protocol import ProviderUnavailable
from tests.vipps.support import Running, new_payment


@pytest.mark.parametrize("kind", ["server_error", "rate_limited", "disconnect"])
async def test_an_outage_is_provider_unavailable_and_changes_nothing(sandbox: Running, kind: str) -> None:
    await sandbox.client.check_keys(sandbox.keys)  # the token first: the fault is for the payment
    await sandbox.control("POST", "/_control/faults", {"kind": kind, "path": "/epayment/", "next": 2})
    new = new_payment()
    with pytest.raises(ProviderUnavailable):
        await sandbox.client.create_payment(sandbox.keys, new, idempotency_key="f")
    payments = (await sandbox.control("GET", "/_control/payments"))["payments"]
    assert payments == []
    await sandbox.control("DELETE", "/_control/faults")
    created = await sandbox.client.create_payment(sandbox.keys, new, idempotency_key="f")
    assert created.reference == new.reference


async def test_a_timeout_is_provider_unavailable(sandbox: Running) -> None:
    impatient = VippsClient(sandbox.url, timeout=0.3)
    try:
        await sandbox.control("POST", "/_control/faults", {"kind": "timeout", "seconds": 1, "path": "/accesstoken/"})
        with pytest.raises(ProviderUnavailable):
            await impatient.check_keys(sandbox.keys)
        await impatient.check_keys(sandbox.keys)  # the fault is spent: the keys are fine
    finally:
        await impatient.close()


async def test_a_capture_whose_answer_is_lost_is_retried_with_the_same_key_once(sandbox: Running) -> None:
    client, keys = sandbox.client, sandbox.keys
    created = await client.create_payment(keys, new_payment(amount=30_000), idempotency_key="c")
    await sandbox.answer(await sandbox.phone_token(), "approve")
    await sandbox.control("POST", "/_control/faults", {"kind": "error_after_commit", "path": "/epayment/v1/payments/"})
    with pytest.raises(ProviderUnavailable):
        await client.capture(keys, created.reference, 30_000, "NOK", idempotency_key="cap")
    retried = await client.capture(keys, created.reference, 30_000, "NOK", idempotency_key="cap")
    assert retried.aggregate.captured == 30_000
    events = await client.payment_events(keys, created.reference)
    assert [e.name for e in events].count("CAPTURED") == 1


async def test_the_control_surface_refuses_bad_input(sandbox: Running) -> None:
    for body in ({"kind": "meteor"}, {"kind": "timeout", "next": 0}, {"kind": "timeout", "path": "x"}):
        async with sandbox.http.post(f"{sandbox.url}/_control/faults", json=body) as resp:
            assert resp.status == 400
    async with sandbox.http.post(f"{sandbox.url}/_control/clock/advance", json={"minutes": -1}) as resp:
        assert resp.status == 400
    async with sandbox.http.post(f"{sandbox.url}/_control/webhooks", json={"duplicate": 9}) as resp:
        assert resp.status == 400
    async with sandbox.http.post(f"{sandbox.url}/_control/clock/advance", data=b"not json") as resp:
        assert resp.status == 400
    assert (await sandbox.control("GET", "/_control/faults"))["faults"] == []
