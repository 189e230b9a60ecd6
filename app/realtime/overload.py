"""The load gate: how far behind this process is, and whether it takes new work.

A process that accepts more work than it can do queues it without bound, and
then every clinician waits, not only the excess. The gate measures these things
cheaply and refuses *new* work at once when any is past its bound:

- **event-loop lag**: a probe task sleeps ``interval`` seconds and notes how
  late it woke. A probe that is overdue now counts as lag already (the loop
  is busy right now), so a backlog is seen before the probe gets to run.
- **work in flight**: Socket.IO events and REST requests being handled.
- **how long the oldest socket event in flight has waited**: work queued
  behind a lock (SQLite's one writer) or the database does not show as lag,
  but it ages. An event older than the bound means new ones would wait at
  least as long.
- **how long a new event of its kind would wait** (Little's law): the events
  of that kind ahead of it, times the measured time between two of them
  finishing while the kind is busy, less what one takes alone. The age above
  only shows a queue once its oldest entry is old, by when a burst has been
  let in behind it; this bounds the queue an admitted event joins, so what is
  admitted is done within about the bound plus its own time.

Refused work gets an answer straight away: a ``busy`` ack on the socket,
``503`` with ``Retry-After`` over REST (``app/web/middleware.py``). Webhooks,
health and readiness, the Socket.IO transport itself and connects are always
admitted (they are counted in flight, but never refused): Stripe and MediPay
would retry a 503, but a settlement is never worth delaying, and a drained
process's sockets must be able to come back.

``OVERLOAD_LAG_MS``, ``OVERLOAD_IN_FLIGHT`` and ``OVERLOAD_QUEUE_MS`` set the
bounds (0 turns that bound off); the queue bound holds for both the oldest
event's age and a new event's predicted wait.
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
# How much each finished event moves the measured times (an exponential moving average).
SMOOTHING = 0.2


class _Kind:
    """One kind of socket event (its name): how many are in flight and how fast they finish."""

    __slots__ = ("in_flight", "busy_since", "last_done", "interval", "alone")

    def __init__(self) -> None:
        self.in_flight = 0
        self.busy_since = 0.0
        self.last_done = -math.inf
        # Seconds between two finishing while the kind is busy (one over its throughput), and
        # what one takes with no other of its kind in flight; None until measured.
        self.interval: float | None = None
        self.alone: float | None = None

    def predicted_wait(self, now: float) -> float:
        """Seconds a new event would wait for those ahead of it: (n + 1) intervals, less its own time."""
        if self.in_flight == 0 or self.interval is None:
            return 0.0
        # None finished for longer than the interval: the current one is at least that long (a
        # sudden stall shows before anything finishes).
        interval = max(self.interval, now - max(self.busy_since, self.last_done))
        return max(0.0, (self.in_flight + 1) * interval - (self.alone or 0.0))

    def start(self, now: float) -> bool:
        """One more in flight; True when it is the only one."""
        if self.in_flight == 0:
            self.busy_since = now
        self.in_flight += 1
        return self.in_flight == 1

    def done(self, started: float, now: float, *, was_alone: bool) -> None:
        self.in_flight -= 1
        # Since the later of its start and the last one's end: in a busy spell that is the time
        # between two finishing; after an idle spell it is the event's own time, never the idle gap.
        gap = now - max(started, self.last_done)
        self.interval = gap if self.interval is None else self.interval + SMOOTHING * (gap - self.interval)
        if was_alone:
            took = now - started
            self.alone = took if self.alone is None else self.alone + SMOOTHING * (took - self.alone)
        self.last_done = now


class LoadGate:
    def __init__(self, *, max_lag_ms: int, max_in_flight: int, max_queue_ms: int = 0,
                 interval: float = PROBE_INTERVAL, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_lag = max_lag_ms / 1000
        self.max_in_flight = max_in_flight
        self.max_age = max_queue_ms / 1000
        # When each socket event in flight started, oldest first (a dict keeps insertion order).
        self._events: dict[object, float] = {}
        self._kinds: dict[str, _Kind] = {}
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

    def predicted_wait(self, kind: str | None) -> float:
        """Seconds a new socket event of ``kind`` would wait for those of its kind in flight."""
        known = self._kinds.get(kind) if kind is not None else None
        return known.predicted_wait(self._clock()) if known is not None else 0.0

    def retry_after_ms(self, kind: str | None = None) -> int | None:
        """None when new work (a socket event of ``kind``) is admitted; else how long to wait before trying again."""
        lag = self.lag()
        age = self.oldest_event_age()
        wait = self.predicted_wait(kind)
        over_lag = self.max_lag > 0 and lag >= self.max_lag
        over_flight = self.max_in_flight > 0 and self.in_flight >= self.max_in_flight
        over_age = self.max_age > 0 and age >= self.max_age
        over_wait = self.max_age > 0 and wait > self.max_age
        if not (over_lag or over_flight or over_age or over_wait):
            return None
        # Long enough for the backlog to drain, never long.
        wanted = max(lag * 2, self.max_lag * 2, age, wait) * 1000
        return int(min(MAX_RETRY_MS, max(MIN_RETRY_MS, wanted)))

    def refuse(self, kind: str | None = None) -> int | None:
        """``retry_after_ms`` for work that may be refused, counting the refusals."""
        retry = self.retry_after_ms(kind)
        if retry is not None:
            self.refused += 1
        return retry

    @contextlib.contextmanager
    def working(self, *, event: bool | str = False) -> Iterator[None]:
        """Count one piece of work in flight while the block runs.

        A socket event (``event``: its kind, or True for one of no kind) is also watched
        for its age, and its kind's throughput is measured when it is done.
        """
        token = object()
        self.in_flight += 1
        kind: _Kind | None = None
        was_alone = False
        started = self._clock()
        if event is not False:
            self._events[token] = started
            kind = self._kinds.setdefault(event if isinstance(event, str) else "", _Kind())
            was_alone = kind.start(started)
        try:
            yield
        finally:
            self.in_flight -= 1
            self._events.pop(token, None)
            if kind is not None:
                kind.done(started, self._clock(), was_alone=was_alone)

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
