"""Issue 11, item 1: the sandboxes' control surfaces answer callers on their own machine only.

The caller is judged by the connection's peer address. The first test calls
the running app from this machine, directly and through a proxy's headers; the
second hands a control handler a request whose connection comes from another
address, so no test traffic leaves this machine.
"""

from __future__ import annotations

from pathlib import Path
from unittest import mock

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from integrations.medipay.sandbox import create_sandbox_app as create_medipay_sandbox
from integrations.stripe.sandbox import create_sandbox_app as create_stripe_sandbox
from integrations.vipps.sandbox import create_sandbox_app as create_vipps_sandbox
from tests.security.support import serving, settings_for

CONTROL = [
    ("GET", "/_sandbox/medipay/_control/claims"),  # national ids, mobiles, addresses
    ("GET", "/_sandbox/medipay/_control/sms"),
    ("POST", "/_sandbox/medipay/_control/claims/c_missing/choose"),
    ("GET", "/_sandbox/medipay/"),  # the sandbox's front page lists the claims too
    ("GET", "/_sandbox/stripe/_control/events"),
    ("POST", "/_sandbox/stripe/_control/webhooks"),
    ("POST", "/_sandbox/stripe/_control/accounts/acct_missing/deauthorize"),
    ("GET", "/_sandbox/vipps/_control/payments"),  # patients' phone numbers and every merchant's payments
    ("POST", "/_sandbox/vipps/_control/merchants"),
    ("POST", "/_sandbox/vipps/_control/payments/123456/missing-ref/approve"),
]


async def test_a_relayed_caller_is_refused_and_a_local_one_answered(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    async with serving(settings) as (local, http):
        for method, path in CONTROL:
            # A request from this machine is answered (tests and the demo use it).
            async with http.request(method, local + path, json={}) as resp:
                assert resp.status != 403, (method, path, resp.status)
            # A request relayed by a local proxy comes from elsewhere all the same.
            async with http.request(method, local + path, json={},
                                    headers={"X-Forwarded-For": "198.51.100.7"}) as resp:
                assert resp.status == 403, (method, path, resp.status)
                if path.endswith("/_control/claims"):
                    assert "national_id" not in await resp.text()
        # The sandboxes' Stripe-like API stays reachable through a proxy.
        async with http.get(local + "/_sandbox/stripe/v1/accounts",
                            headers={"Authorization": "Bearer sk_test_" + "a" * 24,
                                     "X-Forwarded-For": "198.51.100.7"}) as resp:
            assert resp.status == 200


def _peer(address: str) -> mock.Mock:
    transport = mock.Mock()
    transport.get_extra_info.side_effect = lambda name, default=None: {
        "peername": (address, 40000), "socket": None}.get(name, default)
    return transport


@pytest.mark.parametrize("make, path", [
    (lambda: create_medipay_sandbox(public_url="http://x", callback_url=None, callback_secret="mpsec_x"),
     "/_control/claims"),
    (lambda: create_stripe_sandbox(public_url="http://x", webhook_url=None, webhook_secret="whsec_x"),
     "/_control/events"),
    (lambda: create_vipps_sandbox(public_url="http://x"), "/_control/payments"),
])
async def test_control_handlers_refuse_a_remote_peer(make, path: str) -> None:  # type: ignore[no-untyped-def]
    app: web.Application = make()
    match = await app.router.resolve(make_mocked_request("GET", path, app=app))
    try:
        for address, allowed in [("203.0.113.9", False), ("127.0.0.1", True), ("::1", True)]:
            request = make_mocked_request("GET", path, app=app, transport=_peer(address))
            response = await match.handler(request)
            assert (response.status == 200) is allowed, (address, response.status)
    finally:
        for key in app:
            store = getattr(app[key], "store", None)
            if store is not None:
                store.close()
