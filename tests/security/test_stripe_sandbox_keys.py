"""Issue 11, item 2: in the Stripe sandbox, as at Stripe, a key sees its own platform's objects only.

One clinic's platform key (the app's) and another key on the same sandbox,
through the official SDK: the other key cannot list, read, change or delete
the first one's connected account, act on it with ``Stripe-Account``, read its
payments or refund them, nor see its events.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import stripe

from tests.conftest import FAST_MEDIPAY_SANDBOX, FAST_SANDBOX, free_port
from tests.security.support import settings_for

# The key the app once sent to its sandbox, a name anyone could read in the source.
OTHER_KEY = "sk_test_consultpay_sandbox"


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[tuple[str, str, aiohttp.ClientSession]]:
    """The app's embedded Stripe sandbox, its URL and the app's own key."""
    from aiohttp import web

    from app.factory import create_app

    settings = settings_for(tmp_path, PORT=str(free_port()))
    app = create_app(settings, run_jobs=False, sandbox_options=FAST_SANDBOX,
                     medipay_sandbox_options=FAST_MEDIPAY_SANDBOX)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, settings.host, settings.port).start()
    async with aiohttp.ClientSession() as http:
        yield settings.stripe_sandbox_url, settings.stripe_key, http
    await runner.cleanup()


def client(url: str, key: str, http_clients: list[stripe.AIOHTTPClient], account: str | None = None,
           ) -> stripe.StripeClient:
    http_client = stripe.AIOHTTPClient()
    http_clients.append(http_client)
    return stripe.StripeClient(key, stripe_account=account, http_client=http_client,
                               base_addresses={"api": url, "connect": url}, max_network_retries=0)


async def test_another_key_cannot_see_or_touch_a_platforms_account(sandbox) -> None:  # type: ignore[no-untyped-def]
    url, own_key, http = sandbox
    opened: list[stripe.AIOHTTPClient] = []
    try:
        own = client(url, own_key, opened)
        other = client(url, OTHER_KEY, opened)
        assert own_key != OTHER_KEY
        account = await own.v1.accounts.create_async(
            {"type": "express", "country": "NO", "email": "clinic@legesenter.example"})
        async with http.post(f"{url}/_control/accounts/{account.id}/onboard") as resp:
            assert resp.status == 200

        listed = await other.v1.accounts.list_async()
        assert account.id not in [a.id for a in listed.data]
        assert "clinic@legesenter.example" not in str(listed)
        for attempt in (
            other.v1.accounts.retrieve_async(account.id),
            other.v1.accounts.update_async(account.id, {"email": "thief@example.com"}),
            other.v1.accounts.delete_async(account.id),
            other.v1.account_links.create_async({"account": account.id, "type": "account_onboarding",
                                                 "refresh_url": "https://x.example/r",
                                                 "return_url": "https://x.example/d"}),
        ):
            with pytest.raises(stripe.InvalidRequestError) as refused:
                await attempt
            assert refused.value.http_status == 404 and refused.value.code == "resource_missing"
        # Acting on the account with Stripe-Account: Stripe's "no access" answer.
        with pytest.raises(stripe.PermissionError) as denied:
            await client(url, OTHER_KEY, opened, account=account.id).v1.checkout.sessions.list_async()
        assert denied.value.http_status == 403 and "does not have access" in str(denied.value)

        # The account is untouched and its owner still sees it.
        mine = await own.v1.accounts.retrieve_async(account.id)
        assert mine.email == "clinic@legesenter.example" and mine.charges_enabled

        # A paid session on the account: the other key can neither read nor refund it.
        on_account = client(url, own_key, opened, account=account.id)
        session = await on_account.v1.checkout.sessions.create_async({
            "mode": "payment", "success_url": "https://x.example/ok",
            "line_items": [{"price_data": {"currency": "nok", "unit_amount": 45000,
                                           "product_data": {"name": "Consultation"}}, "quantity": 1}],
        })
        async with http.post(f"{url}/_control/checkout/sessions/{session.id}/pay",
                             json={"email": "kari@example.no"}) as resp:
            paid = await resp.json()
            assert resp.status == 200, paid
        other_sessions = await other.v1.checkout.sessions.list_async()
        assert session.id not in [s.id for s in other_sessions.data]
        with pytest.raises(stripe.InvalidRequestError):
            await other.v1.checkout.sessions.retrieve_async(session.id)
        with pytest.raises(stripe.InvalidRequestError):
            await other.v1.payment_intents.retrieve_async(paid["payment_intent"])
        with pytest.raises(stripe.InvalidRequestError):
            await other.v1.refunds.create_async({"payment_intent": paid["payment_intent"]})
        intent = await on_account.v1.payment_intents.retrieve_async(paid["payment_intent"])
        charge = await on_account.v1.charges.retrieve_async(intent.latest_charge)
        assert charge.amount_refunded == 0

        # Events, even those the control surface caused, are the owner's: on the account
        # (Stripe-Account) it sees them; the other key sees none on its platform either.
        own_events = {e.type for e in (await on_account.v1.events.list_async({"limit": 100})).data}
        assert {"account.updated", "checkout.session.completed", "charge.succeeded"} <= own_events
        assert (await other.v1.events.list_async()).data == []
    finally:
        for http_client in opened:
            await http_client.close_async()
