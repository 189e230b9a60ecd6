"""The engine and how transactions are opened.

SQLite (the embedded default) allows one writer at a time; rather than let
concurrent writers collide on ``database is locked``, every write transaction
in this process queues on one lock and starts with ``BEGIN IMMEDIATE``.
WAL with ``synchronous=NORMAL`` is the durability chosen there: a committed
transaction survives a crash of the process, and at worst the last
transactions before a power loss are lost, never a half-written one.
PostgreSQL needs no lock: writers take row locks (``SELECT … FOR UPDATE``).

SQLite calls run in the event loop's own thread (``InlineSqlite``), not on
aiosqlite's helper thread: a statement on a local WAL database takes tens of
microseconds, while handing each call to a thread and back cost more than the
statement itself (about seven hand-overs per statement; the profile of a
webhook's settlement showed most of its time there). Nothing in SQLite may
then wait: the busy timeout is zero, and ``BEGIN IMMEDIATE`` that finds
another process writing is retried after an ``asyncio`` sleep instead.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite
from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.util import await_only, greenlet_spawn

from app.files import private_sqlite_file
from app.ready import Driver, in_driver_savepoint
from app.wal import checkpoints_for

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")


# How long a writer waits in all for another process's SQLite write lock.
BUSY_WAIT_SECONDS = 30.0


class _RunNow:
    """Stands in for aiosqlite's queue to its thread: runs each call at once."""

    def put_nowait(self, item: tuple[asyncio.Future[Any] | None, Any]) -> None:
        future, function = item
        try:
            result = function()
        except BaseException as e:
            if future is not None and not future.done():
                future.set_exception(e)
            return
        if future is not None and not future.done():
            future.set_result(result)


def _optimize(connection: sqlite3.Connection) -> None:
    """``PRAGMA optimize``, as SQLite advises before a connection closes.

    It gathers the statistics (``sqlite_stat1``) of the tables this connection
    queried that have none yet, or that grew 25-fold since they were gathered.
    The settlement report's plans depend on them: without them SQLite walks
    every card of the organisation and probes the payments once per card
    (migration ``0006``). Best effort: when another process holds the write
    lock, or the database is read-only, the next connection to close tries again.
    """
    try:
        connection.execute("PRAGMA optimize")
    except sqlite3.Error:
        pass


class InlineSqlite(aiosqlite.Connection):
    """aiosqlite's interface, with every call made at once in the calling thread.

    This overrides aiosqlite's private ``_tx``, ``_connect`` and ``_execute``.
    No supported route keeps the speed: aiosqlite always hands calls to its
    thread, and SQLAlchemy's only asyncio SQLite dialects sit on aiosqlite (or
    its likes, with the same hand-over). So aiosqlite is pinned below its next
    release in pyproject.toml, and tests/test_pinned_internals.py fails loudly
    when the names this relies on move, or when statements leave the loop's thread.
    """

    def __init__(self, connector: Any, iter_chunk_size: int) -> None:
        super().__init__(connector, iter_chunk_size)
        self._tx = _RunNow()  # type: ignore[assignment]

    def __await__(self):  # type: ignore[no-untyped-def]
        return self._connect().__await__()

    async def _connect(self) -> InlineSqlite:
        if self._connection is None:
            self._connection = self._connector()
        return self

    async def _execute(self, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)

    @property
    def native(self) -> sqlite3.Connection | None:
        """The ``sqlite3`` connection: calling it directly is what every call here does anyway."""
        return self._connection

    def stop(self) -> None:  # type: ignore[override]
        self._running = False
        if self._connection is not None:
            _optimize(self._connection)
            self._connection.close()
            self._connection = None

    async def close(self) -> None:
        self.stop()


async def _inline_sqlite(database: str, **kwargs: Any) -> InlineSqlite:
    kwargs["timeout"] = 0  # never block the event loop; see _begin
    kwargs.pop("check_same_thread", None)
    return await InlineSqlite(lambda: sqlite3.connect(database, **kwargs), iter_chunk_size=64)


def _async_creator(url: str) -> Any:
    from sqlalchemy.engine import make_url

    database = make_url(url).database or ":memory:"

    async def create() -> InlineSqlite:
        private_sqlite_file(database)
        return await _inline_sqlite(database)

    return create


