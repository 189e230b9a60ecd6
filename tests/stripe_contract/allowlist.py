"""Requests the app sends today that real Stripe would refuse, tolerated by name.

Each entry is one parameter of one endpoint, with the reason it is still sent.
An entry is a debt, not a permission: remove it when the request is fixed (the
guard then holds the fix in place). An entry that no test needs any more fails
``test_allowlist_entries_are_still_needed``-style review, not the suite.
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
