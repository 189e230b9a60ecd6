"""Callbacks: stored events and their signed, retried, at-least-once delivery.

Every state change stores an event (kind ``event``) and, when a callback URL
is set, one ``delivery`` row per copy to send, due at once. A background task
claims due deliveries from the store — so an event raised by another process
sharing the data file is delivered too — POSTs them signed with
``MediPay-Signature`` (protocol.sign, real time, not the sandbox clock: the
receiver checks it against its own), and on a non-2xx answer, a connection
error or a timeout schedules the next attempt with exponential backoff until
``max_attempts``. A claimed delivery holds a lease, so a sandbox that dies
mid-send has it picked up again after the lease runs out.

The control surface makes delivery misbehave the way a real service may:
every event delivered ``duplicate`` times, the next events held back by
``late_seconds`` (so later events overtake them: out of order), batches sent
newest first (``reverse``) or all at once (``concurrent``, so they may
arrive in any order), the next ``fail_next`` attempts failing without
reaching the receiver (retried with backoff). Otherwise a batch goes out one
callback at a time, oldest first.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any

from integrations.medipay.protocol import SIGNATURE_HEADER, format_time, sign
from integrations.sandbox_kit import delivery as kit
from integrations.sandbox_kit.delivery import RowSender, post_attempt

from .store import Store, new_id, public

log = logging.getLogger(__name__)

USER_AGENT = "MediPay-Callbacks/1.0 (sandbox)"


def generate_secret() -> str:
    return "mpsec_" + secrets.token_urlsafe(32)


@dataclass
class DeliveryDefaults(kit.DeliveryDefaults):
    retry_base_s: float = 1.0
    retry_cap_s: float = 300.0
    max_attempts: int = 12
    timeout_s: float = 10.0


CONFIG_NUMBERS = kit.ROW_SENDER_NUMBERS


class Callbacks(RowSender):
    CONFIG_KEY = "callback_config"
    MISBEHAVIOUR = {"duplicate": 1, "reverse": False, "concurrent": False, "late_next": 0,
                    "late_seconds": 0.0, "fail_next": 0}
    TASK_NAME = "medipay-sandbox-callbacks"

    def __init__(self, store: Store, url: str | None, secret: str, defaults: DeliveryDefaults) -> None:
        super().__init__(store, defaults, user_agent=USER_AGENT)
        self.store: Store = store
        self.url = url
        self.secret = secret

    # events --------------------------------------------------------------
    def emit(self, event_type: str, claim: dict[str, Any], owner: str, now: float) -> dict[str, Any]:
        """Store the event and queue its deliveries; call inside the claim's transaction."""
        event = {"id": new_id("evt_"), "type": event_type, "created": format_time(now),
                 "claim": public(claim)}
        with self.store.transaction():
            self.store.put("event", event["id"], event, owner=owner)
            if self.url:
                cfg = self.config()
                hold = self._take_late(cfg)
                for _ in range(max(1, int(cfg["duplicate"]))):
                    self._queue(event["id"], owner, time.time() + hold)
        self._wake.set()
        return event

    def redeliver(self, event_id: str) -> dict[str, Any] | None:
        if self.store.get("event", event_id) is None or not self.url:
            return None
        with self.store.transaction():
            delivery = self._queue(event_id, "", time.time())
        self._wake.set()
        return delivery

    def _queue(self, event_id: str, owner: str, at: float) -> dict[str, Any]:
        delivery = {"id": new_id("dlv_"), "event": event_id, "status": "pending", "next_at": at,
                    "attempts": []}
        self.store.put("delivery", delivery["id"], delivery, owner=owner, due=at)
        return delivery

    def log(self) -> list[dict[str, Any]]:
        """Events, oldest first, each with its deliveries and their attempts."""
        by_event: dict[str, list[dict[str, Any]]] = {}
        for d in self.store.all("delivery"):
            by_event.setdefault(d["event"], []).append(d)
        out = []
        for event in self.store.all("event"):
            deliveries = by_event.get(event["id"], [])
            statuses = {d["status"] for d in deliveries}
            status = ("none" if not deliveries else "pending" if statuses & {"pending", "in_flight"}
                      else "failed" if statuses == {"failed"} else "delivered")
            out.append({"event": event, "delivery_status": status, "deliveries": deliveries})
        return out

    # worker --------------------------------------------------------------
    async def _run(self) -> None:
        while not self._stopping:
            await self._nap(0.2)
            self._wake.clear()
            if not self.url:
                continue
            # Let events raised together form one batch (so "reverse" means something).
            await asyncio.sleep(0.01)
            try:
                batch = self._claim()
            except Exception:  # a locked shared file: try again on the next tick
                log.exception("claiming MediPay callback deliveries failed")
                continue
            if not batch:
                continue
            cfg = self.config()
            if cfg["reverse"]:
                batch.reverse()
            if cfg["concurrent"]:
                await asyncio.gather(*(self._attempt(d, cfg) for d in batch))
            else:  # in order, one at a time: misordering only when asked for
                for delivery in batch:
                    await self._attempt(delivery, cfg)

    async def _attempt(self, delivery: dict[str, Any], cfg: dict[str, Any]) -> None:
        event = self.store.get("event", delivery["event"])
        if event is None or self._session is None or not self.url:
            return
        payload = json.dumps(event, separators=(",", ":"), ensure_ascii=False)
        headers = {"Content-Type": "application/json; charset=utf-8",
                   SIGNATURE_HEADER: sign(payload, self.secret, int(time.time()))}
        attempt: dict[str, Any] = {"at": format_time(time.time()), "http_status": None, "error": None}
        if self._take_failure():
            attempt.update(error="injected failure", duration_ms=0)
            ok = False
        else:
            ok = await post_attempt(self._session, self.url, payload, headers, float(cfg["timeout_s"]), attempt)
        self._record(delivery["id"], attempt, ok, cfg)
