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


async def test_account_update_links_only_where_stripe_allows_them(client: stripe.StripeClient):
    """Stripe refuses ``account_update`` links for accounts with a Stripe-hosted Dashboard."""
    urls = {"refresh_url": "https://app.example/r", "return_url": "https://app.example/b"}
    for hosted in ({"type": "express"}, {"type": "standard"},
                   {"controller": {"stripe_dashboard": {"type": "express"},
                                   "fees": {"payer": "application"},
                                   "losses": {"payments": "application"}}}):
        acct = await client.v1.accounts.create_async({**hosted, "country": "NO"})
        with pytest.raises(stripe.InvalidRequestError) as e:
            await client.v1.account_links.create_async({"account": acct.id, "type": "account_update", **urls})
        assert e.value.http_status == 400 and e.value.param == "type"
        assert e.value.json_body["error"]["type"] == "invalid_request_error"
        assert "Stripe-hosted Dashboard" in e.value.json_body["error"]["message"]
        # Onboarding links stay allowed: they collect what is outstanding.
        link = await client.v1.account_links.create_async(
            {"account": acct.id, "type": "account_onboarding", "collect": "eventually_due", **urls})
        assert link.object == "account_link"
    platform_collects = await client.v1.accounts.create_async({
        "country": "NO", "controller": {"stripe_dashboard": {"type": "none"}, "requirement_collection": "application",
                                        "fees": {"payer": "application"}, "losses": {"payments": "application"}}})
    assert platform_collects.controller.stripe_dashboard.type == "none"
    link = await client.v1.account_links.create_async(
        {"account": platform_collects.id, "type": "account_update", **urls})
    assert link.url
    with pytest.raises(stripe.InvalidRequestError):
        await client.v1.accounts.login_links.create_async(platform_collects.id)


@pytest.mark.parametrize(("params", "param"), [
    ({"type": "express", "country": "XX"}, "country"),
    ({"type": "express", "country": "ZZ"}, "country"),
    ({"type": "expres"}, "type"),
    ({"controller": {"stripe_dashboard": {"type": "partial"}}}, "controller[stripe_dashboard][type]"),
    ({"controller": {"fees": {"payer": "clinic"}}}, "controller[fees][payer]"),
    ({"controller": {"losses": {"payments": "nobody"}}}, "controller[losses][payments]"),
    ({"controller": {"requirement_collection": "platform"}}, "controller[requirement_collection]"),
    ({"type": "express", "controller": {"stripe_dashboard": {"type": "express"}}}, "controller"),
    # Combinations Stripe does not offer (at the API version the sandbox speaks).
    ({"controller": {"stripe_dashboard": {"type": "express"}, "requirement_collection": "application",
                     "fees": {"payer": "application"}, "losses": {"payments": "application"}}},
     "controller[requirement_collection]"),
    ({"controller": {"stripe_dashboard": {"type": "none"}, "losses": {"payments": "application"}}},
     "controller[fees][payer]"),
    ({"controller": {"stripe_dashboard": {"type": "express"}, "fees": {"payer": "application"}}},
     "controller[losses][payments]"),
])
async def test_account_values_outside_stripes_enums_are_refused(client: stripe.StripeClient, params, param):
    before = len((await client.v1.accounts.list_async()).data)
    with pytest.raises(stripe.InvalidRequestError) as e:
        await client.v1.accounts.create_async(params)
    assert e.value.http_status == 400 and e.value.param == param
    assert len((await client.v1.accounts.list_async()).data) == before


@pytest.mark.parametrize(("extra", "param"), [
    ({"type": "account_edit"}, "type"),
    ({"type": "account_onboarding", "collect": "everything"}, "collect"),
    ({"type": "account_onboarding", "collection_options": {"fields": "all"}}, "collection_options[fields]"),
])
async def test_account_link_values_outside_stripes_enums_are_refused(client: stripe.StripeClient, extra, param):
    acct = await client.v1.accounts.create_async({"type": "express", "country": "SE"})
    with pytest.raises(stripe.InvalidRequestError) as e:
        await client.v1.account_links.create_async({
            "account": acct.id, "refresh_url": "https://app.example/r", "return_url": "https://app.example/b",
            **extra})
    assert e.value.http_status == 400 and e.value.param == param


async def test_platform_without_connect_is_refused(sandbox: Running, client: stripe.StripeClient):
    acct = await client.v1.accounts.create_async({"type": "express", "country": "NO"})
    assert await sandbox.control("/_control/platform", {"connect": False}) == {"connect": False}
    with pytest.raises(stripe.InvalidRequestError) as e:
        await client.v1.accounts.create_async({"type": "express", "country": "NO"})
    assert e.value.http_status == 400 and "signed up for Connect" in str(e.value.user_message)
    with pytest.raises(stripe.InvalidRequestError):
        await client.v1.account_links.create_async({
            "account": acct.id, "type": "account_onboarding",
            "refresh_url": "https://app.example/r", "return_url": "https://app.example/b"})
    await sandbox.control("/_control/platform", {"connect": True})
    assert (await client.v1.accounts.create_async({"type": "express", "country": "NO"})).id


@pytest.mark.parametrize(("state", "charges", "payouts", "reason"), [
    ("under_review", False, False, "under_review"),
    ("rejected", False, False, "rejected.other"),
    ("pending_verification", False, False, "requirements.pending_verification"),
    ("past_due", False, False, "requirements.past_due"),
    ("payouts_paused", True, False, None),
    ("due_soon", True, True, None),
])
async def test_control_puts_an_account_in_each_state(sandbox: Running, client: stripe.StripeClient,
                                                     state, charges, payouts, reason):
    acct_id = await _onboarded_express(sandbox, client)
    await sandbox.control(f"/_control/accounts/{acct_id}/state", {"state": state})
    got = await client.v1.accounts.retrieve_async(acct_id)
    assert (got.charges_enabled, got.payouts_enabled) == (charges, payouts)
    assert got.requirements.disabled_reason == reason
    if state == "due_soon":
        assert got.requirements.currently_due and got.requirements.current_deadline > sandbox.clock.now

    def sent(r: object) -> bool:
        return any(e["account"] == acct_id and e["data"]["object"]["requirements"]["disabled_reason"] == reason
                   and e["data"]["object"]["charges_enabled"] == charges
                   for e in sandbox.receiver.events("account.updated"))

    await sandbox.receiver.wait_for(sent)


async def test_control_refuses_unknown_states(sandbox: Running, client: stripe.StripeClient):
    acct_id = await _onboarded_express(sandbox, client)
    async with sandbox.http.post(f"{sandbox.url}/_control/accounts/{acct_id}/state", json={"state": "sleepy"}) as r:
        assert r.status == 400
    async with sandbox.http.post(f"{sandbox.url}/_control/accounts/{acct_id}/state",
                                 json={"state": "rejected", "reason": "rejected.because"}) as r:
        assert r.status == 400
    got = await client.v1.accounts.retrieve_async(acct_id)
    assert got.charges_enabled
