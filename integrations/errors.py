"""The one error tree of every provider the app talks to (Stripe, MediPay).

ProviderError(message, code, provider_message)   a provider refused or failed
 ├── ProviderUnavailable                          network, timeout, 5xx, 429: retry later
 ├── ProviderRefused                              a permanent "no": retrying the same call will not help
 │    ├── CardRefused                             the patient's card was declined
 │    ├── RequestRefused                          a parameter, amount or body the provider will not
 │    │    │                                      take (Stripe's invalid_request_error)
 │    │    └── medipay.ClaimRefused               any other 4xx from MediPay, with ``status`` and
 │    │                                           ``reason_code``
 │    ├── AccessRefused                           the key or password is wrong, revoked, or may not
 │    │    │                                      do this (401, 403)
 │    │    └── medipay.InvalidCredentials         401: the PayEx username/password is wrong
 │    └── AccountRefused                          the connected account cannot take this money
 └── SignatureError                               a webhook or callback whose signature does not verify

Only ``ProviderUnavailable`` is worth a "try again"; a ``ProviderRefused``
needs someone to change something first, and its subclass says who. The
providers' protocol modules re-export these classes, so code that catches
``integrations.stripe.protocol.ProviderError`` catches MediPay's errors too:
one ``except`` per kind, whichever provider raised it.
"""

from __future__ import annotations


class ProviderError(Exception):
    def __init__(self, message: str, code: str = "provider_error", provider_message: str | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.provider_message = provider_message


class ProviderUnavailable(ProviderError):
    pass


class ProviderRefused(ProviderError):
    pass


class CardRefused(ProviderRefused):
    pass


class RequestRefused(ProviderRefused):
    pass


class AccessRefused(ProviderRefused):
    pass


class AccountRefused(ProviderRefused):
    pass


class SignatureError(ProviderError):
    pass
