"""The load gate: how far behind this process is, and whether it takes new work.

A process that accepts more work than it can do queues it without bound, and
then every clinician waits, not only the excess. The gate measures two things
cheaply and refuses *new* work at once when either is past its bound:

- **event-loop lag**: a probe task sleeps ``interval`` seconds and notes how
  late it woke. A probe that is overdue now counts as lag already (the loop
  is busy right now), so a backlog is seen before the probe gets to run.
- **work in flight**: Socket.IO events and REST requests being handled.
- **how long the oldest socket event in flight has waited**: work queued
  behind a lock (SQLite's one writer) or the database does not show as lag,
  but it ages. An event older than the bound means new ones would wait at
  least as long.

Refused work gets an answer straight away: a ``busy`` ack on the socket,
``503`` with ``Retry-After`` over REST (``app/web/middleware.py``). Webhooks,
health and readiness, the Socket.IO transport itself and connects are always
admitted (they are counted in flight, but never refused): Stripe and MediPay
would retry a 503, but a settlement is never worth delaying, and a drained
process's sockets must be able to come back.

``OVERLOAD_LAG_MS``, ``OVERLOAD_IN_FLIGHT`` and ``OVERLOAD_QUEUE_MS`` set the
bounds (0 turns that bound off).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Callable, Iterator

from aiohttp import web

PROBE_INTERVAL = 0.05
MIN_RETRY_MS = 250
MAX_RETRY_MS = 5000


class LoadGate:
    def __init__(self, *, max_lag_ms: int, max_in_flight: int, max_queue_ms: int = 0,
                 interval: float = PROBE_INTERVAL, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_lag = max_lag_ms / 1000
        self.max_in_flight = max_in_flight
        self.max_age = max_queue_ms / 1000
        # When each socket event in flight started, oldest first (a dict keeps insertion order).
        self._events: dict[object, float] = {}
        self.interval = interval
        self._clock = clock
        self._lag = 0.0
        self._next_wake: float | None = None
        self.in_flight = 0
        self.refused = 0
        self._task: asyncio.Task[None] | None = None

    # --- what the process knows about itself

    def lag(self) -> float:
        """Seconds behind: the last probe's lateness, or how overdue the probe is now."""
        overdue = 0.0 if self._next_wake is None else self._clock() - self._next_wake
        return max(self._lag, overdue)

    def oldest_event_age(self) -> float:
        """Seconds the oldest socket event still in flight has been waiting or running."""
        for started in self._events.values():
            return max(0.0, self._clock() - started)
        return 0.0

    def retry_after_ms(self) -> int | None:
        """None when new work is admitted; else how long the caller should wait before trying again."""
        lag = self.lag()
        age = self.oldest_event_age()
        over_lag = self.max_lag > 0 and lag >= self.max_lag
        over_flight = self.max_in_flight > 0 and self.in_flight >= self.max_in_flight
        over_age = self.max_age > 0 and age >= self.max_age
        if not (over_lag or over_flight or over_age):
            return None
        # Long enough for the backlog to drain, never long.
        wanted = max(lag * 2, self.max_lag * 2, age) * 1000
        return int(min(MAX_RETRY_MS, max(MIN_RETRY_MS, wanted)))

    def refuse(self) -> int | None:
        """``retry_after_ms`` for work that may be refused, counting the refusals."""
        retry = self.retry_after_ms()
        if retry is not None:
            self.refused += 1
        return retry

    @contextlib.contextmanager
    def working(self, *, event: bool = False) -> Iterator[None]:
        """Count one piece of work in flight while the block runs; a socket event's age is watched too."""
        token = object()
        self.in_flight += 1
        if event:
            self._events[token] = self._clock()
        try:
            yield
        finally:
            self.in_flight -= 1
            self._events.pop(token, None)

    def view(self) -> dict[str, object]:
        return {"lag_ms": round(self.lag() * 1000, 1), "in_flight": self.in_flight,
                "oldest_event_ms": round(self.oldest_event_age() * 1000, 1), "refused": self.refused,
                "busy": self.retry_after_ms() is not None}

    # --- the probe

    async def _probe(self) -> None:
        while True:
            self._next_wake = self._clock() + self.interval
            await asyncio.sleep(self.interval)
            woke = self._clock()
            self._lag = max(0.0, woke - self._next_wake)

    def start(self) -> None:
        if self._task is None and self.max_lag > 0:
            self._task = asyncio.create_task(self._probe(), name="load-gate-probe")

    async def stop(self) -> None:
        task, self._task = self._task, None
        self._next_wake = None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


LOAD_GATE = web.AppKey("load_gate", LoadGate)


def retry_after_seconds(retry_ms: int) -> int:
    """Whole seconds, at least one: the ``Retry-After`` header's value and the busy ack's ``retry_after``."""
    return max(1, math.ceil(retry_ms / 1000))
