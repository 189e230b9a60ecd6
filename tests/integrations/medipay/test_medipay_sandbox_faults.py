"""Failing the way the real service fails: injected API faults (the client
sees ProviderUnavailable, and a retry under the same claim id never makes a
second claim), and callbacks delivered twice, late, out of order, or failing
and retried with backoff — every one signed and verified on the raw body."""

from __future__ import annotations

import json
import time

import pytest
from medipay_sandbox_support import CALLBACK_SECRET, CREDENTIALS, Running, make_claim

from integrations.medipay.client import MediPayHTTPClient
from integrations.medipay.protocol import ProviderUnavailable, SignatureError, sign, verify_callback


@pytest.mark.parametrize("kind", ["server_error", "rate_limited", "disconnect"])
async def test_faults_before_commit_store_nothing(sandbox: Running, kind: str):
    # aiohttp resends an idempotent request once on a dropped connection: drop it twice.
    await sandbox.post("/_control/faults", {"next": 2 if kind == "disconnect" else 1, "kind": kind})
    with pytest.raises(ProviderUnavailable):
        await sandbox.client.export_claim(CREDENTIALS, make_claim("c1"))
    assert (await sandbox.control("GET", "/_control/claims"))["claims"] == []
    assert (await sandbox.control("GET", "/_control/faults"))["faults"] == []
    state = await sandbox.client.export_claim(CREDENTIALS, make_claim("c1"))
    assert state.state == "sent" and len(await sandbox.sms("c1")) == 1


async def test_timeout_fault(sandbox: Running):
    await sandbox.post("/_control/faults", {"next": 1, "kind": "timeout", "seconds": 1})
    impatient = MediPayHTTPClient(sandbox.url, timeout=0.3)
    try:
        started = time.monotonic()
        with pytest.raises(ProviderUnavailable):
            await impatient.export_claim(CREDENTIALS, make_claim("c1"))
        assert time.monotonic() - started < 0.9
    finally:
        await impatient.close()
    state = await sandbox.client.export_claim(CREDENTIALS, make_claim("c1"))
    assert state.version == 1


@pytest.mark.parametrize("kind", ["drop_after_commit", "error_after_commit"])
async def test_answer_lost_after_commit_then_retry_is_exactly_once(sandbox: Running, kind: str):
    # Two faults per call for a drop: aiohttp resends an idempotent PUT once by itself.
    per_call = 2 if kind == "drop_after_commit" else 1
    await sandbox.post("/_control/faults", {"next": 2 * per_call, "kind": kind, "path": "/v1/claims/"})
    for _ in range(2):
        with pytest.raises(ProviderUnavailable):
            await sandbox.client.export_claim(CREDENTIALS, make_claim("c1"))
    # The claim exists although the caller never heard so; the retry finds it.
    state = await sandbox.client.export_claim(CREDENTIALS, make_claim("c1"))
    assert state.state == "sent" and state.version == 1
    claims = (await sandbox.control("GET", "/_control/claims"))["claims"]
    assert [c["id"] for c in claims] == ["c1"]
    assert len(await sandbox.sms("c1")) == 1


async def test_faults_match_their_path_and_are_used_in_order(sandbox: Running):
    await sandbox.post("/_control/faults", {"next": 1, "kind": "server_error", "path": "/v1/claims/"})
    await sandbox.client.verify_account(CREDENTIALS)  # another path: untouched
    with pytest.raises(ProviderUnavailable):
        await sandbox.client.export_claim(CREDENTIALS, make_claim("c1"))
    await sandbox.post("/_control/faults", {"next": 3, "kind": "server_error"})
    await sandbox.control("DELETE", "/_control/faults")
    await sandbox.client.verify_account(CREDENTIALS)
    bad = await sandbox.post("/_control/faults", {"next": 1, "kind": "explode"}, expect=400)
    assert bad["error"]["code"] == "bad_request"


async def test_callbacks_are_signed_over_the_raw_body(sandbox: Running):
    await sandbox.client.export_claim(CREDENTIALS, make_claim("c1"))
    await sandbox.post("/_control/claims/c1/choose", {"method": "card"})
    await sandbox.receiver.wait_for(lambda r: len(r.received) == 1)
    [event] = sandbox.receiver.received
    assert event["id"].startswith("evt_") and event["type"] == "claim.paid"
    # What verify_callback accepts, any change of the body or secret breaks.
    payload = json.dumps(event, separators=(",", ":"))
    now = int(time.time())
    header = sign(payload, CALLBACK_SECRET, now)
    assert verify_callback(payload.encode(), header, CALLBACK_SECRET)["id"] == event["id"]
    cases = [(payload.replace('"paid"', '"rejected"'), CALLBACK_SECRET, now),  # tampered body
             (payload, "mpsec_other", now),                                   # wrong secret
             (payload, CALLBACK_SECRET, now - 301)]                           # stale
    for body, secret, stamp in cases:
        with pytest.raises(SignatureError):
            verify_callback(body.encode(), sign(payload, secret, stamp), CALLBACK_SECRET)
    assert sandbox.receiver.refused == []


