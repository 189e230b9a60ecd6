"""Helpers that drive ConsultPay the way its users do: REST, Socket.IO, the sandbox."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import socketio
from aiohttp import web
from sqlalchemy import func, select

from app.config import Settings
from app.keys import DB, MEDIPAY_ACCOUNTS, SERVICES

PATIENT = {
    "id": "p-1",
    "name": "Kari Nordmann",
    "email": "kari@example.no",
    "national_id": "15076500565",
    "mobile": "+4791234567",
    "address": {"line1": "Storgata 1", "postal_code": "0150", "city": "Oslo", "country": "NO"},
}


def consult_body(clinic_id: str, **over: Any) -> dict[str, Any]:
    body = {
        "clinic_id": clinic_id,
        "external_id": "call-123",
        "clinician": {"id": "u-1", "name": "Dr. Nordmann"},
        "patients": [dict(PATIENT)],
        "currency": "NOK",
        "language": "en",
    }
    body.update(over)
    return body


def sign(payload: str, secret: str, timestamp: int | None = None) -> str:
    ts = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{ts}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={ts},v1={mac}"


class Peer:
    """One person's Socket.IO connection, keeping every event it receives."""

    def __init__(self) -> None:
        self.client = socketio.AsyncClient(reconnection=False)
        self.events: list[tuple[str, Any]] = []
        self._arrived = asyncio.Event()
        self.client.on("*", self._any, namespace="/consult")

    async def _any(self, event: str, data: Any = None) -> None:
        self.events.append((event, data))
        self._arrived.set()

    async def connect(self, url: str, token: str) -> None:
        await self.client.connect(url, namespaces=["/consult"], auth={"token": token}, transports=["websocket"],
                                  # A connect is quick; the margin is for a full suite on two busy cores.
                                  wait_timeout=15)

    async def call(self, event: str, data: Any) -> Any:
        return await self.client.call(event, data, namespace="/consult", timeout=10)

    def named(self, event: str) -> list[Any]:
        return [data for name, data in self.events if name == event]

    async def wait_for(self, event: str, predicate: Any = None, timeout: float = 5.0) -> Any:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            for data in self.named(event):
                if predicate is None or predicate(data):
                    return data
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise AssertionError(f"no {event} matching within {timeout}s; got {self.events!r}")
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except TimeoutError:
                pass

    async def close(self) -> None:
        if self.client.connected:
            await self.client.disconnect()


@dataclass
class Live:
    app: web.Application
    settings: Settings
    demo: dict[str, Any] = field(default_factory=dict)
    http: aiohttp.ClientSession | None = None
    peers: list[Peer] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.settings.public_url

    @property
    def sandbox(self) -> str:
        return self.settings.stripe_sandbox_url

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.demo['api_key']}"}

    async def seed(self) -> None:
        from app import demo_seed as demo
        from app.demo_seed import onboard_in_sandbox
        from app.keys import ORGANISATIONS, STRIPE

        self.http = aiohttp.ClientSession()
        self.demo = await demo.seed(
            self.settings, self.app[DB], self.app[ORGANISATIONS], self.app[STRIPE],
            onboard=lambda a: onboard_in_sandbox(self.settings, a),
            medipay_accounts=self.app[MEDIPAY_ACCOUNTS], vipps_merchants=self.app[SERVICES].vipps_merchants,
        )

    async def close(self) -> None:
        for peer in self.peers:
            await peer.close()
        if self.http:
            await self.http.close()

    async def api(self, method: str, path: str, body: Any = None, *, headers: dict[str, str] | None = None,
                  raw: bytes | None = None) -> tuple[int, Any]:
        assert self.http
        kwargs: dict[str, Any] = {"headers": self.headers if headers is None else headers}
        if raw is not None:
            kwargs["data"] = raw
        elif body is not None:
            kwargs["json"] = body
        async with self.http.request(method, self.url + path, **kwargs) as resp:
            text = await resp.text()
            try:
                return resp.status, json.loads(text)
            except ValueError:
                return resp.status, text

    async def consult(self, **over: Any) -> dict[str, Any]:
        status, body = await self.api("POST", "/api/v1/consults", consult_body(self.demo["clinic_id"], **over))
        assert status == 201, body
        return body

    async def peer(self, token: str) -> Peer:
        peer = Peer()
        await peer.connect(self.url, token)
        self.peers.append(peer)
        return peer

    async def call_pair(self, **over: Any) -> tuple[dict[str, Any], Peer, Peer]:
        consult = await self.consult(**over)
        clinician = await self.peer(consult["clinician"]["token"])
        patient = await self.peer(consult["patients"][0]["token"])
        await clinician.wait_for("consult:state")
        await patient.wait_for("consult:state")
        return consult, clinician, patient

    async def pay_on_hosted_page(self, url: str, card: str = "4242 4242 4242 4242",
                                 email: str = "kari@example.no") -> tuple[int, str, str]:
        """Submit the sandbox's checkout form as a patient would; returns (status, final url, html)."""
        assert self.http
        form = {"email": email, "card_number": card, "exp": "12/34", "cvc": "123"}
        async with self.http.post(url, data=form, allow_redirects=True) as resp:
            return resp.status, str(resp.url), await resp.text()

    async def sandbox_control(self, method: str, path: str, body: Any = None) -> Any:
        assert self.http
        async with self.http.request(method, f"{self.sandbox}/_control{path}", json=body) as resp:
            assert resp.status < 300, await resp.text()
            return await resp.json()

    async def scalar(self, query: Any) -> Any:
        async with self.app[DB].read() as s:
            return await s.scalar(query)

    async def rows(self, query: Any) -> list[Any]:
        async with self.app[DB].read() as s:
            return list((await s.execute(query)).all())

    async def ledger_balanced(self) -> bool:
        from app.models import LedgerLeg

        totals = await self.rows(select(LedgerLeg.currency, func.sum(LedgerLeg.amount)).group_by(LedgerLeg.currency))
        return all(total == 0 for _, total in totals)
