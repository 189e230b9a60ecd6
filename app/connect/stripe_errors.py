"""What the admin is told when Stripe does not do what Client payments asked.

    ProviderUnavailable (network, timeout, 5xx, 429)  → Unavailable  "could not be reached, try again"
    ProviderError, by Stripe's code or message        → Conflict     Stripe refused: what to do
     ├── the platform has not signed up for Connect
     ├── the API key is refused, or may not do this
     ├── the clinic's country is not offered
     └── anything else: "Stripe refused", with Stripe's own words beside it

Only a real outage says "try again": a refusal is permanent, and trying again
gets the same answer. Nothing is written before Stripe answers, so a refusal
changes nothing. Stripe's own message is English; it goes along as a detail
(``stripe_message``) for the admin to quote to support, never as the message.
"""

from __future__ import annotations

import logging

from app.errors import Conflict, DomainError, Unavailable
from integrations.stripe.protocol import ProviderError, ProviderUnavailable

log = logging.getLogger(__name__)

UNREACHABLE = "Stripe could not be reached. Please try again."
NO_CONNECT = (
    "Stripe refused: the platform has not signed up for Stripe Connect. Nothing was changed. "
    "Turn on Connect in the platform's Stripe Dashboard, then try again."
)
BAD_KEY = (
    "Stripe refused the platform's API key. Nothing was changed. "
    "Check the Stripe secret key in the server's settings."
)
NO_PERMISSION = (
    "Stripe refused: the platform's API key may not do this. Nothing was changed. "
    "Give the key write access to Connect (accounts, account links and login links), or use the secret key."
)
COUNTRY = (
    "Stripe does not offer accounts in the clinic's country. Nothing was changed. "
    "Contact the platform's support."
)
REFUSED = (
    "Stripe refused this request. Nothing was changed. "
    "If you need help, give Stripe's answer, shown with this message, to the platform's support."
)

PERMISSION_CODES = frozenset({"PermissionError", "secret_key_required", "insufficient_permissions"})
KEY_CODES = frozenset({"api_key_invalid", "api_key_expired", "AuthenticationError", "platform_api_key_expired"})


def admin_error(e: ProviderError, doing: str) -> DomainError:
    """The domain error for a Stripe failure while ``doing`` something (logged with Stripe's words)."""
    said = e.provider_message or e.message or ""
    if isinstance(e, ProviderUnavailable):
        log.warning("Stripe unavailable (%s): %s", doing, said)
        return Unavailable("stripe_unavailable", UNREACHABLE)
    log.warning("Stripe refused (%s, %s): %s", doing, e.code, said)
    if "signed up for Connect" in said or e.code == "platform_connect_not_enabled":
        return Conflict("stripe_connect_not_enabled", NO_CONNECT, stripe_message=said)
    if e.code in KEY_CODES:
        return Conflict("stripe_key_refused", BAD_KEY, stripe_message=said)
    if e.code in PERMISSION_CODES:
        return Conflict("stripe_permission", NO_PERMISSION, stripe_message=said)
    if e.code == "country_unsupported":
        return Conflict("stripe_country_unsupported", COUNTRY, stripe_message=said)
    return Conflict("stripe_refused", REFUSED, stripe_message=said)
