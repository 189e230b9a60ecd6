"""The sandbox refuses what Stripe refuses, keeps idempotency keys for 24 hours, and can
lose an answer or script a refusal on demand."""

from __future__ import annotations

import pytest
import stripe
from stripe_sandbox_support import Clients, Running, session_params


def _items(currency: str, amount: int = 45000) -> list[dict]:
    return [{"price_data": {"currency": currency, "unit_amount": amount,
                            "product_data": {"name": "Consultation"}}, "quantity": 1}]


async def test_restricted_test_keys_are_accepted(clients: Clients):
    restricted = clients.make(api_key="rk_test_51Restricted0123456789")
    s = await restricted.v1.checkout.sessions.create_async(session_params())
    assert s.status == "open"


@pytest.mark.parametrize("key", ["sk_live_51Live0123456789", "rk_live_51Live0123456789",
                                 "pk_test_51Publishable0123", "sk_test_", "sk_test_has space1",
                                 "sk_test_short", "whsec_0123456789abcdef"])
async def test_live_publishable_and_malformed_keys_are_refused(clients: Clients, key: str):
    with pytest.raises(stripe.AuthenticationError, match="Invalid API Key provided") as e:
        await clients.make(api_key=key).v1.checkout.sessions.list_async()
    assert e.value.http_status == 401


async def test_idempotency_keys_expire_after_24_hours(sandbox: Running, client: stripe.StripeClient):
    opts = {"idempotency_key": "consultpay:pr_1:checkout:1"}
    first = await client.v1.checkout.sessions.create_async(session_params(), opts)
    sandbox.clock.now += 23 * 3600
    with pytest.raises(stripe.IdempotencyError):
        await client.v1.checkout.sessions.create_async(session_params(client_reference_id="x"), opts)
    sandbox.clock.now += 3600
    # 24 hours on, the key is new again: the request is a new one.
    second = await client.v1.checkout.sessions.create_async(session_params(client_reference_id="x"), opts)
    assert second.id != first.id and second.client_reference_id == "x"
    assert second.last_response.headers.get("Idempotent-Replayed") is None


@pytest.mark.parametrize(("change", "param"), [
    ({"locale": "no"}, "locale"),
    ({"locale": "nb-NO"}, "locale"),
    ({"line_items": _items("xyz")}, "line_items[0][price_data][currency]"),
    ({"line_items": _items("NOK")}, "line_items[0][price_data][currency]"),
    ({"payment_intent_data": {"capture_method": "later"}}, "payment_intent_data[capture_method]"),
    ({"mode": "donation"}, "mode"),
])
async def test_values_outside_stripes_enums_are_refused(client: stripe.StripeClient, change, param):
    with pytest.raises(stripe.InvalidRequestError) as e:
        await client.v1.checkout.sessions.create_async(session_params(**change))
    assert e.value.http_status == 400 and e.value.param == param
    assert e.value.error.type == "invalid_request_error"
    assert not (await client.v1.checkout.sessions.list_async()).data


@pytest.mark.parametrize("locale", ["nb", "sv", "en", "auto", "en-GB"])
async def test_stripes_locales_are_accepted(client: stripe.StripeClient, locale: str):
    s = await client.v1.checkout.sessions.create_async(session_params(locale=locale))
    assert s.locale == locale


@pytest.mark.parametrize(("currency", "minimum", "shown"), [
    ("nok", 300, "NOK 3.00"), ("sek", 300, "SEK 3.00"), ("dkk", 250, "DKK 2.50"),
    ("eur", 50, "EUR 0.50"), ("aud", 50, "AUD 0.50"), ("usd", 50, "USD 0.50"),
    ("gbp", 30, "GBP 0.30"), ("chf", 50, "CHF 0.50"),
])
async def test_under_the_minimum_charge_is_amount_too_small(client: stripe.StripeClient, currency: str,
                                                            minimum: int, shown: str):
    with pytest.raises(stripe.InvalidRequestError) as e:
        await client.v1.checkout.sessions.create_async(session_params(line_items=_items(currency, minimum - 1)))
    assert e.value.code == "amount_too_small" and e.value.param == "line_items"
    assert str(e.value.user_message).endswith(f"must add up to at least {shown}")
    s = await client.v1.checkout.sessions.create_async(session_params(line_items=_items(currency, minimum)))
    assert s.amount_total == minimum


