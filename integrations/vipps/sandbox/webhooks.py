"""Webhooks: registered per merchant (the Webhooks API), signed as Vipps signs them,
delivered at least once.

Every payment event is offered to each of the merchant's webhooks registered
for its type (``epayments.payment.<name>.v1``); each gets a ``delivery`` row,
due at once. A background task POSTs due deliveries with ``x-ms-date`` (real
time: the receiver checks it against its own clock), ``x-ms-content-sha256``
and ``Authorization: HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=…``
over ``POST\\n<path and query>\\n<date>;<host>;<hash>``, and retries a non-2xx,
a timeout or a refused connection with exponential backoff. As Vipps does, a
payment's notifications to one webhook go in order: while one is being
retried, the ones after it wait (a ``line`` row per webhook and payment).

The control surface makes delivery misbehave: each event sent ``duplicate``
times, the next ``late_next`` events held back ``late_seconds`` outside the line
(later ones overtake them), the next ``fail_next`` attempts failing before
they leave (and holding up the payment's later ones until a retry succeeds).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any
from urllib.parse import urlsplit

from integrations.sandbox_kit import delivery as kit
from integrations.sandbox_kit.delivery import RowSender, post_attempt
from integrations.vipps.client import authorization_header, content_sha256

from .store import Store, new_id

log = logging.getLogger(__name__)

USER_AGENT = "Vipps-Webhooks/1.0 (sandbox)"
CONFIG_NUMBERS = kit.ROW_SENDER_NUMBERS


@dataclass
class DeliveryDefaults(kit.DeliveryDefaults):
    retry_base_s: float = 1.0
    retry_cap_s: float = 300.0
    max_attempts: int = 12
    timeout_s: float = 10.0


def signed_headers(secret: str, url: str, body: bytes, when: float) -> dict[str, str]:
    """The headers Vipps sends with a webhook to ``url`` at ``when`` (seconds since the epoch)."""
    parts = urlsplit(url)
    path_and_query = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    date = formatdate(when, usegmt=True)
    content_hash = content_sha256(body)
    return {"Content-Type": "application/json", "x-ms-date": date, "x-ms-content-sha256": content_hash,
            "Authorization": authorization_header(secret, method="POST", path_and_query=path_and_query, date=date,
                                                  host=parts.netloc, content_hash=content_hash)}


class Webhooks(RowSender):
    CONFIG_KEY = "webhook_config"
    MISBEHAVIOUR = {"duplicate": 1, "late_next": 0, "late_seconds": 0.0, "fail_next": 0}
    TASK_NAME = "vipps-sandbox-webhooks"

    def __init__(self, store: Store, defaults: DeliveryDefaults) -> None:
        super().__init__(store, defaults, user_agent=USER_AGENT)
        self.store: Store = store

    def emit(self, msn: str, event: dict[str, Any]) -> int:
        """Queue ``event`` for each webhook of ``msn`` registered for its type; call inside a transaction."""
        event_type = f"epayments.payment.{str(event['name']).lower()}.v1"
        queued = 0
        with self.store.transaction():
            cfg = self.config()
            hooks = [h for h in self.store.all("webhook", msn) if event_type in h["events"]]
            hold = self._take_late(cfg) if hooks else 0.0
            for hook in hooks:
                for _ in range(max(1, int(cfg["duplicate"]))):
                    at = time.time() + hold
                    delivery = {"id": new_id("dlv_"), "webhook": hook["id"], "url": hook["url"], "event": event,
                                "type": event_type, "status": "pending", "next_at": at, "attempts": [],
                                "line": None if hold else f"{hook['id']}:{event['reference']}"}
                    self.store.put("delivery", delivery["id"], delivery, owner=msn, due=self._join(delivery, at))
                    queued += 1
        if queued:
            self._wake.set()
        return queued

    def _join(self, delivery: dict[str, Any], at: float) -> float | None:
        """Its place in its line: due at ``at`` when first, else parked (None) behind the others."""
        if delivery["line"] is None:
            return at
        line = self.store.get("line", delivery["line"]) or {"waiting": []}
        line["waiting"].append(delivery["id"])
        self.store.put("line", delivery["line"], line)
        return at if len(line["waiting"]) == 1 else None

    def _leave(self, delivery: dict[str, Any]) -> None:
        """A finished delivery lets the next one in its line go."""
        line = self.store.get("line", delivery["line"]) if delivery.get("line") else None
        if line is None or delivery["id"] not in line["waiting"]:
            return
        line["waiting"].remove(delivery["id"])
        if not line["waiting"]:
            self.store.delete("line", delivery["line"])
            return
        self.store.put("line", delivery["line"], line)
        following = self.store.get("delivery", line["waiting"][0])
        if following is not None:
            self.store.put("delivery", following["id"], following, owner=following["event"]["msn"], due=time.time())

    def log(self, msn: str | None = None) -> list[dict[str, Any]]:
        return self.store.all("delivery", msn)

    async def _run(self) -> None:
        while not self._stopping:
            await self._nap(0.2)
            self._wake.clear()
            try:
                batch = self._claim()
            except Exception:  # a locked shared file: try again on the next round
                log.exception("claiming Vipps webhook deliveries failed")
                continue
            cfg = self.config()
            for delivery in batch:  # one at a time, oldest first
                await self._attempt(delivery, cfg)

    def _owner(self, delivery: dict[str, Any]) -> str:
        return str(delivery["event"]["msn"])

    def _finished(self, delivery: dict[str, Any]) -> None:
        self._leave(delivery)

    async def _attempt(self, delivery: dict[str, Any], cfg: dict[str, Any]) -> None:
        hook = self.store.get("webhook", delivery["webhook"])
        attempt: dict[str, Any] = {"at": time.time(), "http_status": None, "error": None}
        if hook is None:  # deleted since: nothing to send to
            attempt["error"] = "webhook deleted"
            ok = False
            cfg = dict(cfg, max_attempts=1)
        elif self._take_failure():
            attempt.update(error="injected failure", duration_ms=0)
            ok = False
        else:
            payload = json.dumps(delivery["event"], separators=(",", ":"))
            headers = signed_headers(hook["secret"], hook["url"], payload.encode(), time.time())
            assert self._session is not None
            ok = await post_attempt(self._session, hook["url"], payload, headers, float(cfg["timeout_s"]), attempt)
        self._record(delivery["id"], attempt, ok, cfg)
