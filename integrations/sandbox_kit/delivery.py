"""Signed events delivered at least once, as both sandboxes send them.

The Stripe sandbox's webhooks and the MediPay sandbox's callbacks keep their
own queues, signatures and ways to misbehave; this is the part they share:

- ``post_attempt``: POST the body, and note in ``attempt`` what came back
  (status, the start of the body) or why nothing did (timeout, connection
  error), and how long it took;
- ``settle``: after an attempt, succeeded, failed for good after
  ``max_attempts``, or pending again after an exponential backoff
  (``retry_base_s`` doubling up to ``retry_cap_s``);
- ``Sender``: the background sender's life cycle (start, wake, stop) and its
  settings, kept in the store so every process on a shared file uses them;
- ``RowSender``: a sender whose deliveries are ``delivery`` rows of a
  ``RowStore`` with a due time (the Vipps webhooks, the MediPay callbacks):
  claiming what is due under a lease, the misbehaviour counters
  (``late_next``, ``fail_next``) and recording an attempt's outcome.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import aiohttp

from .store import RowStore, SqliteStore

# The settings a RowSender's control surface may change, all numbers.
ROW_SENDER_NUMBERS = ("duplicate", "late_next", "late_seconds", "fail_next", "max_attempts", "retry_base_s",
                      "retry_cap_s", "timeout_s")


@dataclass
class DeliveryDefaults:
    retry_base_s: float = 1.0
    retry_cap_s: float = 60.0
    max_attempts: int = 8
    timeout_s: float = 10.0


async def post_attempt(
    session: aiohttp.ClientSession,
    url: str,
    payload: str,
    headers: Mapping[str, str],
    timeout_s: float,
    attempt: dict[str, Any],
) -> bool:
    """POST ``payload`` to ``url``; fill ``attempt`` and say whether the receiver took it (2xx)."""
    started = time.time()
    ok = False
    try:
        async with session.post(
            url, data=payload.encode(), headers=dict(headers), timeout=aiohttp.ClientTimeout(total=timeout_s)
        ) as resp:
            attempt["http_status"] = resp.status
            attempt["response_body"] = (await resp.text(errors="replace"))[:500]
            ok = 200 <= resp.status < 300
    except asyncio.CancelledError:
        raise
    except TimeoutError:
        attempt["error"] = "timeout"
    except aiohttp.ClientError as e:
        attempt["error"] = f"{type(e).__name__}: {e}"
    attempt["duration_ms"] = int((time.time() - started) * 1000)
    return ok


def settle(delivery: dict[str, Any], attempt: dict[str, Any], ok: bool, cfg: Mapping[str, Any]) -> float | None:
    """Record ``attempt`` on ``delivery`` and decide what comes next.

    Returns when the next attempt is due (real time), or None when there is
    none: the receiver took it (``succeeded``) or every attempt is spent (``failed``).
    """
    delivery["attempts"].append(attempt)
    n = len(delivery["attempts"])
    if ok:
        delivery["status"] = "succeeded"
        return None
    if n >= int(cfg["max_attempts"]):
        delivery["status"] = "failed"
        return None
    delay = min(float(cfg["retry_cap_s"]), float(cfg["retry_base_s"]) * 2 ** (n - 1))
    delivery["status"] = "pending"
    delivery["next_at"] = due = time.time() + delay
    return due


class Sender:
    """A background task that sends what falls due; subclasses write ``_run``.

    ``CONFIG_KEY`` names the shared setting that holds the control surface's
    changes to ``MISBEHAVIOUR`` and to the delivery defaults.
    """

    CONFIG_KEY: ClassVar[str]
    MISBEHAVIOUR: ClassVar[Mapping[str, Any]]
    TASK_NAME: ClassVar[str] = "sandbox-sender"

    def __init__(self, store: SqliteStore, defaults: DeliveryDefaults, *, user_agent: str | None = None) -> None:
        self.store = store
        self.defaults = defaults
        self._user_agent = user_agent
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._inflight: set[asyncio.Task[None]] = set()
        self._stopping = False

    # configuration -------------------------------------------------------
    def config(self) -> dict[str, Any]:
        cfg: dict[str, Any] = dict(self.MISBEHAVIOUR)
        cfg.update(retry_base_s=self.defaults.retry_base_s, retry_cap_s=self.defaults.retry_cap_s,
                   max_attempts=self.defaults.max_attempts, timeout_s=self.defaults.timeout_s)
        cfg.update(self.store.get_meta(self.CONFIG_KEY, {}))
        return cfg

    def configure(self, changes: dict[str, Any]) -> dict[str, Any]:
        with self.store.transaction():
            current = self.store.get_meta(self.CONFIG_KEY, {})
            current.update(changes)
            self.store.set_meta(self.CONFIG_KEY, current)
        return self.config()

    # life cycle ----------------------------------------------------------
    async def start(self) -> None:
        headers = {"User-Agent": self._user_agent} if self._user_agent else None
        self._session = aiohttp.ClientSession(headers=headers)
        self._task = asyncio.create_task(self._run(), name=self.TASK_NAME)

    async def stop(self) -> None:
        self._stopping = True
        if self._task:
            # Cancel until it is done: a cancellation that lands while an attempt is
            # finishing must not leave the loop running (and shutdown waiting for it).
            while not self._task.done():
                self._task.cancel()
                await asyncio.wait({self._task}, timeout=1)
        for task in list(self._inflight):
            task.cancel()
        if self._inflight:
            await asyncio.gather(*self._inflight, return_exceptions=True)
        if self._session:
            await self._session.close()

    def wake(self) -> None:
        self._wake.set()

    def _spawn(self, coro: Any) -> None:
        """Run ``coro`` beside the loop; ``stop`` cancels it if it is still going."""
        task = asyncio.create_task(coro)
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

    async def _nap(self, seconds: float) -> None:
        """Until woken or ``seconds`` pass. Not ``wait_for``: on Python 3.11 it can
        swallow a cancellation that arrives as its timeout fires."""
        waiter = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({waiter}, timeout=seconds)
        finally:
            waiter.cancel()

    async def _run(self) -> None:
        raise NotImplementedError


class RowSender(Sender):
    """A sender whose deliveries are ``delivery`` rows, due when their next attempt is."""

    store: RowStore

    def _owner(self, delivery: dict[str, Any]) -> str:
        """The ``owner`` a delivery row is written back with."""
        return ""

    def _finished(self, delivery: dict[str, Any]) -> None:
        """Called in the recording transaction once a delivery has succeeded or failed for good."""

    def _claim(self, limit: int = 100) -> list[dict[str, Any]]:
        """Mark up to ``limit`` due deliveries in flight and return them.

        Each holds a lease: should this process die mid-send, the row falls due again after it.
        """
        now = time.time()
        claimed = []
        with self.store.transaction():
            for d in self.store.due("delivery", now, limit):
                d["status"] = "in_flight"
                self.store.put("delivery", d["id"], d, owner=self._owner(d), due=now + self.defaults.timeout_s + 30)
                claimed.append(d)
        return claimed

    def _take_late(self, cfg: Mapping[str, Any]) -> float:
        """How long to hold back what is queued now: ``late_seconds`` while ``late_next`` lasts, counted down."""
        if int(cfg["late_next"]) <= 0:
            return 0.0
        self.configure({"late_next": int(cfg["late_next"]) - 1})
        return float(cfg["late_seconds"])

    def _take_failure(self) -> bool:
        """Whether this attempt is to fail before it leaves (``fail_next``, counted down)."""
        with self.store.transaction():
            cfg = self.config()
            if int(cfg["fail_next"]) <= 0:
                return False
            self.configure({"fail_next": int(cfg["fail_next"]) - 1})
            return True

    def _record(self, delivery_id: str, attempt: dict[str, Any], ok: bool, cfg: Mapping[str, Any]) -> None:
        """Settle the attempt on the delivery as it is in the store now, and write it back."""
        with self.store.transaction():
            d = self.store.get("delivery", delivery_id)
            if d is None:
                return
            due = settle(d, attempt, ok, cfg)
            self.store.put("delivery", delivery_id, d, owner=self._owner(d), due=due)
            if due is None:
                self._finished(d)
