"""SQLite in the event loop's thread: a writer that meets another process's lock waits without blocking the loop."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from sqlalchemy import text

from app.db import Database, make_engine


async def test_a_writer_waits_for_another_process_and_the_loop_keeps_running(tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    db = Database(engine)
    try:
        async with db.write() as s:
            await s.execute(text("CREATE TABLE t (n INTEGER)"))
        # Another process (here: another connection) holds the write lock.
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        other.execute("INSERT INTO t VALUES (1)")

        async def write() -> None:
            async with db.write() as s:
                await s.execute(text("INSERT INTO t VALUES (2)"))

        writer = asyncio.create_task(write())
        loop = asyncio.get_running_loop()
        started = loop.time()
        for _ in range(20):  # the loop keeps turning while the writer waits
            await asyncio.sleep(0.01)
        assert loop.time() - started < 1.0
        assert not writer.done()
        other.execute("COMMIT")
        other.close()
        await asyncio.wait_for(writer, 5)
        async with db.read() as s:
            assert (await s.execute(text("SELECT n FROM t ORDER BY n"))).scalars().all() == [1, 2]
    finally:
        await db.dispose()
