"""Garbage-collector pauses: measured, logged when long, and kept rare.

A process holding thousands of sockets holds hundreds of thousands of
objects (python-engineio keeps several tasks, queues and timers per socket),
and CPython's full (generation 2) collection walks every one of them while
the event loop stands still. With the interpreter's defaults that happened
every few seconds under load, for 0.2 to 1.1 s each time, with nothing to
collect: the whole of P1's p99 (docs/performance.md).

``settle_heap`` is called once the app has started: it freezes what startup
made (modules, the app, its caches; they live as long as the process) so no
collection walks them again, and it lets the young generation grow to
``YOUNG_THRESHOLD`` objects before it is collected. Short-lived objects then
die young instead of being promoted, and the full collections that remain
come from real growth of the heap (sockets connecting), not from churn.
Cyclic garbage is still collected; it only waits a little longer for it.

The watch times every collection through ``gc.callbacks`` and logs the
long ones, so a latency spike can be matched to its cause in the log.
"""

from __future__ import annotations

import gc
import logging
import time
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("consultpay.gc")

# A pause this long is worth a line in the log.
LONG_PAUSE_MS = 50.0
# Net allocations before the young generation is collected (the default is 700);
# then 10 young collections per middle one and 10 middle ones per full one, as by default.
YOUNG_THRESHOLD = 20_000


@dataclass
class GcWatch:
    """Counts and times collections per generation."""

    long_pause_ms: float = LONG_PAUSE_MS
    collections: list[int] = field(default_factory=lambda: [0, 0, 0])
    longest_ms: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
    _started: float = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        generation = info.get("generation", 2)
        ms = (time.perf_counter() - self._started) * 1000
        self.collections[generation] += 1
        self.longest_ms[generation] = max(self.longest_ms[generation], ms)
        if ms >= self.long_pause_ms:
            log.warning("garbage collection of generation %d took %.1f ms (%d collected)",
                        generation, ms, info.get("collected", 0))

    def snapshot(self) -> dict[str, Any]:
        return {"collections": list(self.collections), "longest_ms": [round(x, 1) for x in self.longest_ms]}


def install() -> GcWatch:
    """Time every collection of this process from now on."""
    watch = GcWatch()
    gc.callbacks.append(watch)
    return watch


def uninstall(watch: GcWatch) -> None:
    """Stop timing: the collections of shutting down are not serving's."""
    if watch in gc.callbacks:
        gc.callbacks.remove(watch)


def settle_heap(young_threshold: int = YOUNG_THRESHOLD) -> None:
    """Freeze what startup made and let the young generation grow before it is collected."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(young_threshold, middle, old)
