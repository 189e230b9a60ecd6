"""The client against the sandbox over HTTP: access tokens, the four user flows,
idempotency, the patient's answer on the phone and the landing page, expiry,
and the event log."""

from __future__ import annotations

import dataclasses

import pytest

from integrations.vipps.client import VippsClient
from integrations.vipps.protocol import AccessRefused, PaymentState, UserFlow, VippsProblem
from integrations.vipps.sandbox import DEMO_KEYS, SANDBOX
from tests.vipps.support import PHONE, Running, new_payment


def _tokens(sandbox: Running) -> int:
    return len(sandbox.app[SANDBOX].store.all("token"))


async def test_an_access_token_is_kept_until_it_expires_and_wrong_keys_are_refused(sandbox: Running) -> None:
    client, keys = sandbox.client, sandbox.keys
    await client.check_keys(DEMO_KEYS)  # the demo merchant's constant keys work too
    for _ in range(3):
        await client.create_payment(keys, new_payment(), idempotency_key=f"k-{_}")
    assert _tokens(sandbox) == 2  # one for the demo merchant, one for three calls of the test's merchant
    await sandbox.advance(seconds=3600)  # the token's hour is over: Vipps answers 401, one fresh token
    await client.get_payment(keys, (await client.create_payment(keys, new_payment(), idempotency_key="k-4")).reference)
    assert _tokens(sandbox) == 3
    for wrong in ({"client_secret": "nope"}, {"subscription_key": "nope"}, {"merchant_serial_number": "999999"},
                  {"client_id": "unknown"}):
        with pytest.raises(AccessRefused):
            await client.check_keys(dataclasses.replace(keys, **wrong))
    # Someone else's token never opens this merchant's payments.
    other = await sandbox.merchant()
    created = await client.create_payment(keys, new_payment(), idempotency_key="k-5")
    with pytest.raises(VippsProblem) as missing:
        await client.get_payment(other, created.reference)
    assert missing.value.status == 404


async def test_each_user_flow_is_created_as_vipps_creates_it(sandbox: Running) -> None:
    client, keys = sandbox.client, sandbox.keys
    push = await client.create_payment(keys, new_payment(UserFlow.PUSH_MESSAGE), idempotency_key="p")
    assert push.redirect_url is None  # the push goes to the phone
    for flow in (UserFlow.WEB_REDIRECT, UserFlow.NATIVE_REDIRECT):
        created = await client.create_payment(keys, new_payment(flow), idempotency_key=str(flow))
        assert created.redirect_url and created.redirect_url.startswith(f"{sandbox.url}/landing?token=")
    # The QR flow answers with the code's target by default (the caller draws it) ...
    target = await client.create_payment(keys, new_payment(UserFlow.QR), idempotency_key="q")
    assert target.redirect_url and target.redirect_url.startswith(f"{sandbox.url}/landing?token=")
    # ... or with a link to its image, when asked for one.
    image = dataclasses.replace(new_payment(UserFlow.QR), qr_format="IMAGE/SVG+XML")
    qr = await client.create_payment(keys, image, idempotency_key="q-image")
    assert qr.redirect_url and qr.redirect_url.startswith(f"{sandbox.url}/qr?token=")
    async with sandbox.http.get(qr.redirect_url) as resp:
        assert resp.status == 200 and resp.content_type == "image/svg+xml"
        assert (await resp.text()).lstrip().startswith("<?xml")
    payment = await client.get_payment(keys, push.reference)
    assert (payment.state, payment.amount, payment.currency) == (PaymentState.CREATED, 49900, "NOK")
    assert payment.aggregate.authorized == 0 and payment.psp_reference


async def test_an_idempotency_key_replays_its_payment_and_refuses_another_body(sandbox: Running) -> None:
    client, keys = sandbox.client, sandbox.keys
    new = new_payment()
    first = await client.create_payment(keys, new, idempotency_key="create-1")
    again = await client.create_payment(keys, new, idempotency_key="create-1")
    assert again == first
    with pytest.raises(VippsProblem) as changed:
        await client.create_payment(keys, dataclasses.replace(new, amount=100), idempotency_key="create-1")
    assert changed.value.status == 409 and "Idempotency-Key" in (changed.value.detail or "")
    with pytest.raises(VippsProblem) as reused:
        await client.create_payment(keys, new, idempotency_key="create-2")
    assert reused.value.status == 409 and "already exists" in (reused.value.detail or "")
    payments = [p for p in sandbox.app[SANDBOX].store.all("payment") if p["reference"] == new.reference]
    assert len(payments) == 1 and payments[0]["amount"]["value"] == 49900
    assert [e.name for e in await client.payment_events(keys, new.reference)] == ["CREATED"]


