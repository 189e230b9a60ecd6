"""Events and their signed, retried, at-least-once delivery.

Like Stripe, the sandbox has two kinds of webhook endpoint, each with its own
signing secret: the account endpoint gets the events of the platform's own
account (no ``account`` on the event) and the Connect endpoint those of
connected accounts (``account`` names it). Without a Connect endpoint, Connect
events go to the account endpoint, as ``stripe listen --forward-to`` does
without ``--forward-connect-to``. An endpoint may have several secrets (a
roll): each delivery is then signed with every one of them, one ``v1`` each.

Every event is stored (kind ``event``) and, when it has an endpoint, gets one
``delivery`` row per copy to send. A background task claims due deliveries
from the store — so an event raised by another process sharing the data file
is delivered too — POSTs them signed like Stripe, and on a non-2xx answer, a
connection error or a timeout schedules the next attempt with exponential
backoff until ``max_attempts``. The control surface can make delivery
misbehave the way real Stripe may: duplicates, shuffled batches, concurrency,
delays.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import random
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from integrations.sandbox_kit import delivery as kit
from integrations.sandbox_kit.delivery import Sender, post_attempt

from .store import PLATFORM, Store, new_id, public

log = logging.getLogger(__name__)

API_VERSION = "2026-10-28.endive"
USER_AGENT = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"


def generate_secret() -> str:
    return "whsec_" + secrets.token_hex(24)


def sign(payload: str, secret: str | Sequence[str], timestamp: int) -> str:
    """The ``Stripe-Signature`` header value for this payload: one ``v1`` per secret."""
    secrets_ = [secret] if isinstance(secret, str) else list(secret)
    macs = [hmac.new(s.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256).hexdigest()
            for s in secrets_]
    return ",".join([f"t={timestamp}", *(f"v1={mac}" for mac in macs)])


@dataclass(frozen=True)
class Endpoint:
    """A registered webhook endpoint: where it is and the secrets it is signed with."""

    url: str
    secrets: tuple[str, ...]


@dataclass
class DeliveryDefaults(kit.DeliveryDefaults):
    retry_base_s: float = 1.0
    retry_cap_s: float = 60.0
    max_attempts: int = 8
    timeout_s: float = 10.0


class Webhooks(Sender):
    CONFIG_KEY = "webhook_config"
    MISBEHAVIOUR = {"duplicate": 1, "shuffle": False, "delay_ms": 0, "concurrent": False}
    TASK_NAME = "stripe-sandbox-webhooks"

    def __init__(
        self, store: Store, account: Endpoint | None, connect: Endpoint | None, defaults: DeliveryDefaults
    ) -> None:
        super().__init__(store, defaults)
        self.store: Store = store
        self.endpoints = {name: ep for name, ep in (("account", account), ("connect", connect)) if ep}

    # events --------------------------------------------------------------
    def endpoint_for(self, event: dict[str, Any]) -> str | None:
        """Which endpoint Stripe sends this event to, if one is registered."""
        if event.get("account") and "connect" in self.endpoints:
            return "connect"
        return "account" if "account" in self.endpoints else None

    def emit(
        self,
        event_type: str,
        obj: dict[str, Any],
        *,
        account: str = PLATFORM,
        request_id: str | None = None,
        idempotency_key: str | None = None,
        previous_attributes: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        data: dict[str, Any] = {"object": public(obj)}
        if previous_attributes is not None:
            data["previous_attributes"] = previous_attributes
        event: dict[str, Any] = {"id": new_id("evt_"), "object": "event"}
        if account:
            event["account"] = account
        endpoint = self.endpoint_for(event)
        event.update({
            "api_version": API_VERSION,
            "created": self.store.now(),
            "data": data,
            "livemode": False,
            "pending_webhooks": 1 if endpoint else 0,
            "request": {"id": request_id, "idempotency_key": idempotency_key},
            "type": event_type,
        })
        with self.store.transaction():
            self.store.put("event", event, account)
            if endpoint:
                for _ in range(int(self.config()["duplicate"])):
                    self._queue(event["id"], endpoint)
        self._wake.set()
        return event

    def redeliver(self, event_id: str) -> dict[str, Any] | None:
        event = self.store.get("event", event_id)
        endpoint = self.endpoint_for(event) if event is not None else None
        if endpoint is None:
            return None
        delivery = self._queue(event_id, endpoint)
        self._wake.set()
        return delivery

    def _queue(self, event_id: str, endpoint: str) -> dict[str, Any]:
        delivery = {"id": new_id("dlv_"), "event": event_id, "endpoint": endpoint, "status": "pending",
                    "next_at": time.time(), "lease_until": 0, "attempts": []}
        self.store.put("delivery", delivery)
        return delivery

    def log(self) -> list[dict[str, Any]]:
        by_event: dict[str, list[dict[str, Any]]] = {}
        for d in self.store.all("delivery"):
            by_event.setdefault(d["event"], []).insert(0, d)
        out = []
        for _account, event in self.store.all_with_account("event"):
            deliveries = by_event.get(event["id"], [])
            statuses = {d["status"] for d in deliveries}
            status = ("none" if not deliveries else "pending" if statuses & {"pending", "in_flight"}
                      else "failed" if statuses == {"failed"} else "delivered")
            out.append({"event": event, "delivery_status": status,
                        "deliveries": [{k: v for k, v in d.items() if k != "lease_until"}
                                       for d in deliveries]})
        return out

    # worker --------------------------------------------------------------
    async def _run(self) -> None:
        while not self._stopping:
            await self._nap(0.25)
            self._wake.clear()
            if not self.endpoints:
                continue
            # Let events raised together form one batch (so shuffling means something).
            await asyncio.sleep(0.01)
            try:
                batch = self._claim()
            except Exception:  # a locked shared file: try again on the next tick
                log.exception("claiming webhook deliveries failed")
                continue
            if not batch:
                continue
            cfg = self.config()
            if cfg["shuffle"]:
                random.shuffle(batch)
            if cfg["concurrent"]:
                for delivery in batch:
                    self._spawn(self._attempt(delivery, cfg))
            else:
                for delivery in batch:
                    await self._attempt(delivery, cfg)

    def _claim(self) -> list[dict[str, Any]]:
        now = time.time()
        claimed = []
        with self.store.transaction():
            for d in reversed(self.store.all("delivery")):
                due = d["status"] == "pending" and d["next_at"] <= now
                stale = d["status"] == "in_flight" and d["lease_until"] < now
                if due or stale:
                    d["status"] = "in_flight"
                    d["lease_until"] = now + self.defaults.timeout_s + 30
                    self.store.put("delivery", d)
                    claimed.append(d)
        return claimed

    async def _attempt(self, delivery: dict[str, Any], cfg: dict[str, Any]) -> None:
        event = self.store.get("event", delivery["event"])
        if event is None or self._session is None:
            return
        # A delivery queued by another process sharing the store names its endpoint.
        endpoint = self.endpoints.get(delivery.get("endpoint") or "") or self.endpoints.get(
            self.endpoint_for(event) or "")
        if endpoint is None:
            return
        if cfg["delay_ms"]:
            await asyncio.sleep(cfg["delay_ms"] / 1000)
        payload = json.dumps(event, indent=2)
        # Signed with the real time: receivers check it against their own clock.
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": USER_AGENT,
            "Stripe-Signature": sign(payload, endpoint.secrets, int(time.time())),
        }
        attempt: dict[str, Any] = {"at": int(time.time()), "http_status": None, "error": None}
        ok = await post_attempt(self._session, endpoint.url, payload, headers, float(cfg["timeout_s"]), attempt)
        self._record(delivery["id"], attempt, ok, cfg)

    def _record(self, delivery_id: str, attempt: dict[str, Any], ok: bool, cfg: dict[str, Any]) -> None:
        with self.store.transaction():
            d = self.store.get("delivery", delivery_id)
            if d is None:
                return
            kit.settle(d, attempt, ok, cfg)
            self.store.put("delivery", d)
            if d["status"] != "pending":
                self._settle_pending_count(d["event"])

    def _settle_pending_count(self, event_id: str) -> None:
        account = self.store.account_of(event_id) or PLATFORM
        event = self.store.get("event", event_id)
        if event is not None and event["pending_webhooks"]:
            event["pending_webhooks"] = 0
            self.store.put("event", event, account)
