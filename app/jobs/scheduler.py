"""A small scheduler: each job runs every ``interval`` seconds, one run at a time.

Jobs are written to be safe to run twice or concurrently (they re-check state
under row locks), so several workers may run them at scale.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    name: str
    interval: float
    run: Callable[[], Awaitable[int]]


async def run_forever(jobs: list[Job], stop: asyncio.Event) -> None:
    async def loop(job: Job) -> None:
        while not stop.is_set():
            try:
                done = await job.run()
                if done:
                    log.info("job %s handled %d", job.name, done)
            except Exception:
                log.exception("job %s failed; it runs again in %ss", job.name, job.interval)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), job.interval)

    await asyncio.gather(*(loop(job) for job in jobs))