@pytest.mark.parametrize("new, field", [
    (dataclasses.replace(new_payment(), reference="short"), "reference"),
    (dataclasses.replace(new_payment(), amount=0), "amount.value"),
    (dataclasses.replace(new_payment(), currency="USD"), "amount.currency"),
    (dataclasses.replace(new_payment(), phone_number=None), "customer"),
    (dataclasses.replace(new_payment(), phone_number="+47 912"), "customer.phoneNumber"),
    (dataclasses.replace(new_payment(UserFlow.WEB_REDIRECT), return_url=None), "returnUrl"),
    (dataclasses.replace(new_payment(UserFlow.WEB_REDIRECT), return_url="http://clinic.example/r"), "returnUrl"),
    (dataclasses.replace(new_payment(), description="x"), "paymentDescription"),
])
async def test_bad_input_is_refused_with_vipps_problem_details_and_changes_nothing(
        sandbox: Running, new, field: str) -> None:
    with pytest.raises(VippsProblem) as refused:
        await sandbox.client.create_payment(sandbox.keys, new, idempotency_key="bad")
    problem = refused.value
    assert problem.status == 400 and problem.title and problem.type.startswith("https://")
    assert [d["name"] for d in problem.extra_details] == [field]
    assert sandbox.app[SANDBOX].store.all("payment") == []


async def test_the_patient_approves_on_the_phone_page(sandbox: Running) -> None:
    client, keys = sandbox.client, sandbox.keys
    created = await client.create_payment(keys, new_payment(), idempotency_key="a")
    token = await sandbox.phone_token()
    answered = await sandbox.answer(token, "approve")
    assert answered.status == 303 and answered.headers["Location"] == f"/phone/{PHONE}?lang=en"
    payment = await client.get_payment(keys, created.reference)
    assert payment.state is PaymentState.AUTHORIZED and payment.aggregate.authorized == 49900
    async with sandbox.http.get(f"{sandbox.url}/phone/{PHONE}", headers={"Accept-Language": "en"}) as resp:
        assert "Approved. Thank you!" in await resp.text()
    # A second click (or a replayed form) changes nothing; a made-up token is refused.
    await sandbox.answer(token, "reject")
    assert (await sandbox.answer(created.reference, "reject")).status == 400
    assert (await client.get_payment(keys, created.reference)).state is PaymentState.AUTHORIZED


async def test_the_patient_rejects_and_the_payment_is_aborted(sandbox: Running) -> None:
    created = await sandbox.client.create_payment(sandbox.keys, new_payment(), idempotency_key="r")
    token = await sandbox.phone_token()
    await sandbox.answer(token, "reject")
    await sandbox.answer(token, "approve")  # too late: the answer was given
    payment = await sandbox.client.get_payment(sandbox.keys, created.reference)
    assert payment.state is PaymentState.ABORTED and payment.aggregate.authorized == 0
    assert [e.name for e in await sandbox.client.payment_events(sandbox.keys, created.reference)] == [
        "CREATED", "ABORTED"]


async def test_the_landing_page_answers_and_returns_to_the_merchant(sandbox: Running) -> None:
    new = new_payment(UserFlow.WEB_REDIRECT, return_url="https://clinic.example/back?card=7")
    created = await sandbox.client.create_payment(sandbox.keys, new, idempotency_key="l")
    assert created.redirect_url
    async with sandbox.http.get(created.redirect_url, headers={"Accept-Language": "nb"}) as resp:
        html = await resp.text()
    assert resp.status == 200 and "Betal med Vipps" in html and "499,00" in html
    token = created.redirect_url.split("token=", 1)[1]
    answered = await sandbox.answer(token, "approve", origin="landing")
    assert answered.status == 303 and answered.headers["Location"] == "https://clinic.example/back?card=7"
    assert (await sandbox.client.get_payment(sandbox.keys, new.reference)).state is PaymentState.AUTHORIZED
    async with sandbox.http.get(f"{sandbox.url}/landing?token=not-a-token") as resp:
        assert resp.status == 404


async def test_a_push_not_answered_in_five_minutes_expires(sandbox: Running) -> None:
    client, keys = sandbox.client, sandbox.keys
    unseen = await client.create_payment(keys, new_payment(phone="4790000001"), idempotency_key="e1")
    seen = await client.create_payment(keys, new_payment(phone="4790000002"), idempotency_key="e2")
    await sandbox.advance(minutes=4)
    await sandbox.phone_token("4790000002")  # opened at 4 minutes: 5 more to approve
    await sandbox.advance(seconds=59)
    assert (await client.get_payment(keys, unseen.reference)).state is PaymentState.CREATED
    await sandbox.advance(seconds=2)
    assert (await client.get_payment(keys, unseen.reference)).state is PaymentState.EXPIRED
    assert (await client.get_payment(keys, seen.reference)).state is PaymentState.CREATED
    token = await sandbox.phone_token("4790000002")
    await sandbox.advance(minutes=3)  # 8:01 after it was sent, 4:01 after it was opened
    await sandbox.answer(token, "approve")
    assert (await client.get_payment(keys, seen.reference)).state is PaymentState.AUTHORIZED
    events = await client.payment_events(keys, unseen.reference)
    assert [e.name for e in events] == ["CREATED", "EXPIRED"] and events[1].timestamp > events[0].timestamp


async def test_the_demo_merchant_and_a_fresh_client_share_nothing_but_the_sandbox(sandbox: Running) -> None:
    other = VippsClient(sandbox.url, timeout=3)
    try:
        created = await other.create_payment(DEMO_KEYS, new_payment(), idempotency_key="demo")
        assert (await other.get_payment(DEMO_KEYS, created.reference)).state is PaymentState.CREATED
        with pytest.raises(VippsProblem):
            await sandbox.client.get_payment(sandbox.keys, created.reference)
    finally:
        await other.close()