async def test_expires_at_outside_30_minutes_to_24_hours(sandbox: Running, client: stripe.StripeClient):
    now = int(sandbox.clock.now)
    for when in (now - 60, now + 29 * 60, now + 24 * 3600 + 60):
        with pytest.raises(stripe.InvalidRequestError) as e:
            await client.v1.checkout.sessions.create_async(session_params(expires_at=when))
        assert e.value.param == "expires_at"


async def test_a_dropped_answer_is_kept_and_replayed(sandbox: Running, clients: Clients):
    """Stripe made the session and the answer was lost: the same key gives the same session."""
    await sandbox.control("/_control/fail", {"path_prefix": "/v1/checkout/sessions", "method": "POST",
                                             "mode": "drop_answer", "count": 1})
    client = clients.make()
    opts = {"idempotency_key": "lost-1"}
    with pytest.raises(stripe.APIConnectionError):
        await client.v1.checkout.sessions.create_async(session_params(), opts)
    [made] = (await client.v1.checkout.sessions.list_async()).data
    again = await client.v1.checkout.sessions.create_async(session_params(), opts)
    assert again.id == made.id
    assert again.last_response.headers.get("Idempotent-Replayed") == "true"
    assert len((await client.v1.checkout.sessions.list_async()).data) == 1


@pytest.mark.parametrize(("name", "error", "code"), [
    ("card_declined", stripe.CardError, "card_declined"),
    ("account_invalid", stripe.PermissionError, "account_invalid"),
    ("charges_disabled", stripe.InvalidRequestError, "account_invalid"),
    ("platform_account_required", stripe.InvalidRequestError, "platform_account_required"),
    ("balance_insufficient", stripe.InvalidRequestError, "balance_insufficient"),
    ("invalid_request", stripe.InvalidRequestError, "parameter_invalid_string"),
    ("authentication", stripe.AuthenticationError, "api_key_expired"),
    ("permission", stripe.PermissionError, None),
])
async def test_scripted_refusals_for_the_next_call(sandbox: Running, client: stripe.StripeClient,
                                                   name: str, error: type, code: str | None):
    await sandbox.control("/_control/fail", {"path_prefix": "/v1/checkout/sessions", "mode": "error",
                                             "error": name, "count": 1})
    with pytest.raises(error) as e:
        await client.v1.checkout.sessions.create_async(session_params())
    assert (e.value.code or e.value.error.code) == code
    # Only the next call: the one after it goes through, and nothing was made before.
    s = await client.v1.checkout.sessions.create_async(session_params())
    assert [x.id for x in (await client.v1.checkout.sessions.list_async()).data] == [s.id]


async def test_a_scripted_refusal_can_name_an_account(sandbox: Running, clients: Clients,
                                                      client: stripe.StripeClient):
    a = await client.v1.accounts.create_async({"type": "express", "country": "NO"})
    await sandbox.control(f"/_control/accounts/{a.id}/onboard")
    await sandbox.control("/_control/fail", {"path_prefix": "/v1/checkout/sessions", "mode": "error",
                                             "error": "charges_disabled", "account": a.id})
    # Another account (here the platform) is not affected.
    await client.v1.checkout.sessions.create_async(session_params())
    with pytest.raises(stripe.InvalidRequestError, match="cannot currently make charges"):
        await clients.make(account=a.id).v1.checkout.sessions.create_async(session_params())


async def test_bad_fault_rules_are_refused(sandbox: Running):
    for body in ({"mode": "error", "error": "nope"}, {"mode": "drop_answer", "count": 0},
                 {"mode": "server_error", "method": "PATCH"}, {"mode": "sometimes"}):
        async with sandbox.http.post(sandbox.url + "/_control/fail", json=body) as resp:
            assert resp.status == 400, body