def make_engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        # Connections are kept: opening one (file, WAL, pragmas) costs more than
        # most statements, and every handler of a busy process holds one.
        engine = create_async_engine(url, async_creator=_async_creator(url), pool_size=20, max_overflow=80)

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Let BEGIN be issued by us (see Database.write), not by the driver.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA wal_autocheckpoint=0")  # Database.checkpoints runs them (app/wal.py)
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=0")
            cur.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _begin(conn: Any) -> None:
            mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
            begin_sqlite(conn.connection.dbapi_connection, conn.dialect, mode)

        return engine
    return create_async_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


def begin_sqlite(dbapi_conn: Any, dialect: Any, mode: str) -> None:
    """``BEGIN <mode>`` on the driver's cursor (through ``exec_driver_sql`` it cost more than a
    statement), waiting without blocking the loop while another process holds the write lock."""
    cursor = dbapi_conn.cursor()
    waited, pause = 0.0, 0.002
    while True:
        try:
            cursor.execute(f"BEGIN {mode}")
            return
        except dialect.loaded_dbapi.OperationalError as e:
            # Another process writes: wait without blocking the loop.
            if "locked" not in str(e) or waited >= BUSY_WAIT_SECONDS:
                raise OperationalError(f"BEGIN {mode}", None, e) from e
            await_only(asyncio.sleep(pause))
            waited += pause
            pause = min(pause * 2, 0.1)


class Database:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.is_sqlite = engine.dialect.name == "sqlite"
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._write_lock = asyncio.Lock()
        # Webhooks and other small writes that may share a transaction (see GroupCommit).
        self.group = GroupCommit(self)
        # SQLite's WAL checkpoints: on a thread of their own, out of the commits.
        self.checkpoints = checkpoints_for(engine, self._write_lock)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self._sessions() as session:
            yield session

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """One write transaction: committed on success, rolled back on error."""
        if self.is_sqlite:
            async with self._write_lock:
                async with self._sessions() as session:
                    await session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
                    try:
                        yield session
                        await session.commit()
                    except BaseException:
                        await session.rollback()
                        raise
        else:
            async with self._sessions() as session:
                try:
                    yield session
                    await session.commit()
                except BaseException:
                    await session.rollback()
                    raise

    async def run_read(self, work: Callable[..., T], *args: Any) -> T:
        """``work(driver, *args)`` on a pooled connection's driver, without a session or even a
        ``Connection``: for a hot path's ready-built statements (``app/ready.py``), whose own
        cost is a fraction of what SQLAlchemy's set-up of a connection would add."""
        return await greenlet_spawn(self._on_driver, None, work, *args)

    async def run_write(self, work: Callable[..., T], *args: Any) -> T:
        """``work(driver, *args)`` in one write transaction, as ``run_read``: like ``write``,
        committed when it returns and rolled back when it raises (on SQLite under the write lock)."""
        if self.is_sqlite:
            async with self._write_lock:
                return await greenlet_spawn(self._on_driver, "IMMEDIATE", work, *args)
        return await greenlet_spawn(self._on_driver, "", work, *args)

    def _on_driver(self, sqlite_begin: str | None, work: Callable[..., T], *args: Any) -> T:
        dialect = self.engine.dialect
        pooled = self.engine.sync_engine.raw_connection()
        try:
            dbapi_conn = pooled.dbapi_connection
            driver = Driver(dbapi_conn, dialect, pooled.driver_connection.native if self.is_sqlite else None)
            if sqlite_begin is None:
                return work(driver, *args)  # a read: the pool rolls back whatever the driver began
            if sqlite_begin:
                begin_sqlite(dbapi_conn, dialect, sqlite_begin)
            try:
                result = work(driver, *args)
            except BaseException:
                dbapi_conn.rollback()
                raise
            driver.commit()
            return result
        finally:
            pooled.close()  # back to the pool

    async def dispose(self) -> None:
        if self.checkpoints is not None:
            await self.checkpoints.stop()
        await self.engine.dispose()


Work = Callable[[AsyncSession], Awaitable[T]]


