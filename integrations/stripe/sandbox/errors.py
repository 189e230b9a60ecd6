"""Stripe's error responses.

    StripeError                 one error body: {"error": {type, message, code?, param?, ...}}
    ├── status 400  invalid_request_error  (unknown/missing/invalid parameters)
    ├── status 400  idempotency_error      (key reused with other parameters)
    ├── status 401  invalid_request_error  (no or bad API key)
    ├── status 402  card_error             (declines, with decline_code)
    ├── status 403  invalid_request_error  (Stripe-Account the key cannot reach)
    ├── status 404  invalid_request_error  resource_missing
    ├── status 429  invalid_request_error  rate_limit
    └── status 500  api_error

Views raise these; the API wrapper turns them into JSON responses.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web


class StripeError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        decline_code: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.decline_code = decline_code
        self.extra = extra or {}

    def body(self) -> dict[str, Any]:
        err: dict[str, Any] = {}
        if self.code:
            err["code"] = self.code
        if self.decline_code:
            err["decline_code"] = self.decline_code
        if self.code:
            err["doc_url"] = "https://stripe.com/docs/error-codes/" + self.code.replace("_", "-")
        err["message"] = self.message
        if self.param:
            err["param"] = self.param
        err.update(self.extra)
        err["type"] = self.type
        return {"error": err}

    def response(self, headers: dict[str, str] | None = None) -> web.Response:
        return web.Response(
            status=self.status,
            text=json.dumps(self.body(), indent=2),
            content_type="application/json",
            headers=headers,
        )


def unknown_param(param: str) -> StripeError:
    return StripeError(
        400, f"Received unknown parameter: {param}", code="parameter_unknown", param=param
    )


def missing_param(param: str) -> StripeError:
    return StripeError(
        400, f"Missing required param: {param}.", code="parameter_missing", param=param
    )


def invalid_param(param: str, message: str, code: str | None = None) -> StripeError:
    return StripeError(400, message, code=code, param=param)


def resource_missing(kind: str, obj_id: str, param: str = "id") -> StripeError:
    return StripeError(
        404, f"No such {kind}: '{obj_id}'", code="resource_missing", param=param
    )


def no_api_key() -> StripeError:
    return StripeError(
        401,
        "You did not provide an API key. You need to provide your API key in the "
        "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
        "YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, "
        "or we can help at https://support.stripe.com/.",
    )


def bad_api_key(key: str) -> StripeError:
    shown = key[:8] + "*" * max(0, len(key) - 12) + key[-4:] if len(key) > 12 else key
    return StripeError(401, f"Invalid API Key provided: {shown}", code="api_key_invalid")


def rate_limited() -> StripeError:
    return StripeError(
        429,
        "Request rate limit exceeded. You can learn more about rate limits here "
        "https://stripe.com/docs/rate-limits.",
        code="rate_limit",
    )


def server_error() -> StripeError:
    return StripeError(
        500,
        "An unknown error occurred while processing your request. Please retry; if the "
        "problem persists, contact https://support.stripe.com/.",
        type="api_error",
    )


def amount_too_small(minimum_text: str, param: str = "line_items") -> StripeError:
    """A Checkout Session under the currency's minimum charge (Stripe's wording)."""
    return StripeError(
        400,
        f"The Checkout Session's total amount due must add up to at least {minimum_text}",
        code="amount_too_small",
        param=param,
    )


# Refusals the control surface can script for the next call, as Stripe words them. Each
# is a permanent "no": a retry gets the same answer until someone changes something.
SCRIPTED: dict[str, dict[str, Any]] = {
    "card_declined": {"status": 402, "type": "card_error", "code": "card_declined",
                      "decline_code": "generic_decline", "message": "Your card was declined."},
    "account_invalid": {
        "status": 403, "type": "invalid_request_error", "code": "account_invalid",
        "message": "The provided key does not have access to the account (or that account does "
                   "not exist). Application access may have been revoked."},
    "charges_disabled": {
        "status": 400, "type": "invalid_request_error", "code": "account_invalid",
        "message": "Your account cannot currently make charges. To find out why charge creation "
                   "is currently disabled, look at the `requirements.disabled_reason` property on "
                   "this account."},
    "platform_account_required": {
        "status": 400, "type": "invalid_request_error", "code": "platform_account_required",
        "message": "Only Stripe Connect platforms can work with other accounts. If you need to "
                   "setup a Stripe Connect platform, you can do so at "
                   "https://dashboard.stripe.com/account/applications/settings."},
    "balance_insufficient": {
        "status": 400, "type": "invalid_request_error", "code": "balance_insufficient",
        "message": "Insufficient funds in Stripe account. In test mode, you can add funds to your "
                   "available balance (bypassing your pending balance) by creating a charge with "
                   "4000 0000 0000 0077 as the card number."},
    # A capture Stripe refuses because the card network let the authorisation go first.
    "charge_expired_for_capture": {
        "status": 400, "type": "invalid_request_error", "code": "charge_expired_for_capture",
        "message": "The charge cannot be captured as the authorization has expired. Auth and capture "
                   "charges must be captured within a set number of days (7 by default)."},
    "invalid_request": {
        "status": 400, "type": "invalid_request_error", "code": "parameter_invalid_string",
        "param": "line_items[0][price_data][product_data][name]",
        "message": "Invalid string: the value is not accepted."},
    "authentication": {
        "status": 401, "type": "invalid_request_error", "code": "api_key_expired",
        "message": "Expired API Key provided: sk_test_********************1234"},
    "permission": {
        "status": 403, "type": "invalid_request_error",
        "message": "The provided key does not have the required permissions for this endpoint. "
                   "Having the 'rak_checkout_session_write' permission would allow this request "
                   "to continue."},
}
