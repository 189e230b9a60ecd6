"""SQLite's WAL checkpoints: out of the app's commits, on a thread of their own, and the log kept bounded."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

from sqlalchemy import text

from app.db import Database, make_engine
from app.wal import WalCheckpoints

ROUND = 50  # transactions per round
ROUNDS = 8
PAGE = 4096
# Each commit here appends three pages to the log (the row's, the table's root, page 1 with the file's
# size), each with its 24-byte frame header.
ROUND_BYTES = ROUND * 3 * (PAGE + 24)


def wal_bytes(path: Path) -> int:
    wal = Path(f"{path}-wal")
    return wal.stat().st_size if wal.exists() else 0


async def _table(db: Database) -> None:
    async with db.write() as s:
        await s.execute(text("CREATE TABLE t (n INTEGER PRIMARY KEY, blob BLOB)"))


async def _write_round(db: Database, first: int) -> None:
    for n in range(first, first + ROUND):
        async with db.write() as s:  # a page of its own each: every commit appends to the log
            await s.execute(text("INSERT INTO t VALUES (:n, randomblob(3000))"), {"n": n})


async def _until(condition: object, seconds: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not condition():  # type: ignore[operator]
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.005)


async def test_the_apps_connections_leave_the_checkpoints_to_a_thread(tmp_path: Path) -> None:
    db = Database(make_engine(f"sqlite+aiosqlite:///{tmp_path / 'app.db'}"))
    try:
        assert db.checkpoints is not None and db.checkpoints.running
        async with db.read() as s:
            assert (await s.execute(text("PRAGMA wal_autocheckpoint"))).scalar() == 0
            assert (await s.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
            assert (await s.execute(text("PRAGMA synchronous"))).scalar() == 1  # NORMAL
    finally:
        await db.dispose()
    assert not db.checkpoints.running  # stopped with the database, its connection closed
    assert not Path(f"{tmp_path / 'app.db'}-wal").exists()  # the last connection closed checkpointed it all


async def test_an_engine_disposed_directly_stops_the_thread_too(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'app.db'}")
    db = Database(engine)
    assert db.checkpoints is not None and db.checkpoints.running
    await engine.dispose()
    await _until(lambda: not db.checkpoints.running)  # type: ignore[union-attr]


async def test_the_log_stays_the_size_of_what_is_written_between_two_checkpoints(tmp_path: Path) -> None:
    path = tmp_path / "bounded.db"
    db = Database(make_engine(f"sqlite+aiosqlite:///{path}"))
    assert db.checkpoints is not None
    await db.checkpoints.stop()
    db.checkpoints = checkpoints = WalCheckpoints(str(path), db._write_lock, restart_above=ROUND_BYTES // 2)
    try:
        await _table(db)
        sizes = []
        for r in range(ROUNDS):
            await _write_round(db, r * ROUND)
            sizes.append(wal_bytes(path))
            await checkpoints.checkpoint_once()
        # Each round's writes reuse the log from its beginning: it never holds much more than one round.
        assert max(sizes) < 2 * ROUND_BYTES, sizes
        assert checkpoints.counts.locked == ROUNDS and checkpoints.counts.errors == 0
        async with db.read() as s:
            assert (await s.execute(text("SELECT count(*) FROM t"))).scalar() == ROUND * ROUNDS
    finally:
        await db.dispose()


async def test_under_a_steady_stream_of_commits_the_log_is_still_started_again(tmp_path: Path) -> None:
    """A passive checkpoint alone never reaches the log's end while commits keep coming; the locked step does."""
    path = tmp_path / "stream.db"
    db = Database(make_engine(f"sqlite+aiosqlite:///{path}"))
    assert db.checkpoints is not None
    await db.checkpoints.stop()
    db.checkpoints = checkpoints = WalCheckpoints(str(path), db._write_lock, every=0.01, restart_above=ROUND_BYTES // 2)
    checkpoints.start()
    try:
        await _table(db)
        largest = 0
        for n in range(ROUND * ROUNDS):
            async with db.write() as s:
                await s.execute(text("INSERT INTO t VALUES (:n, randomblob(3000))"), {"n": n})
            largest = max(largest, wal_bytes(path))
            await asyncio.sleep(0)  # the loop turns, as it does between webhooks
        await _until(lambda: checkpoints.counts.locked >= 3)
        assert largest < ROUNDS * ROUND_BYTES / 3, largest
        assert checkpoints.counts.errors == 0
    finally:
        await db.dispose()
    assert not checkpoints.running


async def test_without_the_thread_the_log_would_grow_with_every_commit(tmp_path: Path) -> None:
    """What the test above guards against: automatic checkpoints are off, so nothing else copies the log."""
    path = tmp_path / "unbounded.db"
    db = Database(make_engine(f"sqlite+aiosqlite:///{path}"))
    assert db.checkpoints is not None
    await db.checkpoints.stop()
    try:
        await _table(db)
        for r in range(ROUNDS):
            await _write_round(db, r * ROUND)
        assert wal_bytes(path) >= ROUNDS * ROUND_BYTES
    finally:
        await db.dispose()


def _filled(path: Path, rows: int) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute("CREATE TABLE t (n INTEGER PRIMARY KEY, blob BLOB)")
    for n in range(rows):
        conn.execute("INSERT INTO t VALUES (?, randomblob(3000))", (n,))
    return conn


async def test_a_log_over_the_limit_is_truncated(tmp_path: Path) -> None:
    path = tmp_path / "truncated.db"
    writer = _filled(path, 100)
    checkpoints = WalCheckpoints(str(path), restart_above=0, truncate_above=50 * PAGE)
    try:
        assert wal_bytes(path) > 100 * PAGE
        await checkpoints.checkpoint_once()
        assert wal_bytes(path) == 0
        assert checkpoints.counts.truncations == 1 and checkpoints.counts.busy == 0
        assert writer.execute("SELECT count(*) FROM t").fetchone() == (100,)
    finally:
        await checkpoints.stop()
        writer.close()


async def test_a_reader_holding_the_log_makes_the_truncation_wait_and_give_up_not_fail(tmp_path: Path) -> None:
    path = tmp_path / "held.db"
    writer = _filled(path, 10)
    reader = sqlite3.connect(path, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM t").fetchone()  # a snapshot that needs the log's frames
    for n in range(10, 100):
        writer.execute("INSERT INTO t VALUES (?, randomblob(3000))", (n,))
    checkpoints = WalCheckpoints(str(path), restart_above=0, truncate_above=50 * PAGE, busy_seconds=0.05)
    try:
        await checkpoints.checkpoint_once()
        assert checkpoints.counts.busy == 1 and checkpoints.counts.truncations == 0
        assert wal_bytes(path) > 50 * PAGE
        writer.execute("INSERT INTO t VALUES (100, 'still writable')")  # the write lock was given back
        reader.execute("COMMIT")
        await checkpoints.checkpoint_once()
        assert wal_bytes(path) == 0 and checkpoints.counts.truncations == 1
    finally:
        await checkpoints.stop()
        reader.close()
        writer.close()


async def test_the_checkpoints_wait_for_the_file_and_never_make_it(tmp_path: Path) -> None:
    """The app's first connection makes the database file, private; the checkpoints only open it."""
    path = tmp_path / "later.db"
    checkpoints = WalCheckpoints(str(path), every=0.01)
    checkpoints.start()
    try:
        await asyncio.sleep(0.1)
        assert not path.exists()
        assert checkpoints.counts.runs == 0 and checkpoints.counts.errors == 0
    finally:
        await checkpoints.stop()
    assert not checkpoints.running


def test_a_commit_left_in_the_log_survives_a_crash_of_the_process(tmp_path: Path) -> None:
    """Nothing checkpointed, the process killed: the committed rows are read back from the log."""
    path = tmp_path / "crash.db"
    script = textwrap.dedent(f"""
        import asyncio, os
        from sqlalchemy import text
        from app.db import Database, make_engine

        async def main():
            db = Database(make_engine("sqlite+aiosqlite:///{path}"))
            await db.checkpoints.stop()  # nothing copied into the database file
            async with db.write() as s:
                await s.execute(text("CREATE TABLE t (n INTEGER)"))
            for n in range(20):
                async with db.write() as s:
                    await s.execute(text("INSERT INTO t VALUES (:n)"), {{"n": n}})
            print(os.path.getsize("{path}-wal"), flush=True)
            os._exit(9)  # no close, no checkpoint on the way out

        asyncio.run(main())
    """)
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(root)})
    assert done.returncode == 9, done.stderr
    assert int(done.stdout) > 0
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*), sum(n) FROM t").fetchone() == (20, sum(range(20)))
