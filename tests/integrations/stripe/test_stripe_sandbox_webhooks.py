"""Webhook delivery: retries, duplicates, redelivery, the delivery log."""

from __future__ import annotations

import stripe
from stripe_sandbox_support import Running, session_params


async def test_retried_after_a_500(sandbox: Running, client: stripe.StripeClient):
    sandbox.receiver.fail_next = 1
    s = await client.v1.checkout.sessions.create_async(session_params())
    await client.v1.checkout.sessions.expire_async(s.id)
    await sandbox.receiver.wait_for(lambda r: r.events("checkout.session.expired"))
    assert sandbox.receiver.calls == 2
    [logged] = await sandbox.events()
    [delivery] = logged["deliveries"]
    assert [a["http_status"] for a in delivery["attempts"]] == [500, 200]
    assert delivery["status"] == "succeeded" and logged["delivery_status"] == "delivered"


async def test_duplicates_and_redelivery(sandbox: Running, client: stripe.StripeClient):
    await sandbox.control("/_control/webhooks", {"duplicate": 2, "shuffle": True,
                                                 "concurrent": True})
    s = await client.v1.checkout.sessions.create_async(session_params())
    await client.v1.checkout.sessions.expire_async(s.id)
    await sandbox.receiver.wait_for(lambda r: len(r.events()) == 2)
    a, b = sandbox.receiver.events()
    assert a["id"] == b["id"]
    await sandbox.control(f"/_control/events/{a['id']}/redeliver")
    await sandbox.receiver.wait_for(lambda r: len(r.events()) == 3)


async def test_connect_events_carry_the_account(sandbox: Running, client: stripe.StripeClient):
    acct = await client.v1.accounts.create_async({"type": "standard"})
    await sandbox.control(f"/_control/accounts/{acct.id}/onboard")
    await sandbox.receiver.wait_for(lambda r: r.events("account.updated"))
    event = sandbox.receiver.events("account.updated")[0]
    assert event["account"] == acct.id
    assert event["data"]["previous_attributes"]["charges_enabled"] is False
