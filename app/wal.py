"""Checkpoints of SQLite's write-ahead log, off the event loop's thread and out of the commits.

A commit in WAL mode appends its pages to the log; a checkpoint copies them
back into the database file and syncs it. Left to SQLite, the commit that
takes the log past 1,000 pages runs the checkpoint itself, inside the commit:
in the event loop's thread (``app/db.py``, ``InlineSqlite``), with the write
lock held, so every writer and every answer waits for a copy and two syncs
(a commit took 0.5 ms at the median and 45–114 ms at its slowest that way).

So the app's connections turn the automatic checkpoints off
(``wal_autocheckpoint=0``, ``make_engine``) and ``WalCheckpoints`` runs them,
on a connection of its own in a thread of its own (the loop only awaits it),
in two steps:

1. Every ``every`` seconds, ``wal_checkpoint(PASSIVE)`` while the app writes
   on: it takes no lock the app's writers or readers wait for, and copies all
   the log held when it began.
2. Once the log holds more than ``restart_above`` bytes, the same again
   holding the process's write lock (``Database.write``), so nothing is
   appended meanwhile: it copies only what was committed during step 1, and
   the log is then copied to its end. The next writer starts the log again
   from its beginning, so it never holds much more than ``restart_above``
   (under a steady stream of commits a passive checkpoint alone never reaches
   the end, and the log would grow for as long as the stream lasts). Writers
   of this process wait for step 2 in the loop, like for any other write; the
   loop itself keeps running.

Should the log still grow past ``truncate_above`` bytes (a reader kept it
from being started again), it is truncated: ``wal_checkpoint(TRUNCATE)``
waits up to ``busy_seconds`` for readers to finish.

Durability does not change: a commit is in the log (``synchronous=NORMAL``)
whether or not it has been checkpointed, and a checkpoint interrupted by a
crash is done again from the log on the next start.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)


@dataclass
class CheckpointCounts:
    """What the checkpoints have done so far (read by tests and benchmarks)."""

    runs: int = 0  # wal_checkpoint calls
    locked: int = 0  # step 2s, under the write lock
    locked_ms_max: float = 0.0  # the longest the write lock was held for one
    locked_ms: float = 0.0  # and for all of them
    truncations: int = 0
    busy: int = 0  # calls that could not finish (another checkpoint ran, or TRUNCATE met a reader)
    errors: int = 0
    last: tuple[int, int, int] = (0, 0, 0)  # the last call's (busy, pages in the log, pages copied from it)


class WalCheckpoints:
    """The checkpoints of one SQLite database file, every ``every`` seconds (see the module's doc).

    ``start`` in the running loop; ``stop`` ends them after the checkpoint
    under way and closes their connection.
    """

    def __init__(self, path: str, write_lock: asyncio.Lock | None = None, *, every: float = 0.1,
                 restart_above: int = 16 * 1024 * 1024, truncate_above: int = 64 * 1024 * 1024,
                 busy_seconds: float = 2.0) -> None:
        self.path = path
        self.write_lock = write_lock or asyncio.Lock()
        self.every = every
        self.restart_above = restart_above
        self.truncate_above = truncate_above
        self.busy_seconds = busy_seconds
        self.counts = CheckpointCounts()
        self._conn: sqlite3.Connection | None = None
        self._page_size = 4096
        # One thread: a sqlite3 connection stays with the thread that made it.
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-wal-checkpoints")
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="sqlite-wal-checkpoints")

    def stop_soon(self, *_args: Any) -> None:
        """Cancel the checkpoints without waiting: one under way finishes in its thread, then it closes."""
        if self._task is not None:
            self._task.cancel()

    async def stop(self) -> None:
        """Stop, and wait for the thread to finish and close its connection (the loop keeps running)."""
        self.stop_soon()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        await asyncio.to_thread(self._thread.shutdown)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                await asyncio.sleep(self.every)
                try:
                    await self.checkpoint_once(loop)
                except sqlite3.Error as e:
                    # The file may be busy with another process's migration, or gone: next time.
                    self.counts.errors += 1
                    log.warning("WAL checkpoint failed: %s", e)
        finally:
            # After any checkpoint still running there: the thread is the connection's.
            self._thread.submit(self._close)
            self._thread.shutdown(wait=False)

    async def checkpoint_once(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Steps 1 and 2 (and a truncation if the log is over ``truncate_above``)."""
        loop = loop or asyncio.get_running_loop()
        pages = await loop.run_in_executor(self._thread, self._checkpoint, "PASSIVE")
        if pages * (self._page_size + 24) <= self.restart_above:  # each page with its frame's header
            return  # a short log (started again since, maybe), or no database yet
        async with self.write_lock:
            self.counts.locked += 1
            began = loop.time()
            # Nothing to copy when nothing was committed since step 1: then no sync either.
            await loop.run_in_executor(self._thread, self._checkpoint, "PASSIVE")
            if self._wal_bytes() > self.truncate_above:
                if not await loop.run_in_executor(self._thread, self._checkpoint, "TRUNCATE"):
                    self.counts.truncations += 1
            held = (loop.time() - began) * 1000
            self.counts.locked_ms += held
            self.counts.locked_ms_max = max(self.counts.locked_ms_max, held)

    def _checkpoint(self, mode: str) -> int:
        """One ``wal_checkpoint(mode)`` in the thread. PASSIVE: the pages in the log; else: whether busy."""
        conn = self._connection()
        if conn is None:
            return 0
        if mode != "PASSIVE":
            conn.execute(f"PRAGMA busy_timeout={int(self.busy_seconds * 1000)}")
        try:
            row = conn.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
        finally:
            if mode != "PASSIVE":
                conn.execute("PRAGMA busy_timeout=0")
        self.counts.runs += 1
        self.counts.last = row
        busy, pages, _copied = row
        if busy:
            self.counts.busy += 1
        return pages if mode == "PASSIVE" else bool(busy)

    def _connection(self) -> sqlite3.Connection | None:
        if self._conn is None:
            if not os.path.exists(self.path):
                return None  # not made yet: the app's first connection makes it (private)
            # Read-write, never creating the file.
            self._conn = sqlite3.connect(f"{Path(self.path).resolve().as_uri()}?mode=rw", uri=True, timeout=0,
                                         isolation_level=None)
            self._page_size = self._conn.execute("PRAGMA page_size").fetchone()[0]
        return self._conn

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _wal_bytes(self) -> int:
        try:
            return os.path.getsize(self.path + "-wal")
        except OSError:
            return 0


def checkpoints_for(engine: AsyncEngine, write_lock: asyncio.Lock) -> WalCheckpoints | None:
    """Checkpoints of a SQLite engine's database file, started if a loop runs; ``None`` for any other database.

    They stop with ``Database.dispose``; an engine disposed directly stops them too.
    """
    url = engine.url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    checkpoints = WalCheckpoints(url.database, write_lock)
    event.listen(engine.sync_engine, "engine_disposed", checkpoints.stop_soon)
    try:
        checkpoints.start()
    except RuntimeError:
        pass  # no running loop: whoever runs one starts them
    return checkpoints
