"""Requests the app sends today that real Stripe would refuse, tolerated by name.

Each entry is one parameter of one endpoint, with the reason it is still sent.
An entry is a debt, not a permission: remove it when the request is fixed (the
guard then holds the fix in place). A tolerated violation is kept on the
recorded request (``Recorded.tolerated``), so a test can still see it.

Empty today: every request the suite makes the app send passes the stripe
package's definitions. What those definitions cannot say (an ``account_update``
link for an account with a Stripe-hosted Dashboard, an application fee without
a connected account, a currency Stripe does not support) is the sandbox's to
refuse.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Allowed:
    method: str
    template: str  # the SDK's path template, e.g. "/v1/checkout/sessions"
    param: str  # the parameter as Stripe names it, e.g. "locale"
    reason: str


ALLOWED: tuple[Allowed, ...] = ()


def allowed(method: str, template: str, param: str) -> Allowed | None:
    return next((a for a in ALLOWED
                 if a.method == method.upper() and a.template == template and a.param == param), None)
