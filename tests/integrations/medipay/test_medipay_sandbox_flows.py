"""Each path of the MediPay rules (docs/rules.md, part M), driven over HTTP through the app's MediPay
client, with the outcome checked in the claim, the SMS outbox and the signed
callbacks the receiver verified on the raw body."""

from __future__ import annotations

import pytest
from medipay_sandbox_support import CREDENTIALS, DNR, FNR, Running, make_claim

from integrations.medipay.protocol import Credentials, InvalidCredentials


async def test_account_is_verified_with_the_sandbox_password(sandbox: Running):
    account = await sandbox.client.verify_account(CREDENTIALS)
    assert account.username == "clinic-oslo"
    assert account.status == "active"
    assert account.admin_fee_amount == 3900
    with pytest.raises(InvalidCredentials):
        await sandbox.client.verify_account(Credentials("clinic-oslo", "wrong"))


async def test_export_sends_the_checkout_sms(sandbox: Running):
    state = await sandbox.client.export_claim(CREDENTIALS, make_claim("card_1"))
    assert state.state == "sent"
    assert (state.amount, state.admin_fee_amount, state.total) == (45000, 3900, 48900)
    assert state.version == 1
    assert state.deadline_at is not None and state.reminder_at is not None
    assert (state.deadline_at - state.created_at).total_seconds() == 48 * 3600
    assert (state.deadline_at - state.reminder_at).total_seconds() == 8 * 3600
    [sms] = await sandbox.sms("card_1")
    assert sms["kind"] == "checkout_link" and sms["to"] == "+4791234567"
    assert state.checkout_url and state.checkout_url in sms["text"]
    assert state.checkout_url.startswith(f"{sandbox.url}/checkout/card_1?t=")
    assert "489,00" in sms["text"]  # bokmål, total with the admin fee
    fetched = await sandbox.client.get_claim(CREDENTIALS, "card_1")
    assert fetched.state == "sent" and fetched.version == 1


@pytest.mark.parametrize("method", ["card", "vipps"])
async def test_card_or_vipps_pays_at_once(sandbox: Running, method: str):
    await sandbox.client.export_claim(CREDENTIALS, make_claim("c1"))
    body = await sandbox.post("/_control/claims/c1/choose", {"method": method})
    assert body["state"] == "paid" and body["choice"] == method
    await sandbox.receiver.wait_for(lambda r: len(r.events("claim.paid")) == 1)
    [event] = sandbox.receiver.events()
    assert event["claim"]["version"] == 2
    [payment] = event["claim"]["payments"]
    assert (payment["method"], payment["amount"], payment["admin_fee"], payment["total"]) == (
        method, 45000, 3900, 48900)
    state = await sandbox.client.get_claim(CREDENTIALS, "c1")
    assert state.settled and state.payments[0].method == method and state.payments[0].admin_fee == 3900
    # Paying twice is refused and changes nothing.
    again = await sandbox.post("/_control/claims/c1/choose", {"method": "card"}, expect=409)
    assert again["error"]["code"] == "claim_not_open"
    assert (await sandbox.client.get_claim(CREDENTIALS, "c1")).version == 2


async def test_invoice_chosen_and_approved_is_paid(sandbox: Running):
    await sandbox.client.export_claim(CREDENTIALS, make_claim("c1", address=None))
    body = await sandbox.post("/_control/claims/c1/choose", {"method": "invoice"})
    assert body["state"] == "paid" and body["payments"][0]["method"] == "invoice"
    await sandbox.receiver.wait_for(lambda r: len(r.events("claim.paid")) == 1)
    kinds = [s["kind"] for s in await sandbox.sms("c1")]
    assert kinds == ["checkout_link", "invoice_approved"]


async def test_invoice_chosen_credit_rejected(sandbox: Running):
    await sandbox.post("/_control/credit", {"national_id": FNR, "outcome": "reject"})
    await sandbox.client.export_claim(CREDENTIALS, make_claim("c1"))
    await sandbox.post("/_control/claims/c1/choose", {"method": "invoice"})
    await sandbox.receiver.wait_for(lambda r: len(r.events("claim.rejected")) == 1)
    state = await sandbox.client.get_claim(CREDENTIALS, "c1")
    assert (state.state, state.reason_code) == ("rejected", "credit_rejected")
    assert state.message and not state.payments


