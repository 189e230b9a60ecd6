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


async def test_closing_gathers_the_planner_statistics_of_queried_tables(tmp_path: Path) -> None:
    """The settlement report's plans rest on sqlite_stat1; a connection closing gathers them (PRAGMA optimize)."""
    path = tmp_path / "stats.db"
    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    db = Database(engine)
    async with db.write() as s:
        await s.execute(text("CREATE TABLE t (k TEXT, n INTEGER)"))
        await s.execute(text("CREATE INDEX ix_t_k ON t (k)"))
        await s.execute(text("WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < 999)"
                             " INSERT INTO t SELECT 'k' || (i % 10), i FROM s"))
    async with db.read() as s:
        assert (await s.execute(text("SELECT count(*) FROM t WHERE k = 'k3'"))).scalar() == 100
    await engine.dispose()
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT stat FROM sqlite_stat1 WHERE idx = 'ix_t_k'").fetchall() == [("1000 100",)]
