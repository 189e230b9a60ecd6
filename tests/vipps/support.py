"""Helpers for the Vipps tests: the sandbox and a webhook receiver on real sockets,
a clock the test moves, the control surface, and the phone page driven over HTTP."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from integrations.vipps.client import VippsClient, verify_webhook
from integrations.vipps.protocol import NewPayment, SignatureError, UserFlow, VippsKeys
from tests.sandbox_support import Clock, bound_socket, serve, wait_until  # noqa: F401  (the tests take them from here)

PHONE = "4791234567"
TOKEN_FIELD = re.compile(r'name="token" value="([^"]+)"')


@dataclass
class Receiver:
    """The merchant's webhook endpoint: verifies each request on its raw body, as the app must."""

    url: str = ""
    secret: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    def names(self, reference: str | None = None) -> list[str]:
        return [e["name"] for e in self.received if reference is None or e["reference"] == reference]

    async def wait_for(self, predicate: Callable[[Receiver], bool], timeout: float = 5) -> None:
        await wait_until(lambda: predicate(self), timeout,
                         lambda: f"webhooks not received in time; got {self.names()}, refused {self.refused}")

    def app(self) -> web.Application:
        async def hook(request: web.Request) -> web.Response:
            raw = await request.read()
            parts = urlsplit(self.url)
            try:
                event = verify_webhook(self.secret, method=request.method, path_and_query=request.path_qs,
                                       host=parts.netloc, headers=request.headers, body=raw, now=datetime.now(UTC))
            except SignatureError as e:
                self.refused.append(e.code)
                return web.Response(status=401, text=e.code)
            self.received.append(event)
            return web.Response(text="ok")

        app = web.Application()
        app.router.add_post("/webhooks/vipps", hook)
        return app


@dataclass
class Running:
    url: str
    app: web.Application
    clock: Clock
    receiver: Receiver
    http: aiohttp.ClientSession
    client: VippsClient
    keys: VippsKeys

    async def control(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        async with self.http.request(method, self.url + path, json=body) as resp:
            assert resp.status == 200, await resp.text()
            return await resp.json()

    async def advance(self, **units: float) -> Any:
        return await self.control("POST", "/_control/clock/advance", units)

    async def merchant(self) -> VippsKeys:
        keys = await self.control("POST", "/_control/merchants")
        return VippsKeys(keys["client_id"], keys["client_secret"], keys["subscription_key"],
                         keys["merchant_serial_number"])

    async def phone_token(self, phone: str = PHONE) -> str:
        """Open the phone page as the patient's phone would, and read the waiting request's token."""
        async with self.http.get(f"{self.url}/phone/{phone}", headers={"Accept-Language": "en"}) as resp:
            assert resp.status == 200
            found = TOKEN_FIELD.search(await resp.text())
        assert found, "no payment request on the phone"
        return found.group(1)

    async def answer(self, token: str, action: str, origin: str = "phone") -> aiohttp.ClientResponse:
        async with self.http.post(f"{self.url}/pay", data={"token": token, "action": action, "from": origin,
                                                           "lang": "en"}, allow_redirects=False) as resp:
            await resp.read()
            return resp


def new_payment(flow: UserFlow = UserFlow.PUSH_MESSAGE, *, amount: int = 49900, reference: str | None = None,
                phone: str | None = PHONE, return_url: str | None = None) -> NewPayment:
    if flow in (UserFlow.WEB_REDIRECT, UserFlow.NATIVE_REDIRECT) and return_url is None:
        return_url = "https://clinic.example/return?card=1"
    return NewPayment(reference=reference or "cp-" + uuid.uuid4().hex[:20], amount=amount, currency="NOK",
                      description="Video consultation", user_flow=flow, return_url=return_url,
                      phone_number=phone if flow is UserFlow.PUSH_MESSAGE else None)