async def test_checkout_invoice_limit_is_50000_including_the_fee(sandbox: Running):
    at_limit = await sandbox.client.export_claim(CREDENTIALS, make_claim("ok", amount=5_000_000 - 3900))
    assert at_limit.state == "sent" and at_limit.total == 5_000_000
    paid = await sandbox.post("/_control/claims/ok/choose", {"method": "invoice"})
    assert paid["state"] == "paid"
    over = await sandbox.client.export_claim(CREDENTIALS, make_claim("over", amount=5_000_000 - 3899))
    assert (over.state, over.reason_code, over.total) == ("rejected", "over_limit", 5_000_001)
    assert await sandbox.sms("over") == []  # rejected at once: no SMS
    await sandbox.receiver.wait_for(lambda r: len(r.events("claim.rejected")) == 1)
    # Without the admin fee the same amount fits.
    no_fee = await sandbox.client.export_claim(
        CREDENTIALS, make_claim("nofee", amount=5_000_000 - 3899, admin_fee=False))
    assert (no_fee.state, no_fee.admin_fee_amount, no_fee.total) == ("sent", 0, 4_996_101)


async def test_no_choice_reminder_then_invoice_then_paid(sandbox: Running):
    await sandbox.client.export_claim(CREDENTIALS, make_claim("c1", amount=100_000))
    body = await sandbox.advance(39.9)
    assert body["fired"] == []
    body = await sandbox.advance(0.2)  # 40 h: 8 h before the deadline
    assert body["fired"] == [{"claim_id": "c1", "type": "claim.reminder_sent"}]
    assert (await sandbox.advance(1))["fired"] == []  # the reminder goes once
    state = await sandbox.client.get_claim(CREDENTIALS, "c1")
    assert state.state == "sent" and state.reminder_sent_at is not None and state.version == 2
    body = await sandbox.advance(7)  # 48.1 h
    assert body["fired"] == [{"claim_id": "c1", "type": "claim.invoice_sent"}]
    state = await sandbox.client.get_claim(CREDENTIALS, "c1")
    assert state.state == "invoice_sent" and state.version == 3
    assert state.raw["invoice"]["amount"] == 103_900
    # Too late for Checkout now.
    late = await sandbox.post("/_control/claims/c1/choose", {"method": "card"}, expect=409)
    assert late["error"]["code"] == "claim_not_open"
    paid = await sandbox.post("/_control/claims/c1/pay")
    assert paid["state"] == "invoice_paid" and paid["version"] == 4
    await sandbox.receiver.wait_for(lambda r: len(r.events()) == 3)
    assert [e["type"] for e in sandbox.receiver.events()] == [
        "claim.reminder_sent", "claim.invoice_sent", "claim.invoice_paid"]
    assert [s["kind"] for s in await sandbox.sms("c1")] == ["checkout_link", "reminder", "invoice"]
    await sandbox.post("/_control/claims/c1/pay", expect=409)


async def test_one_jump_past_the_deadline_fires_reminder_then_invoice_once(sandbox: Running):
    await sandbox.client.export_claim(CREDENTIALS, make_claim("c1", amount=100_000))
    body = await sandbox.advance(72)
    assert [f["type"] for f in body["fired"]] == ["claim.reminder_sent", "claim.invoice_sent"]
    assert (await sandbox.advance(72))["fired"] == []


