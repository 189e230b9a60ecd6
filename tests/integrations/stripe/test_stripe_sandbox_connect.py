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


async def _onboarded_express(sandbox: Running, client: stripe.StripeClient) -> str:
    acct = await client.v1.accounts.create_async({
        "type": "express", "country": "NO", "business_profile": {"name": "Oslo Clinic"}})
    await sandbox.control(f"/_control/accounts/{acct.id}/onboard")
    return acct.id


async def test_login_link_opens_the_express_dashboard_once(sandbox: Running,
                                                          client: stripe.StripeClient):
    acct_id = await _onboarded_express(sandbox, client)
    link = await client.v1.accounts.login_links.create_async(acct_id)
    assert link.object == "login_link" and link.created
    assert link.url.startswith(sandbox.url + "/express/")
    assert set(link.to_dict()) == {"object", "created", "url"}
    async with sandbox.http.get(link.url) as resp:
        html = await resp.text()
        assert resp.status == 200 and "Oslo Clinic" in html and "Payments" in html
    # Single use, as Stripe's are.
    async with sandbox.http.get(link.url) as resp:
        assert resp.status == 410


async def test_login_link_only_for_express_accounts(client: stripe.StripeClient):
    standard = await client.v1.accounts.create_async({"type": "standard"})
    with pytest.raises(stripe.InvalidRequestError) as e:
        await client.v1.accounts.login_links.create_async(standard.id)
    assert e.value.http_status == 400
    with pytest.raises(stripe.InvalidRequestError) as e:
        await client.v1.accounts.login_links.create_async("acct_nope")
    assert e.value.code == "resource_missing"


async def test_restricted_account_sends_account_updated(sandbox: Running,
                                                        client: stripe.StripeClient):
    acct_id = await _onboarded_express(sandbox, client)
    await sandbox.control(f"/_control/accounts/{acct_id}/restrict")
    got = await client.v1.accounts.retrieve_async(acct_id)
    assert not got.charges_enabled and not got.payouts_enabled
    assert got.requirements.past_due and got.requirements.disabled_reason == "requirements.past_due"

    def restricted(r: object) -> bool:
        return any(not e["data"]["object"]["charges_enabled"] and e["account"] == acct_id
                   and e["data"]["previous_attributes"].get("charges_enabled") is True
                   for e in sandbox.receiver.events("account.updated"))

    await sandbox.receiver.wait_for(restricted)


async def test_deauthorized_account_sends_the_event_and_is_out_of_reach(
        sandbox: Running, clients, client: stripe.StripeClient):
    acct_id = await _onboarded_express(sandbox, client)
    await sandbox.control(f"/_control/accounts/{acct_id}/deauthorize")
    await sandbox.receiver.wait_for(lambda r: r.events("account.application.deauthorized"))
    event = sandbox.receiver.events("account.application.deauthorized")[0]
    assert event["account"] == acct_id
    assert event["data"]["object"]["object"] == "application"
    with pytest.raises(stripe.PermissionError) as e:
        await client.v1.accounts.retrieve_async(acct_id)
    assert e.value.json_body["error"]["code"] == "account_invalid"
    on_account = clients.make(account=acct_id)
    with pytest.raises(stripe.PermissionError):
        await on_account.v1.checkout.sessions.list_async()
    with pytest.raises(stripe.PermissionError):
        await client.v1.account_links.create_async({
            "account": acct_id, "type": "account_update",
            "refresh_url": "https://app.example/r", "return_url": "https://app.example/b"})


async def test_control_endpoints_for_unknown_accounts(sandbox: Running):
    for action in ("restrict", "deauthorize"):
        async with sandbox.http.post(f"{sandbox.url}/_control/accounts/acct_nope/{action}") as resp:
            assert resp.status == 404
            assert (await resp.json())["error"]["code"] == "resource_missing"
