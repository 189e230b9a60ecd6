"""The guard itself: it refuses what the stripe package's definitions refuse, it
sees requests the app's gateway sends, and a refused request fails the test."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
import stripe
from stripe._encode import _api_encode

from app.keys import STRIPE
from integrations.stripe.protocol import ProviderError
from tests.factories import Live
from tests.stripe_contract.checker import check_request, decode_query
from tests.stripe_contract.plugin import Recorder
from tests.stripe_contract.sdk_params import endpoint_for, endpoints


def sdk_encoded(params: dict[str, Any]) -> str:
    """The body exactly as the SDK writes it (its encoder, its bracket unquoting)."""
    return urlencode(list(_api_encode(params))).replace("%5B", "[").replace("%5D", "]")


CHECKOUT: dict[str, Any] = {
    "mode": "payment",
    "line_items": [{"quantity": 1, "price_data": {"currency": "nok", "unit_amount": 45000,
                                                  "product_data": {"name": "Consultation"}}}],
    "success_url": "https://clinic.example/ok", "cancel_url": "https://clinic.example/back",
    "client_reference_id": "pr_1", "metadata": {"payment_request_id": "pr_1"},
    "payment_intent_data": {"metadata": {"payment_request_id": "pr_1"}, "application_fee_amount": 500},
    "expires_at": 1_900_000_000, "locale": "nb", "customer_email": "p@example.org",
}


def problems(method: str, path: str, params: dict[str, Any]) -> list[str]:
    body = sdk_encoded(params)
    found = check_request(method, path, body if method == "GET" else "", body if method == "POST" else None)
    return [str(v) for v in found]


def test_the_endpoints_the_app_uses_are_mapped_to_the_sdk_definitions() -> None:
    assert len(endpoints()) > 100
    for method, path, name in [
        ("POST", "/v1/checkout/sessions", "SessionCreateParams"),
        ("GET", "/v1/checkout/sessions/cs_1", "SessionRetrieveParams"),
        ("POST", "/v1/checkout/sessions/cs_1/expire", "SessionExpireParams"),
        ("POST", "/v1/accounts", "AccountCreateParams"),
        ("GET", "/v1/accounts/acct_1", "AccountRetrieveParams"),
        ("POST", "/v1/accounts/acct_1", "AccountUpdateParams"),
        ("DELETE", "/v1/accounts/acct_1", "AccountDeleteParams"),
        ("POST", "/v1/account_links", "AccountLinkCreateParams"),
        ("POST", "/v1/accounts/acct_1/login_links", "AccountLoginLinkCreateParams"),
        ("POST", "/v1/refunds", "RefundCreateParams"),
        ("GET", "/v1/refunds/re_1", "RefundRetrieveParams"),
        ("GET", "/v1/payment_intents/search", "PaymentIntentSearchParams"),  # a literal path beats {intent}
    ]:
        ep = endpoint_for(method, path)
        assert ep is not None and ep.params_class().__name__ == name, (method, path, ep)


def test_a_request_the_app_sends_passes() -> None:
    assert problems("POST", "/v1/checkout/sessions", CHECKOUT) == []
    account = {"type": "express", "country": "NO", "email": "a@example.org", "business_profile": {"name": "Clinic"},
               "capabilities": {"card_payments": {"requested": True}, "transfers": {"requested": True}}}
    assert problems("POST", "/v1/accounts", account) == []
    assert problems("POST", "/v1/accounts/acct_1", {"metadata": ""}) == []  # "" unsets, as Stripe allows
    assert problems("GET", "/v1/checkout/sessions/cs_1", {"expand": ["payment_intent"]}) == []


@pytest.mark.parametrize(("change", "expected"), [
    ({"bogus": "1"}, "bogus: Received unknown parameter"),
    ({"payment_intent_data": {"capture": "manual"}}, "payment_intent_data[capture]: Received unknown parameter"),
    ({"locale": "no"}, "locale: Invalid locale: must be one of auto, bg, "),
    ({"mode": "paymnt"}, "mode: Invalid mode: must be one of payment, setup, or subscription"),
    ({"payment_intent_data": {"capture_method": "later"}},
     "payment_intent_data[capture_method]: Invalid payment_intent_data[capture_method]: must be one of automatic"),
    ({"expires_at": "tomorrow"}, "expires_at: Invalid integer: tomorrow"),
    ({"payment_method_types": ["card"]}, "payment_method_types: Received unknown parameter"),
    ({"line_items": [{"quantity": 1, "price_data": {"unit_amount": 1, "product_data": {"name": "x"}}}]},
     "line_items[0][price_data][currency]: Missing required param"),
    ({"line_items": {"price": "price_1"}}, "line_items: Invalid array"),
    ({"metadata": {"nested": {"a": "b"}}}, "metadata[nested]"),
])
def test_what_stripe_would_refuse_is_named(change: dict[str, Any], expected: str) -> None:
    found = problems("POST", "/v1/checkout/sessions", {**CHECKOUT, **change})
    assert any(p.startswith(expected) for p in found), found


def test_booleans_and_unknown_endpoints() -> None:
    account = {"capabilities": {"card_payments": {"requested": "yes"}}}
    assert problems("POST", "/v1/accounts", account) == ["capabilities[card_payments][requested]: Invalid boolean: yes"]
    assert problems("POST", "/v1/account_links", {"type": "account_onboarding"}) == [
        "account: Missing required param"]
    assert problems("POST", "/v1/not_an_endpoint", {}) == ["(body): no POST /v1/not_an_endpoint in the stripe "
                                                           "package's API"]


def test_decoding_follows_the_sdk_encoding() -> None:
    assert decode_query(sdk_encoded(CHECKOUT))["line_items"] == {
        "0": {"quantity": "1", "price_data": {"currency": "nok", "unit_amount": "45000",
                                              "product_data": {"name": "Consultation"}}}}
    assert decode_query("expand[]=a&expand[]=b") == {"expand": {"0": "a", "1": "b"}}


async def test_a_bad_request_through_the_apps_gateway_is_caught(live: Live, stripe_requests: Recorder) -> None:
    gateway = live.app[STRIPE]
    with pytest.raises(ProviderError):
        await gateway.create_account_link(account="acct_missing", refresh_url=f"{live.url}/r",
                                          return_url=f"{live.url}/b", type="account_onboardng")
    caught = stripe_requests.take_violations()
    assert [(r.endpoint, r.gateway_method, str(v).split(":")[0]) for r, v in caught] == [
        ("POST /v1/account_links", "create_account_link", "type")]


def test_a_different_api_version_is_caught() -> None:
    recorder = Recorder()
    rec = recorder.record("GET", "https://api.stripe.com/v1/refunds/re_1", {"Stripe-Version": "2020-08-27"},
                          None, "retrieve_refund")
    assert [v.param for v in rec.violations] == ["Stripe-Version"]
    ok = recorder.record("GET", "https://api.stripe.com/v1/refunds/re_1", {"Stripe-Version": stripe.api_version},
                         None, "retrieve_refund")
    assert ok.violations == []


def test_an_idempotency_key_reused_with_other_parameters_is_caught() -> None:
    recorder = Recorder()
    headers = {"Stripe-Version": stripe.api_version, "Idempotency-Key": "consultpay:pr_1:checkout:1"}
    url = "https://api.stripe.com/v1/checkout/sessions"
    first = recorder.record("POST", url, headers, sdk_encoded(CHECKOUT), "create_checkout_session")
    retry = recorder.record("POST", url, headers, sdk_encoded(CHECKOUT), "create_checkout_session")
    assert first.violations == [] and retry.violations == []
    later = recorder.record("POST", url, headers, sdk_encoded({**CHECKOUT, "expires_at": 1_900_000_060}),
                            "create_checkout_session")
    assert [(v.param, "changed: expires_at" in v.message) for v in later.violations] == [("Idempotency-Key", True)]
    # The same key on another account is another key.
    other = recorder.record("POST", url, {**headers, "Stripe-Account": "acct_2"},
                            sdk_encoded({**CHECKOUT, "expires_at": 1}), "create_checkout_session")
    assert other.violations == []


def test_a_refused_request_fails_the_test_that_sent_it(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_inner="""
        import stripe

        def test_sends_a_bad_refund(stripe_requests):
            stripe_requests.record("POST", "https://api.stripe.com/v1/refunds",
                                   {"Stripe-Version": stripe.api_version},
                                   "payment_intent=pi_1&reason=changed_mind", "create_refund")

        def test_sends_a_good_refund(stripe_requests):
            stripe_requests.record("POST", "https://api.stripe.com/v1/refunds",
                                   {"Stripe-Version": stripe.api_version},
                                   "payment_intent=pi_1&reason=requested_by_customer", "create_refund")
    """)
    result = pytester.runpytest_inprocess("-p", "tests.stripe_contract.plugin", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*POST /v1/refunds (from create_refund): reason: Invalid reason: must be one of*"])
