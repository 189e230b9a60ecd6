"""Webhooks: registered through the Webhooks API, signed as Vipps signs them,
verified on the raw body by ``verify_webhook``; duplicates, late and failed
deliveries on demand."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from integrations.vipps.client import verify_webhook
from integrations.vipps.protocol import EPAYMENT_EVENTS, SignatureError, VippsProblem
from integrations.vipps.sandbox import SANDBOX
from integrations.vipps.sandbox.webhooks import signed_headers
from tests.vipps.support import Running, new_payment

# The worked example in Vipps' Webhooks API guide ("Request authentication").
DOC_SECRET = "A0+AeKBRG2KRGvnNwJpQlb6IJFk48CKXCIcrLoHncVJKDILsQSxS6NWCccwWm6r6FhGKhiHTBsG2wo/xU6FY/A=="
DOC_BODY = b'{"some-unique-content":"ee6e441b-cc4a-46f8-895d-a5af79bcc233/hello-world"}'
DOC_HEADERS = {
    "x-ms-date": "Thu, 30 Mar 2023 08:38:32 GMT",
    "x-ms-content-sha256": "lNlsp1XA03N34HrQsVzPgJKtC+r7l/RBF4V3JQUWMj4=",
    "Authorization": "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256"
                     "&Signature=agAiSyogQbDHpeucoNwYz+yAr5nJ+v+zasdkSbqzv+U=",
}
DOC_WHEN = datetime(2023, 3, 30, 8, 38, 40, tzinfo=UTC)


def _verify(headers, body=DOC_BODY, now=DOC_WHEN, path="/e2cee29b-012e-4f1d-8ef4-e95fd74a7a63"):  # type: ignore[no-untyped-def]
    return verify_webhook(DOC_SECRET, method="POST", path_and_query=path, host="webhook.site", headers=headers,
                          body=body, now=now)


def test_verify_webhook_accepts_vipps_own_example_and_nothing_else() -> None:
    assert _verify(DOC_HEADERS) == json.loads(DOC_BODY)
    tampered = DOC_BODY.replace(b"hello", b"HELLO")
    cases = {
        "content_mismatch": dict(body=tampered),
        "stale": dict(now=DOC_WHEN + timedelta(minutes=6)),
        "bad_signature": dict(path="/another/path"),
    }
    for code, change in cases.items():
        with pytest.raises(SignatureError) as refused:
            _verify(DOC_HEADERS, **change)
        assert refused.value.code == code
    forged = dict(DOC_HEADERS, **{"x-ms-content-sha256": "AAAA"})
    with pytest.raises(SignatureError):
        _verify(forged)
    with pytest.raises(SignatureError):
        _verify({k: v for k, v in DOC_HEADERS.items() if k != "Authorization"})
    # The sandbox signs exactly as the example does.
    when = datetime(2023, 3, 30, 8, 38, 32, tzinfo=UTC).timestamp()
    ours = signed_headers(DOC_SECRET, "https://webhook.site/e2cee29b-012e-4f1d-8ef4-e95fd74a7a63", DOC_BODY, when)
    assert {k: ours[k] for k in DOC_HEADERS} == DOC_HEADERS


def test_a_replayed_old_delivery_is_refused() -> None:
    old = datetime.now(UTC) - timedelta(minutes=10)
    headers = signed_headers("s3cret", "https://clinic.example/webhooks/vipps", b"{}", old.timestamp())
    assert headers["x-ms-date"] == format_datetime(old.replace(microsecond=0), usegmt=True)
    with pytest.raises(SignatureError):
        verify_webhook("s3cret", method="POST", path_and_query="/webhooks/vipps", host="clinic.example",
                       headers=headers, body=b"{}", now=datetime.now(UTC))


async def _register(sandbox: Running, events=EPAYMENT_EVENTS) -> str:  # type: ignore[no-untyped-def]
    hook = await sandbox.client.register_webhook(sandbox.keys, sandbox.receiver.url, events)
    sandbox.receiver.secret = hook.secret
    return hook.id


async def test_each_step_is_a_signed_webhook_the_receiver_verifies(sandbox: Running) -> None:
    await _register(sandbox)
    client, keys = sandbox.client, sandbox.keys
    created = await client.create_payment(keys, new_payment(amount=20_000), idempotency_key="w")
    await sandbox.answer(await sandbox.phone_token(), "approve")
    await client.capture(keys, created.reference, 20_000, "NOK", idempotency_key="w-cap")
    rec = sandbox.receiver
    await rec.wait_for(lambda r: len(r.received) == 3)
    assert rec.names() == ["CREATED", "AUTHORIZED", "CAPTURED"] and rec.refused == []
    captured = rec.received[-1]
    assert captured["msn"] == keys.merchant_serial_number and captured["reference"] == created.reference
    assert captured["amount"] == {"currency": "NOK", "value": 20_000} and captured["idempotencyKey"] == "w-cap"
    assert captured["success"] is True and captured["pspReference"]


async def test_only_the_registered_events_are_sent_and_a_deleted_webhook_gets_none(sandbox: Running) -> None:
    hook_id = await _register(sandbox, ["epayments.payment.authorized.v1"])
    client, keys = sandbox.client, sandbox.keys
    await client.create_payment(keys, new_payment(), idempotency_key="o")
    await sandbox.answer(await sandbox.phone_token(), "approve")
    await sandbox.receiver.wait_for(lambda r: len(r.received) == 1)
    assert sandbox.receiver.names() == ["AUTHORIZED"]
    await client.delete_webhook(keys, hook_id)
    with pytest.raises(VippsProblem) as gone:
        await client.delete_webhook(keys, hook_id)
    assert gone.value.status == 404
    created = await client.create_payment(keys, new_payment(phone="4790000009"), idempotency_key="o2")
    await sandbox.answer(await sandbox.phone_token("4790000009"), "approve")
    assert (await client.get_payment(keys, created.reference)).aggregate.authorized
    assert sandbox.receiver.names() == ["AUTHORIZED"]
    with pytest.raises(VippsProblem) as bad:
        await client.register_webhook(keys, sandbox.receiver.url, ["epayments.payment.paid.v1"])
    assert bad.value.status == 400


async def test_duplicates_late_and_failed_deliveries_on_demand(sandbox: Running) -> None:
    await _register(sandbox, ["epayments.payment.created.v1", "epayments.payment.aborted.v1"])
    await sandbox.control("POST", "/_control/webhooks", {"duplicate": 2, "fail_next": 1})
    created = await sandbox.client.create_payment(sandbox.keys, new_payment(), idempotency_key="d")
    rec = sandbox.receiver
    await rec.wait_for(lambda r: len(r.received) == 2)
    assert rec.received[0] == rec.received[1]  # the same event twice: the receiver must settle it once
    log = (await sandbox.control("GET", "/_control/webhooks"))["deliveries"]
    assert sorted(len(d["attempts"]) for d in log) == [1, 2]  # one attempt failed before it left, then retried
    await sandbox.control("POST", "/_control/webhooks", {"duplicate": 1, "late_next": 1, "late_seconds": 0.5})
    await sandbox.answer(await sandbox.phone_token(), "reject")
    await rec.wait_for(lambda r: len(r.received) == 3)
    assert rec.names(created.reference) == ["CREATED", "CREATED", "ABORTED"]


async def test_a_failed_notification_holds_back_the_payment_s_later_ones(sandbox: Running) -> None:
    await _register(sandbox)
    await sandbox.control("POST", "/_control/webhooks", {"fail_next": 3})
    created = await sandbox.client.create_payment(sandbox.keys, new_payment(), idempotency_key="order")
    await sandbox.answer(await sandbox.phone_token(), "approve")
    await sandbox.client.capture(sandbox.keys, created.reference, 49900, "NOK", idempotency_key="order-cap")
    rec = sandbox.receiver
    await rec.wait_for(lambda r: len(r.received) == 3)
    assert rec.names() == ["CREATED", "AUTHORIZED", "CAPTURED"]  # in order, though the first was retried thrice
    log = (await sandbox.control("GET", "/_control/webhooks"))["deliveries"]
    assert [len(d["attempts"]) for d in log] == [4, 1, 1]
    assert sandbox.app[SANDBOX].store.all("line") == []  # every line emptied