class GroupCommit:
    """Small write transactions that arrive together, committed as one (SQLite).

    On SQLite every write in the process queues on one lock, and each write
    transaction pays a fixed cost (``BEGIN IMMEDIATE``, a session, the commit;
    about 15 % of a webhook's time when each had its own). Work that arrives while
    a transaction runs would wait for the lock anyway; here it waits in a list
    instead, and the next transaction runs all of it, each piece in its own
    SAVEPOINT, so a piece that fails rolls back alone and the others commit.

    ``run`` returns only after the transaction holding its work has committed,
    and raises if that commit failed: a caller that acknowledges something
    (a webhook's 200) never acknowledges what a crash could still undo.

    On PostgreSQL each piece is its own transaction, as with ``Database.write``:
    writers there do not share a lock, they meet at row locks and unique keys,
    and one slow or locked piece must not hold up the others.
    """

    # The write lock is held for a whole batch, so its size bounds how long
    # other writers (a clinician's payment request) wait behind webhooks; by
    # 16 pieces the transaction's fixed cost is already shared out.
    def __init__(self, db: Database, *, max_batch: int = 16) -> None:
        self.db = db
        self.max_batch = max_batch
        self._pending: list[tuple[Work[Any], asyncio.Future[Any], bool]] = []
        self._runner: asyncio.Task[None] | None = None

    async def run(self, work: Work[T], *, ready: bool = False) -> T:
        """Run ``work`` in a write transaction; its result once that transaction has committed.

        Not from inside a write transaction of this process: on SQLite the
        batch waits for the write lock that transaction holds. ``ready``: the
        work writes through ready statements at the driver (``app/ready.py``)
        and does anything through the session's objects inside a
        ``begin_nested()`` of its own; its savepoint is then taken at the driver
        too, which skips SQLAlchemy's (see ``in_driver_savepoint``).
        """
        if not self.db.is_sqlite:
            async with self.db.write() as s:
                return await work(s)
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._pending.append((work, future, ready))
        if self._runner is None:
            self._runner = asyncio.create_task(self._drain())
        return await future

    @property
    def waiting(self) -> int:
        """How many pieces wait for the next transaction."""
        return len(self._pending)

    async def _drain(self) -> None:
        """Commit batches until nothing waits; what arrives meanwhile goes in the next one."""
        try:
            while self._pending:
                await self._commit_next()
        finally:
            self._runner = None

    async def _commit_next(self) -> None:
        """One transaction for what waits once the write lock is ours."""
        batch: list[tuple[Work[Any], asyncio.Future[Any], bool]] = []
        outcomes: list[tuple[bool, Any]] = []
        try:
            async with self.db.write() as s:
                # Taken only now: whatever queued while the lock was busy joins.
                batch = self._pending[: self.max_batch]
                del self._pending[: len(batch)]
                for work, _future, ready in batch:
                    outcomes.append(await (in_driver_savepoint if ready else _in_savepoint)(s, work))
        except BaseException as e:
            # Nothing of this batch was committed: every caller hears so.
            if not batch:  # the transaction did not even begin
                batch = self._pending[: self.max_batch]
                del self._pending[: len(batch)]
            for _work, future, _ready in batch:
                if not future.done():
                    future.set_exception(e)
            if not isinstance(e, Exception):
                raise
            return
        for (_work, future, _ready), (ok, value) in zip(batch, outcomes, strict=True):
            if future.done():
                continue  # the caller went away; its work is committed all the same
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)


async def _in_savepoint(s: AsyncSession, work: Work[Any]) -> tuple[bool, Any]:
    """(True, result), or (False, the exception) with the piece's changes rolled back.

    Afterwards the session forgets its objects, so the next piece reads the
    rows as this one left them in the database, as it would in a transaction
    of its own, and never an object this piece changed or rolled back.
    """
    try:
        async with s.begin_nested():
            value = await work(s)
            await s.flush()
        return True, value
    except Exception as e:
        return False, e
    finally:
        s.expunge_all()


def alembic_config(database_url: str) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["database_url"] = database_url
    return config


async def migrate(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` on the given engine."""

    def run(connection: Any) -> None:
        config = alembic_config(str(engine.url))
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    async with engine.connect() as conn:
        # On SQLite take the write lock up front, so processes starting
        # together migrate one after the other (PostgreSQL: an advisory lock).
        conn = await conn.execution_options(sqlite_begin="IMMEDIATE")
        async with conn.begin():
            await conn.run_sync(run)