async def test_callback_failures_are_retried_with_backoff(sandbox: Running):
    sandbox.receiver.fail_next = 3
    await sandbox.client.export_claim(CREDENTIALS, make_claim("c1"))
    await sandbox.post("/_control/claims/c1/choose", {"method": "vipps"})
    await sandbox.receiver.wait_for(lambda r: len(r.received) == 1)
    log = (await sandbox.control("GET", "/_control/callbacks"))["events"]
    [entry] = log
    assert entry["delivery_status"] == "delivered"
    attempts = entry["deliveries"][0]["attempts"]
    assert [a["http_status"] for a in attempts] == [503, 503, 503, 200]
    assert sandbox.receiver.calls == 4


async def test_injected_delivery_failures_are_retried(sandbox: Running):
    await sandbox.post("/_control/callbacks", {"fail_next": 2})
    await sandbox.client.export_claim(CREDENTIALS, make_claim("c1"))
    await sandbox.post("/_control/claims/c1/choose", {"method": "card"})
    await sandbox.receiver.wait_for(lambda r: len(r.received) == 1)
    attempts = (await sandbox.control("GET", "/_control/callbacks"))["events"][0]["deliveries"][0]["attempts"]
    assert [a["error"] for a in attempts] == ["injected failure", "injected failure", None]
    assert sandbox.receiver.calls == 1  # the failed attempts never reached the receiver


async def test_gives_up_after_max_attempts(sandbox: Running):
    await sandbox.post("/_control/callbacks", {"max_attempts": 2, "fail_next": 5})
    await sandbox.client.export_claim(CREDENTIALS, make_claim("c1"))
    await sandbox.post("/_control/claims/c1/choose", {"method": "card"})
    deadline = time.monotonic() + 5
    while True:
        [entry] = (await sandbox.control("GET", "/_control/callbacks"))["events"]
        if entry["delivery_status"] == "failed" or time.monotonic() > deadline:
            break
    assert entry["delivery_status"] == "failed"
    # A manual redelivery still gets it there.
    await sandbox.post("/_control/callbacks", {"fail_next": 0})
    await sandbox.post(f"/_control/callbacks/{entry['event']['id']}/redeliver")
    await sandbox.receiver.wait_for(lambda r: len(r.received) == 1)


async def test_duplicate_delivery(sandbox: Running):
    await sandbox.post("/_control/callbacks", {"duplicate": 3})
    await sandbox.client.export_claim(CREDENTIALS, make_claim("c1"))
    await sandbox.post("/_control/claims/c1/choose", {"method": "card"})
    await sandbox.receiver.wait_for(lambda r: len(r.received) == 3)
    assert len({e["id"] for e in sandbox.receiver.received}) == 1


async def test_late_callback_arrives_after_a_newer_one(sandbox: Running):
    # The reminder's callback is held back; the invoice's overtakes it.
    await sandbox.client.export_claim(CREDENTIALS, make_claim("c1", amount=100_000))
    await sandbox.post("/_control/callbacks", {"late_next": 1, "late_seconds": 0.5})
    await sandbox.advance(48)
    await sandbox.receiver.wait_for(lambda r: len(r.received) == 2)
    got = [(e["type"], e["claim"]["version"]) for e in sandbox.receiver.received]
    assert got == [("claim.invoice_sent", 3), ("claim.reminder_sent", 2)]


async def test_reverse_delivers_a_batch_newest_first(sandbox: Running):
    await sandbox.post("/_control/callbacks", {"reverse": True})
    await sandbox.client.export_claim(CREDENTIALS, make_claim("c1", amount=100_000))
    await sandbox.advance(48)
    await sandbox.receiver.wait_for(lambda r: len(r.received) == 2)
    versions = [e["claim"]["version"] for e in sandbox.receiver.received]
    assert versions == [3, 2]


async def test_control_surface_refuses_bad_input(sandbox: Running):
    assert (await sandbox.post("/_control/clock/advance", {"hours": -1}, expect=400))["error"]
    assert (await sandbox.post("/_control/clock/advance", {}, expect=400))["error"]
    assert (await sandbox.post("/_control/credit", {"national_id": "123", "outcome": "reject"},
                               expect=422))["error"]["reason_code"] == "invalid_national_id"
    assert (await sandbox.post("/_control/credit", {"national_id": "15108695088", "outcome": "maybe"},
                               expect=400))["error"]
    assert (await sandbox.post("/_control/claims/nope/choose", {"method": "card"}, expect=404))["error"]
    assert (await sandbox.post("/_control/claims/nope/choose", {"method": "cash"}, expect=400))["error"]
    assert (await sandbox.post("/_control/callbacks", {"duplicate": 9}, expect=400))["error"]
    status, body = await sandbox.raw("POST", "/_control/faults", data=b"[1")
    assert status == 400 and body["error"]["code"] == "bad_request"
