"""The sandbox refuses, as Stripe does, a request its API version does not define:
values outside an enum, values of the wrong kind, parameters that version does not
have. Each refusal names the parameter and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
import stripe
from stripe_sandbox_support import Running, session_params

from integrations.stripe.sandbox.contract import ROUTES
from tests.stripe_contract.sdk_params import endpoint_for

LINK = {"refresh_url": "https://app.example/refresh", "return_url": "https://app.example/back"}


@pytest.mark.parametrize(("extra", "param", "message"), [
    ({"locale": "no"}, "locale", "Invalid locale: must be one of auto, bg,"),
    ({"payment_intent_data": {"capture_method": "later"}}, "payment_intent_data[capture_method]",
     "must be one of automatic, automatic_async, or manual"),
    ({"customer_creation": "sometimes"}, "customer_creation", "must be one of always, or if_required"),
    ({"submit_type": "buy"}, "submit_type", "must be one of auto, book, donate, pay, or subscribe"),
    ({"billing_address_collection": "maybe"}, "billing_address_collection", "must be one of auto, or required"),
    ({"ui_mode": "popup"}, "ui_mode", "Invalid ui_mode"),
    ({"payment_method_types": ["card"]}, "payment_method_types", "Received unknown parameter"),
])
async def test_checkout_values_outside_the_api_are_refused(client: stripe.StripeClient, extra: dict[str, Any],
                                                          param: str, message: str) -> None:
    with pytest.raises(stripe.InvalidRequestError) as e:
        await client.v1.checkout.sessions.create_async(session_params(**extra))
    assert e.value.http_status == 400 and e.value.param == param
    assert message in str(e.value.user_message)
    assert (await client.v1.checkout.sessions.list_async()).data == []


@pytest.mark.parametrize(("extra", "param", "message"), [
    ({"business_type": "corp"}, "business_type",
     "must be one of company, government_entity, individual, or non_profit"),
    ({"capabilities": {"card_payments": {"requested": "yes"}}}, "capabilities[card_payments][requested]",
     "Invalid boolean: yes"),
    ({"controller": {"stripe_dashboard": {"type": "partial"}}}, "controller[stripe_dashboard][type]",
     "must be one of express, full, or none"),
])
async def test_account_values_outside_the_api_are_refused(client: stripe.StripeClient, extra: dict[str, Any],
                                                         param: str, message: str) -> None:
    with pytest.raises(stripe.InvalidRequestError) as e:
        await client.v1.accounts.create_async({"country": "NO", "email": "c@example.no", **extra})
    assert e.value.http_status == 400 and e.value.param == param
    assert message in str(e.value.user_message)
    assert (await client.v1.accounts.list_async()).data == []


async def test_account_link_collect_outside_the_enum_is_refused(client: stripe.StripeClient) -> None:
    acct = await client.v1.accounts.create_async({"type": "express", "country": "NO"})
    with pytest.raises(stripe.InvalidRequestError) as e:
        await client.v1.account_links.create_async({"account": acct.id, "type": "account_onboarding",
                                                    "collect": "everything", **LINK})
    assert e.value.param == "collect" and "must be one of currently_due, or eventually_due" in str(e.value)


async def test_a_list_limit_that_is_not_a_number_is_refused(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as e:
        await client.v1.refunds.list_async({"limit": "ten"})  # type: ignore[typeddict-item]
    assert e.value.param == "limit" and e.value.code == "parameter_invalid_integer"


async def test_what_the_api_allows_still_passes(sandbox: Running, client: stripe.StripeClient) -> None:
    session = await client.v1.checkout.sessions.create_async(session_params(
        locale="nb", customer_email="p@example.no", submit_type="pay",
        payment_intent_data={"capture_method": "automatic_async", "metadata": {"a": "b"}}))
    assert session.locale == "nb"
    got = await client.v1.checkout.sessions.retrieve_async(session.id, {"expand": ["line_items"]})
    assert got.line_items.data[0].quantity == 1


def test_each_sandbox_route_is_checked_against_the_definition_the_sdk_uses_for_it() -> None:
    for (method, template), name in ROUTES.items():
        endpoint = endpoint_for(method, template.replace("{id}", "x_1"))
        assert endpoint is not None, (method, template)
        assert endpoint.params_class().__name__ == name.rpartition(".")[2], (method, template, endpoint)