@pytest.mark.parametrize(
    ("amount", "address", "credit", "reason"),
    [
        (300_000 - 3900, True, "approve", None),
        (300_000 - 3899, True, "approve", "over_limit"),
        (100_000, False, "approve", "missing_address"),
        (100_000, True, "reject", "credit_rejected"),
    ],
)
async def test_internal_assessment_after_48_hours(sandbox: Running, amount, address, credit, reason):
    from medipay_sandbox_support import ADDRESS

    await sandbox.post("/_control/credit", {"national_id": FNR, "outcome": credit})
    await sandbox.client.export_claim(
        CREDENTIALS, make_claim("c1", amount=amount, address=ADDRESS if address else None))
    await sandbox.advance(48)
    state = await sandbox.client.get_claim(CREDENTIALS, "c1")
    if reason is None:
        assert state.state == "invoice_sent"
    else:
        assert (state.state, state.reason_code) == ("rejected", reason)
        assert state.message
        await sandbox.receiver.wait_for(lambda r: len(r.events("claim.rejected")) == 1)


async def test_mode_invoice_is_assessed_at_once(sandbox: Running):
    state = await sandbox.client.export_claim(CREDENTIALS, make_claim("inv", mode="invoice"))
    assert state.state == "invoice_sent" and state.checkout_url is None
    assert [s["kind"] for s in await sandbox.sms("inv")] == ["invoice"]
    await sandbox.receiver.wait_for(lambda r: len(r.events("claim.invoice_sent")) == 1)
    big = await sandbox.client.export_claim(CREDENTIALS, make_claim("big", mode="invoice", amount=400_000))
    assert (big.state, big.reason_code) == ("rejected", "over_limit")
    await sandbox.post("/_control/credit", {"national_id": DNR, "outcome": "reject"})
    bad = await sandbox.client.export_claim(CREDENTIALS, make_claim("d", mode="invoice", national_id=DNR))
    assert (bad.state, bad.reason_code) == ("rejected", "credit_rejected")


async def test_timers_fire_from_the_tick_without_control_calls(sandbox: Running):
    await sandbox.client.export_claim(CREDENTIALS, make_claim("c1", amount=100_000))
    sandbox.clock.now += 48 * 3600 + 1  # time passes; nobody calls the control surface
    await sandbox.receiver.wait_for(lambda r: len(r.events("claim.invoice_sent")) == 1)
    assert [e["type"] for e in sandbox.receiver.events()] == ["claim.reminder_sent", "claim.invoice_sent"]


async def test_list_claims_updated_since_pages_in_change_order(sandbox: Running):
    from datetime import UTC, datetime, timedelta

    start = datetime.fromtimestamp(sandbox.clock.now, UTC) - timedelta(seconds=1)
    for i in range(5):
        await sandbox.client.export_claim(CREDENTIALS, make_claim(f"c{i}"))
    await sandbox.post("/_control/claims/c1/choose", {"method": "card"})
    from integrations.medipay import client as client_module

    client_module.PAGE_SIZE, old = 2, client_module.PAGE_SIZE
    try:
        listed = await sandbox.client.list_claims(CREDENTIALS, start)
    finally:
        client_module.PAGE_SIZE = old
    assert [c.id for c in listed] == ["c0", "c2", "c3", "c4", "c1"]
    assert listed[-1].state == "paid"
    other = await sandbox.client.list_claims(CREDENTIALS.__class__("another-clinic", "medipay-test"), start)
    assert other == []
    status, body = await sandbox.raw("GET", "/v1/claims?updated_since=yesterday",
                                     auth=("x", "medipay-test"))
    assert status == 400 and body["error"]["code"] == "bad_request"


async def test_admin_fee_is_configurable():
    from medipay_sandbox_support import bound_socket, serve

    from integrations.medipay.client import MediPayHTTPClient
    from integrations.medipay.sandbox import Rules, create_sandbox_app

    sock = bound_socket()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    app = create_sandbox_app(public_url=url, callback_url=None, callback_secret=None,
                             rules=Rules(admin_fee_amount=4900))
    runner = await serve(app, sock)
    client = MediPayHTTPClient(url)
    try:
        assert (await client.verify_account(CREDENTIALS)).admin_fee_amount == 4900
        state = await client.export_claim(CREDENTIALS, make_claim("c1"))
        assert (state.admin_fee_amount, state.total) == (4900, 49900)
    finally:
        await client.close()
        await runner.cleanup()
