"""MediPay for the pipeline tests: the built-in sandbox's own rules, in process,
on the tests' clock, with faults on demand.

MediPay's rules live once, in integrations/medipay/sandbox (``claims`` for a
claim's life, ``validation`` for what a PUT may carry). This gateway calls
them directly instead of over HTTP — for speed, and so one ``ManualClock``
moves the app and MediPay together — and answers the way the HTTP client
does: MediPay's error answers become the same ``ProviderError`` kinds
(``integrations.medipay.client.error_for``). Timers fire when a test calls
``tick()`` (``Pipeline.later`` does), not on their own.

Callbacks are signed like the sandbox's and POSTed to the app at once, as
each change happens, so a test sees their effect when the call returns;
each is kept so a test can deliver it again, late or out of order.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import aiohttp

from app.clock import ManualClock
from integrations.medipay.client import MediPayHTTPClient, error_for
from integrations.medipay.protocol import (
    SIGNATURE_HEADER,
    Account,
    Claim,
    ClaimState,
    Credentials,
    ProviderUnavailable,
    sign,
)
from integrations.medipay.sandbox import api, claims, validation
from integrations.medipay.sandbox.callbacks import Callbacks, DeliveryDefaults
from integrations.medipay.sandbox.context import Sandbox
from integrations.medipay.sandbox.errors import MediPayError
from integrations.medipay.sandbox.store import Store

PUBLIC_URL = "http://medipay.sandbox.test"


@contextmanager
def _answers() -> Iterator[None]:
    """MediPay's error answers as the HTTP client reports them."""
    try:
        yield
    except MediPayError as e:
        raise error_for(e.status, e.body()) from e


class _CreditOutcomes:
    """``credit_rejects.add(national_id)``: the sandbox's scripted credit check says no."""

    def __init__(self, sandbox: Sandbox) -> None:
        self._sandbox = sandbox

    def add(self, national_id: str) -> None:
        claims.set_credit(self._sandbox, national_id, "reject")


class FakeMediPay:
    def __init__(self, *, clock: ManualClock, callback_url: str = "", secret: str = "") -> None:
        self.clock = clock
        self.callback_url = callback_url
        self.secret = secret
        store = Store(clock=lambda: clock.now().timestamp())
        # No callback URL for the sandbox's own sender: this gateway delivers them itself, at once.
        self.sandbox = Sandbox(store=store, callbacks=Callbacks(store, None, secret, DeliveryDefaults()),
                               public_url=PUBLIC_URL)
        self.credit_rejects = _CreditOutcomes(self.sandbox)
        self.events: list[tuple[str, str]] = []  # (body, signature header), in the order sent
        self.puts: list[str] = []
        # Faults: answer 503 before storing / store and then fail (a timeout after MediPay's commit).
        self.fail_before = 0
        self.fail_after = 0
        self.deliver = True
        self.delay = 0.0  # seconds each PUT takes
        self._http: aiohttp.ClientSession | None = None

    # ------------------------------------------------------------ what MediPay holds
    @property
    def claims(self) -> dict[str, dict[str, Any]]:
        return {c["id"]: claims.view(c) for c in self.sandbox.store.all("claim")}

    @property
    def sms(self) -> list[dict[str, Any]]:
        return self.sandbox.store.all("sms")

    # ------------------------------------------------------------ the gateway
    async def verify_account(self, credentials: Credentials) -> Account:
        with _answers():
            username = api.account_for(credentials.username, credentials.password)
        rules = self.sandbox.rules
        return Account(username=username, status="active", admin_fee_amount=rules.admin_fee_amount)

    async def export_claim(self, credentials: Credentials, claim: Claim) -> ClaimState:
        self.puts.append(claim.id)
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail_before > 0:
            self.fail_before -= 1
            raise ProviderUnavailable("MediPay answered 503", "server_error")
        with _answers():
            owner = api.account_for(credentials.username, credentials.password)
            _, row = claims.export(self.sandbox, owner, claim.id, validation.claim_body(claim.to_wire()))
        await self._send_callbacks()
        if self.fail_after > 0:
            self.fail_after -= 1
            raise ProviderUnavailable("timed out", "unreachable")
        return ClaimState.from_wire(claims.view(row))

    async def get_claim(self, credentials: Credentials, claim_id: str) -> ClaimState:
        with _answers():
            owner = api.account_for(credentials.username, credentials.password)
            return ClaimState.from_wire(claims.view(claims.get(self.sandbox, claim_id, owner)))

    async def list_claims(self, credentials: Credentials, updated_since: datetime) -> list[ClaimState]:
        out: list[ClaimState] = []
        cursor: int | None = 0
        with _answers():
            owner = api.account_for(credentials.username, credentials.password)
            while cursor is not None:
                rows, cursor = claims.list_changed(self.sandbox, owner, updated_since.timestamp(), cursor, 200)
                out.extend(ClaimState.from_wire(row) for row in rows)
        return out

    def verify_callback(self, body: bytes, signature: str | None) -> dict[str, Any]:
        # The real client's check, with the secret the callbacks are signed with.
        return MediPayHTTPClient(PUBLIC_URL, callback_secret=self.secret).verify_callback(body, signature)

    async def close(self) -> None:
        if self._http:
            await self._http.close()
        self.sandbox.store.close()

    # ------------------------------------------------------------ the patient and time
    async def choose(self, claim_id: str, method: str) -> None:
        claims.choose(self.sandbox, claim_id, method)
        await self._send_callbacks()

    async def pay_invoice(self, claim_id: str) -> None:
        claims.pay_invoice(self.sandbox, claim_id)
        await self._send_callbacks()

    async def tick(self) -> None:
        """Fire what fell due at the shared clock's time: reminders, then automatic invoices."""
        claims.fire_due(self.sandbox)
        await self._send_callbacks()

    # ------------------------------------------------------------ callbacks
    async def _send_callbacks(self) -> None:
        """Sign and POST the events the sandbox stored since the last call, oldest first."""
        for event in self.sandbox.store.all("event")[len(self.events):]:
            body = json.dumps(event)
            header = sign(body, self.secret, int(time.time()))
            self.events.append((body, header))
            if self.deliver and self.callback_url:
                await self.post(body, header)

    async def post(self, body: str, header: str) -> tuple[int, Any]:
        if self._http is None:
            self._http = aiohttp.ClientSession()
        async with self._http.post(self.callback_url, data=body.encode(),
                                   headers={SIGNATURE_HEADER: header, "Content-Type": "application/json"}) as r:
            return r.status, await r.json()
