"""The aiohttp set-up every sandbox has: its sender and one periodic task, in one cleanup context."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from aiohttp import web

from .delivery import Sender
from .store import SqliteStore

log = logging.getLogger(__name__)

CleanupContext = Callable[[web.Application], Any]


def background(*, sender: Sender, store: SqliteStore, periodic: Callable[[], object], interval_s: float,
               name: str) -> CleanupContext:
    """A ``cleanup_ctx`` that runs ``periodic`` every ``interval_s`` while the app runs.

    The sender starts first, so what the periodic task raises (expiries,
    reminders) has somewhere to go; on the way out the task stops first, then
    the sender, and the store closes last.
    """

    async def run(app: web.Application) -> AsyncIterator[None]:
        await sender.start()
        ticker = asyncio.create_task(_every(periodic, interval_s, name), name=name)
        yield
        ticker.cancel()
        try:
            await ticker
        except asyncio.CancelledError:
            pass
        await sender.stop()
        store.close()

    return run


async def _every(periodic: Callable[[], object], interval_s: float, name: str) -> None:
    while True:
        await asyncio.sleep(interval_s)
        try:
            periodic()
        except Exception:  # one bad row or a busy shared file must not stop the clock
            log.exception("%s failed", name)
