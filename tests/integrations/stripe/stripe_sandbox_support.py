"""Helpers for the sandbox tests: the fake clock, the webhook receiver, SDK clients."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import stripe
from aiohttp import web

from tests.sandbox_support import Clock, bound_socket, serve, wait_until  # noqa: F401  (the tests take them from here)

API_KEY = "sk_test_sandbox123456"
WEBHOOK_SECRET = "whsec_test_secret"


@dataclass
class Receiver:
    url: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)
    fail_next: int = 0
    calls: int = 0

    def events(self, event_type: str | None = None) -> list[dict[str, Any]]:
        return [r["event"] for r in self.received
                if event_type is None or r["event"]["type"] == event_type]

    async def wait_for(self, predicate: Callable[[Receiver], bool], timeout: float = 5) -> None:
        await wait_until(lambda: predicate(self), timeout,
                         lambda: f"webhooks not received in time; got {[e['type'] for e in self.events()]}")


@dataclass
class Running:
    url: str
    app: web.Application
    clock: Clock
    receiver: Receiver
    secret: str
    http: aiohttp.ClientSession

    async def control(self, path: str, payload: dict[str, Any] | None = None) -> Any:
        async with self.http.post(self.url + path, json=payload or {}) as resp:
            assert resp.status < 300, await resp.text()
            return await resp.json()

    async def events(self) -> list[dict[str, Any]]:
        async with self.http.get(self.url + "/_control/events") as resp:
            return (await resp.json())["events"]


class Clients:
    """Makes SDK clients on the sandbox and closes their HTTP sessions afterwards."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._http: list[stripe.AIOHTTPClient] = []

    def make(self, *, account: str | None = None, timeout: float | None = None,
             api_key: str = API_KEY, retries: int = 0) -> stripe.StripeClient:
        http_client = stripe.AIOHTTPClient(
            timeout=aiohttp.ClientTimeout(total=timeout) if timeout else None)
        self._http.append(http_client)
        return stripe.StripeClient(
            api_key, stripe_account=account, base_addresses={"api": self.url, "connect": self.url},
            http_client=http_client, max_network_retries=retries,
        )

    async def close(self) -> None:
        for http_client in self._http:
            await http_client.close_async()


def session_params(**extra: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "mode": "payment",
        "line_items": [{"price_data": {"currency": "nok", "unit_amount": 45000,
                                       "product_data": {"name": "Consultation"}},
                        "quantity": 1}],
        "success_url": "https://app.example/paid?session={CHECKOUT_SESSION_ID}",
        "cancel_url": "https://app.example/cancelled",
        "metadata": {"payment_request": "pr_1"},
    }
    params.update(extra)
    return params
