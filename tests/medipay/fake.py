"""A small MediPay for the pipeline tests: the protocol's rules, in memory, with faults on demand.

It keeps claims by id as MediPay does (the same id and body again answers
with the claim as it is; another body is a conflict), and delivers signed
callbacks to the app over HTTP, as MediPay would, keeping each one so a test
can deliver it again, late or out of order.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import phonenumbers
from stdnum.no import fodselsnummer

from app.clock import ManualClock
from integrations.medipay.client import MediPayHTTPClient
from integrations.medipay.protocol import (
    Account,
    Claim,
    ClaimRefused,
    ClaimState,
    Credentials,
    InvalidCredentials,
    ProviderUnavailable,
    format_time,
    sign,
)

ADMIN_FEE = 3900
CHECKOUT_LIMIT = 5_000_000
AUTOMATIC_LIMIT = 300_000


@dataclass
class FakeMediPay:
    clock: ManualClock
    callback_url: str = ""
    secret: str = ""
    claims: dict[str, dict[str, Any]] = field(default_factory=dict)
    bodies: dict[str, dict[str, Any]] = field(default_factory=dict)
    sms: list[dict[str, Any]] = field(default_factory=list)
    events: list[tuple[str, str]] = field(default_factory=list)  # (body, signature header)
    puts: list[str] = field(default_factory=list)
    credit_rejects: set[str] = field(default_factory=set)
    # Faults: answer 503 before storing / store and then fail (a timeout after MediPay's commit).
    fail_before: int = 0
    fail_after: int = 0
    deliver: bool = True
    delay: float = 0.0  # seconds each PUT takes
    _http: aiohttp.ClientSession | None = None

    # ------------------------------------------------------------ the gateway
    async def verify_account(self, credentials: Credentials) -> Account:
        if credentials.password == "wrong":
            raise InvalidCredentials("invalid credentials", "invalid_credentials")
        return Account(username=credentials.username, status="active", admin_fee_amount=ADMIN_FEE)

    async def export_claim(self, credentials: Credentials, claim: Claim) -> ClaimState:
        self.puts.append(claim.id)
        if self.delay:
            import asyncio

            await asyncio.sleep(self.delay)
        if self.fail_before > 0:
            self.fail_before -= 1
            raise ProviderUnavailable("MediPay answered 503", "server_error")
        body = claim.to_wire()
        if claim.id in self.claims:
            if self.bodies[claim.id] != body:
                raise ClaimRefused("another body", "claim_conflict", status=409)
            return self._state(claim.id)
        patient = body["patient"]
        reason = None
        if not patient.get("national_id"):
            reason = "missing_national_id"
        elif not fodselsnummer.is_valid(patient["national_id"]):
            reason = "invalid_national_id"
        elif not patient.get("mobile"):
            reason = "missing_mobile"
        elif not phonenumbers.is_valid_number(phonenumbers.parse(patient["mobile"], "NO")):
            reason = "invalid_mobile"
        if reason:
            raise ClaimRefused("invalid patient", "invalid_patient", status=422, reason_code=reason)
        now = self.clock.now()
        fee = ADMIN_FEE if claim.admin_fee else 0
        row = {
            "id": claim.id, "state": "sent", "reason_code": None, "message": None, "mode": claim.mode,
            "patient": patient, "amount": claim.amount, "admin_fee": claim.admin_fee, "admin_fee_amount": fee,
            "total": claim.amount + fee, "currency": "NOK", "description": claim.description,
            "created_at": format_time(now), "updated_at": format_time(now),
            "deadline_at": format_time(now + timedelta(hours=48)),
            "reminder_at": format_time(now + timedelta(hours=40)), "reminder_sent_at": None,
            "choice": None, "version": 1, "payments": [], "sms": [],
        }
        self.claims[claim.id] = row
        self.bodies[claim.id] = body
        if row["total"] > CHECKOUT_LIMIT:
            await self._change(claim.id, "claim.rejected", state="rejected", reason_code="over_limit",
                               message="The total is above the agreed maximum.")
        elif claim.mode == "invoice":
            # Invoiced at once after PayEx's internal assessment.
            if patient["national_id"] in self.credit_rejects or row["total"] > AUTOMATIC_LIMIT:
                await self._change(claim.id, "claim.rejected", state="rejected", reason_code="credit_rejected",
                                   message="The internal credit assessment failed.")
            else:
                self.sms.append({"claim_id": claim.id, "kind": "invoice", "to": patient["mobile"]})
                await self._change(claim.id, "claim.invoice_sent", state="invoice_sent")
        else:
            self.sms.append({"claim_id": claim.id, "kind": "checkout_link", "to": patient["mobile"]})
        if self.fail_after > 0:
            self.fail_after -= 1
            raise ProviderUnavailable("timed out", "unreachable")
        return self._state(claim.id)

    async def get_claim(self, credentials: Credentials, claim_id: str) -> ClaimState:
        if claim_id not in self.claims:
            raise ClaimRefused("no such claim", "claim_not_found", status=404)
        return self._state(claim_id)

    async def list_claims(self, credentials: Credentials, updated_since: datetime) -> list[ClaimState]:
        return [self._state(cid) for cid, c in self.claims.items() if c["updated_at"] >= format_time(updated_since)]

    def verify_callback(self, body: bytes, signature: str | None) -> dict[str, Any]:
        # The real client's check, with the secret the callbacks are signed with.
        return MediPayHTTPClient(self.callback_url, callback_secret=self.secret).verify_callback(body, signature)

    async def close(self) -> None:
        if self._http:
            await self._http.close()

    # ------------------------------------------------------------ the patient and time
    async def choose(self, claim_id: str, method: str) -> None:
        c = self.claims[claim_id]
        assert c["state"] == "sent"
        c["choice"] = method
        if method in ("card", "vipps"):
            c["payments"] = [{"method": method, "amount": c["total"], "paid_at": format_time(self.clock.now()),
                              "reference": f"{method}_{claim_id}"}]
            await self._change(claim_id, "claim.paid", state="paid")
        elif c["patient"]["national_id"] in self.credit_rejects or c["total"] > CHECKOUT_LIMIT:
            await self._change(claim_id, "claim.rejected", state="rejected", reason_code="credit_rejected",
                               message="The credit check failed.")
        else:
            await self._change(claim_id, "claim.paid", state="paid")

    async def pay_invoice(self, claim_id: str) -> None:
        c = self.claims[claim_id]
        assert c["state"] == "invoice_sent"
        c["payments"] = [{"method": "invoice", "amount": c["total"], "paid_at": format_time(self.clock.now()),
                          "reference": f"inv_{claim_id}"}]
        await self._change(claim_id, "claim.invoice_paid", state="invoice_paid")

    async def tick(self) -> None:
        """Fire what fell due at the shared clock's time: reminders, then automatic invoices."""
        now = format_time(self.clock.now())
        for cid, c in list(self.claims.items()):
            if c["state"] != "sent":
                continue
            if c["reminder_sent_at"] is None and c["reminder_at"] <= now:
                c["reminder_sent_at"] = now
                self.sms.append({"claim_id": cid, "kind": "reminder", "to": c["patient"]["mobile"]})
                await self._change(cid, "claim.reminder_sent")
            if c["deadline_at"] <= now:
                if c["patient"]["national_id"] in self.credit_rejects or c["total"] > AUTOMATIC_LIMIT:
                    reason = "credit_rejected" if c["total"] <= AUTOMATIC_LIMIT else "over_limit"
                    await self._change(cid, "claim.rejected", state="rejected", reason_code=reason,
                                       message="The internal credit assessment failed.")
                else:
                    self.sms.append({"claim_id": cid, "kind": "invoice", "to": c["patient"]["mobile"]})
                    await self._change(cid, "claim.invoice_sent", state="invoice_sent")

    # ------------------------------------------------------------ callbacks
    def _state(self, claim_id: str) -> ClaimState:
        return ClaimState.from_wire(json.loads(json.dumps(self.claims[claim_id])))

    async def _change(self, claim_id: str, kind: str, **changes: Any) -> None:
        c = self.claims[claim_id]
        c.update(changes)
        c["version"] += 1
        c["updated_at"] = format_time(self.clock.now())
        event = {"id": f"evt_{claim_id}_{c['version']}", "type": kind, "created": c["updated_at"],
                 "claim": json.loads(json.dumps(c))}
        body = json.dumps(event)
        header = sign(body, self.secret, int(time.time()))
        self.events.append((body, header))
        if self.deliver and self.callback_url:
            await self.post(body, header)

    async def post(self, body: str, header: str) -> tuple[int, Any]:
        if self._http is None:
            self._http = aiohttp.ClientSession()
        async with self._http.post(self.callback_url, data=body.encode(),
                                   headers={"MediPay-Signature": header, "Content-Type": "application/json"}) as r:
            return r.status, await r.json()
