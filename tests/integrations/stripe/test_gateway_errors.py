"""The gateway tells Stripe's outages from its refusals, and says whose refusal it is."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
from stripe_sandbox_support import API_KEY, WEBHOOK_SECRET, Running

from integrations.stripe.client import CHECKOUT_LOCALES, StripeSDKGateway
from integrations.stripe.protocol import (
    AccessRefused,
    AccountRefused,
    CardRefused,
    NewCheckout,
    ProviderError,
    ProviderRefused,
    ProviderUnavailable,
    RequestRefused,
)
from integrations.stripe.sandbox.validation import CHECKOUT_LOCALES as STRIPE_LOCALES
from tests.stripe_contract.plugin import Recorder


@pytest.fixture
async def gateway(sandbox: Running) -> AsyncIterator[StripeSDKGateway]:
    gw = StripeSDKGateway(api_key=API_KEY, webhook_secret=WEBHOOK_SECRET, api_base=sandbox.url)
    yield gw
    await gw.close()


def _new(key: str, amount: int = 45000, locale: str | None = "nb") -> NewCheckout:
    return NewCheckout(
        account=None, amount=amount, currency="NOK", description="Consultation",
        success_url="https://app.example/ok", cancel_url="https://app.example/cancel", reference="pr_1",
        metadata={"payment_request_id": "pr_1"}, expires_at=int(time.time()) + 3600, idempotency_key=key,
        locale=locale,
    )


@pytest.mark.parametrize(("script", "kind", "code"), [
    ("card_declined", CardRefused, "card_declined"),
    ("account_invalid", AccountRefused, "account_invalid"),
    ("charges_disabled", AccountRefused, "account_invalid"),
    ("platform_account_required", AccountRefused, "platform_account_required"),
    ("balance_insufficient", AccountRefused, "balance_insufficient"),
    ("invalid_request", RequestRefused, "parameter_invalid_string"),
    ("authentication", AccessRefused, "api_key_expired"),
    ("permission", AccessRefused, "PermissionError"),
])
async def test_refusals_are_permanent_and_say_whose(sandbox: Running, gateway: StripeSDKGateway,
                                                    script: str, kind: type, code: str) -> None:
    await sandbox.control("/_control/fail", {"path_prefix": "/v1/checkout/sessions", "mode": "error",
                                             "error": script})
    with pytest.raises(kind) as e:
        await gateway.create_checkout_session(_new("k-" + script))
    assert isinstance(e.value, ProviderRefused) and not isinstance(e.value, ProviderUnavailable)
    assert e.value.code == code


@pytest.mark.parametrize("mode", ["server_error", "rate_limit", "disconnect"])
async def test_outages_are_unavailable(sandbox: Running, gateway: StripeSDKGateway, mode: str) -> None:
    await sandbox.control("/_control/fail", {"path_prefix": "/v1/checkout/sessions", "mode": mode, "count": 3})
    with pytest.raises(ProviderUnavailable):
        await gateway.create_checkout_session(_new("k-" + mode))


async def test_amount_too_small_and_a_reused_key_are_request_refusals(
    gateway: StripeSDKGateway, stripe_requests: Recorder
) -> None:
    with pytest.raises(RequestRefused) as e:
        await gateway.create_checkout_session(_new("k-small", amount=299))
    assert e.value.code == "amount_too_small"
    await gateway.create_checkout_session(_new("k-same"))
    with pytest.raises(RequestRefused) as e:
        await gateway.create_checkout_session(_new("k-same", amount=50000))
    assert e.value.code == "idempotency_error"
    # Still a ProviderError: existing handlers keep catching it.
    assert isinstance(e.value, ProviderError)
    # The request guard saw the reused key too (sent here on purpose).
    refused = stripe_requests.take_violations()
    assert [v.param for _, v in refused] == ["Idempotency-Key"], refused


async def test_the_app_sends_only_stripes_checkout_locales(gateway: StripeSDKGateway) -> None:
    assert set(CHECKOUT_LOCALES.values()) <= set(STRIPE_LOCALES)
    for lang in ("nb", "sv", "en", "no", "de"):
        session = await gateway.create_checkout_session(_new("k-locale-" + lang, locale=lang))
        assert session.status == "open"
