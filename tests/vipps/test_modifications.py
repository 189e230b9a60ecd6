"""Capture, refund and cancel as Vipps documents them, their refusals, and the
event log they leave; receipts' order lines through Order Management."""

from __future__ import annotations

import pytest

from integrations.vipps.protocol import Aggregate, PaymentState, ReceiptLine, VippsProblem
from integrations.vipps.sandbox import SANDBOX
from tests.vipps.support import Running, new_payment


async def _authorised(sandbox: Running, amount: int = 100_000) -> str:
    created = await sandbox.client.create_payment(sandbox.keys, new_payment(amount=amount), idempotency_key="c")
    await sandbox.answer(await sandbox.phone_token(), "approve")
    return created.reference


async def _refused(call, status: int = 400) -> VippsProblem:  # type: ignore[no-untyped-def]
    with pytest.raises(VippsProblem) as refused:
        await call
    assert refused.value.status == status, refused.value.message
    return refused.value


async def test_capture_refund_partially_then_fully(sandbox: Running) -> None:
    client, keys = sandbox.client, sandbox.keys
    ref = await _authorised(sandbox)
    captured = await client.capture(keys, ref, 100_000, "NOK", idempotency_key="cap-1")
    assert captured.state is PaymentState.AUTHORIZED
    assert captured.aggregate == Aggregate(authorized=100_000, captured=100_000, refunded=0, cancelled=0)
    again = await client.capture(keys, ref, 100_000, "NOK", idempotency_key="cap-1")  # a retry: captured once
    assert again.aggregate.captured == 100_000
    partly = await client.refund(keys, ref, 30_000, "NOK", idempotency_key="ref-1")
    assert partly.aggregate.refunded == 30_000
    await _refused(client.refund(keys, ref, 70_001, "NOK", idempotency_key="ref-2"))
    fully = await client.refund(keys, ref, 70_000, "NOK", idempotency_key="ref-3")
    assert fully.aggregate.refunded == 100_000
    await _refused(client.refund(keys, ref, 1, "NOK", idempotency_key="ref-4"))
    # A fully captured payment cannot be cancelled: it is refunded instead.
    await _refused(client.cancel(keys, ref, idempotency_key="cancel-1"))
    events = await client.payment_events(keys, ref)
    assert [(e.name, e.amount, e.idempotency_key) for e in events] == [
        ("CREATED", 100_000, "c"), ("AUTHORIZED", 100_000, None), ("CAPTURED", 100_000, "cap-1"),
        ("REFUNDED", 30_000, "ref-1"), ("REFUNDED", 70_000, "ref-3")]
    assert all(e.success for e in events)


async def test_capture_rules_and_cancelling_what_is_left(sandbox: Running) -> None:
    client, keys = sandbox.client, sandbox.keys
    created = await client.create_payment(keys, new_payment(amount=100_000), idempotency_key="c0")
    await _refused(client.capture(keys, created.reference, 100, "NOK", idempotency_key="early"))  # not authorised
    await _refused(client.refund(keys, created.reference, 100, "NOK", idempotency_key="early-r"))
    await sandbox.answer(await sandbox.phone_token(), "approve")
    ref = created.reference
    await _refused(client.capture(keys, ref, 100_001, "NOK", idempotency_key="too-much"))
    await _refused(client.capture(keys, ref, 100, "EUR", idempotency_key="currency"))
    with pytest.raises(VippsProblem):  # a zero capture is not a capture
        await client.capture(keys, ref, 0, "NOK", idempotency_key="zero")
    await client.capture(keys, ref, 25_000, "NOK", idempotency_key="part")
    # The same key with another amount is another request: refused, nothing captured twice.
    await _refused(client.capture(keys, ref, 30_000, "NOK", idempotency_key="part"), 409)
    cancelled = await client.cancel(keys, ref, idempotency_key="rest")
    assert cancelled.state is PaymentState.AUTHORIZED  # the state stays; what was not captured is released
    assert cancelled.aggregate == Aggregate(authorized=100_000, captured=25_000, refunded=0, cancelled=75_000)
    await _refused(client.capture(keys, ref, 1, "NOK", idempotency_key="after-cancel"))
    await _refused(client.cancel(keys, ref, idempotency_key="again"))
    assert (await client.cancel(keys, ref, idempotency_key="rest")).aggregate.cancelled == 75_000  # a replay
    names = [e.name for e in await client.payment_events(keys, ref)]
    assert names == ["CREATED", "AUTHORIZED", "CAPTURED", "CANCELLED"]


async def test_cancel_before_the_answer_terminates_the_payment(sandbox: Running) -> None:
    client, keys = sandbox.client, sandbox.keys
    created = await client.create_payment(keys, new_payment(amount=5000), idempotency_key="t")
    ended = await client.cancel(keys, created.reference, idempotency_key="t-cancel")
    assert ended.state is PaymentState.TERMINATED and ended.aggregate.cancelled == 5000
    async with sandbox.http.get(f"{sandbox.url}/phone/4791234567", headers={"Accept-Language": "en"}) as resp:
        assert "Cancelled by the merchant." in await resp.text()  # no buttons left to press
    token = sandbox.app[SANDBOX].store.all("payment")[0]["__token"]
    await sandbox.answer(token, "approve")  # a form kept from before: too late
    assert (await client.get_payment(keys, created.reference)).state is PaymentState.TERMINATED
    await _refused(client.cancel(keys, created.reference, idempotency_key="t-again"))
    await _refused(client.capture(keys, "no-such-payment", 1, "NOK", idempotency_key="x"), 404)


async def test_the_receipt_s_order_lines_reach_the_payment_once(sandbox: Running) -> None:
    client, keys = sandbox.client, sandbox.keys
    ref = await _authorised(sandbox, 90_000)
    lines = [ReceiptLine("Video consultation", 1, 80_000, 80_000, 0), ReceiptLine("Certificate", 2, 5_000, 10_000, 25)]
    await client.send_receipt(keys, ref, lines, "NOK")
    stored = sandbox.app[SANDBOX].store.all("payment")[0]["receipt"]
    assert stored["bottomLine"] == {"currency": "NOK"}
    assert [(line["name"], line["totalAmount"], line["totalAmountExcludingTax"], line["totalTaxAmount"],
             line["unitInfo"]) for line in stored["orderLines"]] == [
        ("Video consultation", 80_000, 80_000, 0, {"unitPrice": 80_000, "quantity": "1", "quantityUnit": "PCS"}),
        ("Certificate", 10_000, 8_000, 2_000, {"unitPrice": 5_000, "quantity": "2", "quantityUnit": "PCS"})]
    async with sandbox.http.get(f"{sandbox.url}/phone/4791234567", headers={"Accept-Language": "en"}) as resp:
        assert "Certificate" in await resp.text()  # the patient sees the lines in the app
    await _refused(client.send_receipt(keys, ref, lines, "NOK"), 409)
    await _refused(client.send_receipt(keys, "unknown-order", lines, "NOK"), 404)
    await _refused(client.send_receipt(keys, ref, [], "NOK"), 400)
