"""The SDK's errors mapped once onto the provider-wide tree, and the SDK's request options."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import stripe

from integrations.errors import (
    AccessRefused,
    AccountRefused,
    CardRefused,
    ProviderError,
    ProviderRefused,
    ProviderUnavailable,
    RequestRefused,
)

__all__ = ["ACCOUNT_CODES", "_mapped_errors", "_options", "_wrap"]


# Refusals that are about the connected account (or the platform's Connect set-up), not the
# request: the clinic's Stripe account has to change before money can move.
ACCOUNT_CODES = frozenset(
    {
        "account_invalid",
        "platform_account_required",
        "account_country_invalid_address",
        "application_fees_not_allowed",
        "balance_insufficient",
        "insufficient_capabilities_for_transfer",
        "transfers_not_allowed",
        "payouts_not_allowed",
        "charges_not_enabled",
    }
)


def _wrap(error: stripe.StripeError) -> ProviderError:
    """One SDK error as ours: an outage to retry, or a refusal that says whose it is."""
    message = error.user_message or str(error)
    # Some error classes (PermissionError, e.g. ``account_invalid``) leave ``code`` unset on
    # the exception but carry it in the body's error object.
    body_code = getattr(getattr(error, "error", None), "code", None)
    code = getattr(error, "code", None) or body_code
    status = error.http_status or 0
    # 409: another request with the same idempotency key is still in flight; wait, then replay.
    transient = status in (409, 429) or status >= 500
    if (
        transient
        or isinstance(error, stripe.APIConnectionError | stripe.RateLimitError)
        or (isinstance(error, stripe.APIError) and not isinstance(error, stripe.InvalidRequestError))
    ):
        return ProviderUnavailable(message, code or type(error).__name__, str(error))
    if code in ACCOUNT_CODES:
        return AccountRefused(message, code, str(error))
    if isinstance(error, stripe.CardError):
        return CardRefused(message, code or "card_declined", str(error))
    if isinstance(error, stripe.AuthenticationError | stripe.PermissionError):
        return AccessRefused(message, code or type(error).__name__, str(error))
    if isinstance(error, stripe.IdempotencyError):
        return RequestRefused(message, "idempotency_error", str(error))
    if isinstance(error, stripe.InvalidRequestError):
        return RequestRefused(message, code or "invalid_request", str(error))
    return ProviderRefused(message, code or type(error).__name__, str(error))


@contextmanager
def _mapped_errors() -> Iterator[None]:
    """Inside the block, the SDK's errors come out as ours, the SDK's error kept as the cause.

    Every call to Stripe runs in one, so the mapping is written once (as httpx
    maps httpcore's exceptions onto its own).
    """
    try:
        yield
    except stripe.StripeError as e:
        raise _wrap(e) from e



def _options(account: str | None, idempotency_key: str | None = None) -> dict[str, Any]:
    """The SDK's request options: the connected account acted on, and the call's idempotency key."""
    options: dict[str, Any] = {}
    if idempotency_key is not None:
        options["idempotency_key"] = idempotency_key
    if account:
        options["stripe_account"] = account
    return options
