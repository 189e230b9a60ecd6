"""Helpers for the MediPay sandbox tests: a fake clock, a callback receiver that
verifies signatures on the raw body, claim bodies, and the control surface."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from integrations.medipay.client import MediPayHTTPClient
from integrations.medipay.protocol import (
    SIGNATURE_HEADER,
    Address,
    Claim,
    ClaimPatient,
    Credentials,
    SignatureError,
    verify_callback,
)
from tests.sandbox_support import Clock, bound_socket, serve, wait_until  # noqa: F401  (the tests take them from here)

CALLBACK_SECRET = "mpsec_test_secret"
CREDENTIALS = Credentials("clinic-oslo", "medipay-test")
# Valid test numbers: a fødselsnummer, and a D-number (first digit + 4) with its own check digits.
FNR = "15108695088"
DNR = "55108695071"
MOBILE = "+4791234567"
ADDRESS = Address(line1="Storgata 1", postal_code="0155", city="Oslo")


@dataclass
class Receiver:
    url: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    fail_next: int = 0
    calls: int = 0

    def events(self, event_type: str | None = None) -> list[dict[str, Any]]:
        return [e for e in self.received if event_type is None or e["type"] == event_type]

    def for_claim(self, claim_id: str) -> list[dict[str, Any]]:
        return [e for e in self.received if e["claim"]["id"] == claim_id]

    async def wait_for(self, predicate: Callable[[Receiver], bool], timeout: float = 5) -> None:
        await wait_until(lambda: predicate(self), timeout,
                         lambda: f"callbacks not received in time; got {[e['type'] for e in self.received]}")

    def app(self) -> web.Application:
        async def hook(request: web.Request) -> web.Response:
            self.calls += 1
            raw = await request.read()
            if self.fail_next > 0:
                self.fail_next -= 1
                return web.Response(status=503, text="not now")
            try:
                event = verify_callback(raw, request.headers.get(SIGNATURE_HEADER), CALLBACK_SECRET)
            except SignatureError as e:
                self.refused.append(e.code)
                return web.Response(status=400, text=e.code)
            self.received.append(event)
            return web.Response(text="ok")

        app = web.Application()
        app.router.add_post("/webhooks/medipay", hook)
        return app


@dataclass
class Running:
    url: str
    app: web.Application
    clock: Clock
    receiver: Receiver
    http: aiohttp.ClientSession
    client: MediPayHTTPClient

    async def control(self, method: str, path: str, payload: dict[str, Any] | None = None,
                      expect: int | None = 200) -> Any:
        async with self.http.request(method, self.url + path, json=payload) as resp:
            body = await resp.json()
            if expect is not None:
                assert resp.status == expect, (resp.status, body)
            return body

    async def post(self, path: str, payload: dict[str, Any] | None = None, expect: int | None = 200) -> Any:
        return await self.control("POST", path, payload if payload is not None else {}, expect)

    async def advance(self, hours: float) -> Any:
        return await self.post("/_control/clock/advance", {"hours": hours})

    async def sms(self, claim_id: str | None = None) -> list[dict[str, Any]]:
        path = "/_control/sms" + (f"?claim_id={claim_id}" if claim_id else "")
        return (await self.control("GET", path))["sms"]

    async def raw(self, method: str, path: str, *, json: Any = None, data: Any = None,
                  auth: tuple[str, str] | None = None, headers: dict[str, str] | None = None
                  ) -> tuple[int, Any]:
        headers = dict(headers or {})
        if auth:
            headers["Authorization"] = aiohttp.encode_basic_auth(*auth)
        async with self.http.request(method, self.url + path, json=json, data=data, headers=headers) as resp:
            return resp.status, await resp.json(content_type=None)


def make_claim(claim_id: str, *, amount: int = 45000, mode: str = "checkout", admin_fee: bool = True,
               national_id: str | None = FNR, mobile: str | None = MOBILE,
               address: Address | None = ADDRESS, description: str = "Consultation") -> Claim:
    return Claim(id=claim_id, amount=amount, description=description, admin_fee=admin_fee,
                 mode=mode,  # type: ignore[arg-type]
                 patient=ClaimPatient(name="Kari Nordmann", national_id=national_id, mobile=mobile,
                                      address=address))
