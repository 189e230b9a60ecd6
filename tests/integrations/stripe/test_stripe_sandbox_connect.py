"""Connect: accounts, account links and the onboarding page."""

from __future__ import annotations

import pytest
import stripe
from stripe_sandbox_support import Running


async def test_account_lifecycle(client: stripe.StripeClient):
    acct = await client.v1.accounts.create_async({
        "type": "express", "country": "NO", "email": "clinic@example.no",
        "capabilities": {"card_payments": {"requested": True},
                         "transfers": {"requested": True}},
        "business_profile": {"name": "Oslo Clinic"}, "metadata": {"clinic": "c1"}})
    assert acct.id.startswith("acct_") and acct.object == "account"
    assert not acct.charges_enabled and not acct.details_submitted
    assert acct.default_currency == "nok" and acct.requirements.currently_due
    got = await client.v1.accounts.retrieve_async(acct.id)
    assert got.business_profile.name == "Oslo Clinic"
    upd = await client.v1.accounts.update_async(acct.id, {"metadata": {"x": "1"}})
    assert upd.metadata.to_dict() == {"clinic": "c1", "x": "1"}
    gone = await client.v1.accounts.delete_async(acct.id)
    assert gone.deleted
    with pytest.raises(stripe.InvalidRequestError):
        await client.v1.accounts.retrieve_async(acct.id)


async def test_onboarding_through_an_account_link(sandbox: Running,
                                                  client: stripe.StripeClient):
    acct = await client.v1.accounts.create_async({"type": "express", "country": "NO"})
    link = await client.v1.account_links.create_async({
        "account": acct.id, "type": "account_onboarding",
        "refresh_url": "https://app.example/refresh", "return_url": "https://app.example/back"})
    assert link.object == "account_link" and link.url.startswith(sandbox.url + "/connect/onboard/")
    assert link.expires_at - link.created == 300
    async with sandbox.http.get(link.url) as resp:
        html = await resp.text()
        assert resp.status == 200 and "Complete onboarding" in html
    async with sandbox.http.post(link.url, allow_redirects=False) as resp:
        assert resp.status == 303 and resp.headers["Location"] == "https://app.example/back"
    done = await client.v1.accounts.retrieve_async(acct.id)
    assert done.charges_enabled and done.details_submitted and done.payouts_enabled
    assert done.requirements.currently_due == []
    await sandbox.receiver.wait_for(lambda r: r.events("account.updated"))
    # Single use: the link now sends the browser to refresh_url.
    async with sandbox.http.get(link.url, allow_redirects=False) as resp:
        assert resp.status == 302 and resp.headers["Location"] == "https://app.example/refresh"


async def test_expired_account_link_goes_to_refresh(sandbox: Running,
                                                    client: stripe.StripeClient):
    acct = await client.v1.accounts.create_async({"type": "express"})
    link = await client.v1.account_links.create_async({
        "account": acct.id, "type": "account_onboarding",
        "refresh_url": "https://app.example/refresh", "return_url": "https://app.example/back"})
    sandbox.clock.now += 301
    async with sandbox.http.get(link.url, allow_redirects=False) as resp:
        assert resp.status == 302 and resp.headers["Location"] == "https://app.example/refresh"


async def test_account_link_requires_its_params(client: stripe.StripeClient):
    acct = await client.v1.accounts.create_async({"type": "express"})
    with pytest.raises(stripe.InvalidRequestError) as e:
        await client.v1.account_links.create_async({"account": acct.id,
                                                    "type": "account_onboarding"})
    assert e.value.param == "refresh_url"
