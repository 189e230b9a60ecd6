"""The sandbox's state: claims, SMS, events and deliveries as JSON rows in one
SQLite table.

Every row is ``(id, kind, owner, body, seq, changed_seq, changed, due)``:
``owner`` is the MediPay account (username) a claim belongs to, ``seq`` the
order rows were first written, ``changed_seq``/``changed`` the order and
sandbox time of the last change (what ``GET /v1/claims?updated_since`` pages
over), and ``due`` when something falls due for the row (a claim's reminder
or deadline, a delivery's next attempt), or NULL. All of them are indexed, so
a tick over 100,000 claims reads only the rows that are due.

Without a ``data_path`` the table is in memory; with one it lives in that
file, so a restarted sandbox — or a second process on the same file — carries
on where the last one stopped: the clock offset, the timers already fired,
the callbacks still to deliver. The file runs in WAL mode with
``synchronous=NORMAL``: a power cut may lose the last moments of sandbox
state, which a simulator can afford, and commits need no fsync.

Writes that decide something (a timer firing, a choice) run inside
``transaction()`` (``BEGIN IMMEDIATE``) and re-read the row first, which is
what makes them happen once even with two processes on one file. Keys
starting with ``__`` are sandbox bookkeeping and never shown to a client.

Claims arriving together share a commit (``grouped()``): the first opens the
write transaction, each does its work in a savepoint of its own, and one
``COMMIT`` at the end of the event loop's turn makes them all durable before
any of them is answered. A commit costs more than the rows it writes (every
index's pages go to the WAL again), so under load this is most of the store's
cost saved; a lone claim still commits at once.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from integrations.sandbox_kit import store as kit
from integrations.sandbox_kit.store import RowStore, public

__all__ = ["Store", "new_id", "public"]


def new_id(prefix: str, length: int = 20) -> str:
    return kit.new_id(prefix, length)


_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS medipay_objects ("
    " id TEXT PRIMARY KEY, kind TEXT NOT NULL, owner TEXT NOT NULL DEFAULT '',"
    " body TEXT NOT NULL, seq INTEGER NOT NULL, changed_seq INTEGER NOT NULL,"
    " changed REAL NOT NULL, due REAL)",
    "CREATE INDEX IF NOT EXISTS medipay_objects_seq ON medipay_objects (seq)",
    "CREATE INDEX IF NOT EXISTS medipay_objects_kind ON medipay_objects (kind, seq)",
    "CREATE INDEX IF NOT EXISTS medipay_objects_changed ON medipay_objects (kind, owner, changed_seq)",
    "CREATE INDEX IF NOT EXISTS medipay_objects_changed_seq ON medipay_objects (changed_seq)",
    "CREATE INDEX IF NOT EXISTS medipay_objects_due ON medipay_objects (kind, due) WHERE due IS NOT NULL",
)


class Store(RowStore):
    TABLE = "medipay_objects"
    SCHEMA = _SCHEMA

    def __init__(self, data_path: str | None = None, clock: Callable[[], float] | None = None) -> None:
        super().__init__(data_path, clock)
        if data_path:
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA cache_size=-65536")  # 64 MiB: 100,000 claims stay hot
        self._create()
        self._group: asyncio.Future[None] | None = None  # the open group's commit, see grouped()
        self._depth = 0  # blocks open inside that group

    def close(self) -> None:
        if self._group is not None:
            self._commit_group()
        super().close()

    # transactions --------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All or nothing, and alone: nested blocks join the outer one.

        While a group's transaction is open (``grouped()``), a block that is
        not inside another one becomes a savepoint in it: undone alone if it
        fails, committed with the group if not.
        """
        with self._lock:
            if self._group is None or self._depth:
                with super().transaction():
                    yield
                return
            with self._savepoint():
                yield

    @contextmanager
    def grouped(self) -> Iterator[asyncio.Future[None]]:
        """A write that commits with the others made in the same turn of the event loop.

        Yields the group's commit, a future to await before answering: done
        when the ``COMMIT`` is through, or failed with its error. The block runs
        in a savepoint of its own, so an error undoes it alone. Must be called
        in the event loop's thread, with no transaction open.
        """
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._group is None:
                self._db.execute("BEGIN IMMEDIATE")
                self._group = loop.create_future()
                loop.call_soon(self._commit_group)
            group = self._group
            with self._savepoint():
                yield group

    @contextmanager
    def _savepoint(self) -> Iterator[None]:
        self._db.execute("SAVEPOINT grouped")
        self._depth += 1
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK TO grouped")
            raise
        finally:
            self._depth -= 1
            self._db.execute("RELEASE grouped")

    def _commit_group(self) -> None:
        with self._lock:
            group, self._group = self._group, None
            if group is None:
                return
            try:
                self._db.execute("COMMIT")
            except BaseException as e:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                if not group.done():
                    group.set_exception(e)
                    group.exception()  # retrieved here: the answers waiting on it raise it themselves
                raise
            if not group.done():
                group.set_result(None)

    # rows ----------------------------------------------------------------
    def put(self, kind: str, obj_id: str, obj: dict[str, Any], *, owner: str = "",
            due: float | None = None, changed: float | None = None) -> None:
        """Insert or replace a row; ``due`` is rewritten on every put (None clears it)."""
        body = json.dumps(obj, separators=(",", ":"))
        when = self._clock() if changed is None else changed
        with self._lock:
            self._db.execute(
                "INSERT INTO medipay_objects (id, kind, owner, body, seq, changed_seq, changed, due)"
                " VALUES (?, ?, ?, ?,"
                " (SELECT COALESCE(MAX(seq), 0) + 1 FROM medipay_objects),"
                " (SELECT COALESCE(MAX(changed_seq), 0) + 1 FROM medipay_objects), ?, ?)"
                " ON CONFLICT(id) DO UPDATE SET body = excluded.body, owner = excluded.owner,"
                " changed_seq = excluded.changed_seq, changed = excluded.changed, due = excluded.due",
                (kind + ":" + obj_id, kind, owner, body, when, due))

    def changed_since(self, kind: str, owner: str, since: float, after_seq: int,
                      limit: int) -> list[tuple[int, dict[str, Any]]]:
        """``(changed_seq, row)`` of an owner's rows changed at or after ``since``, in change order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT changed_seq, body FROM medipay_objects WHERE kind = ? AND owner = ?"
                " AND changed >= ? AND changed_seq > ? ORDER BY changed_seq LIMIT ?",
                (kind, owner, since, after_seq, limit)).fetchall()
        return [(int(r[0]), json.loads(r[1])) for r in rows]

    def count(self, kind: str) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM medipay_objects WHERE kind = ?",
                                        (kind,)).fetchone()[0])

    # counters that several processes share -------------------------------
    def next_seq(self, name: str) -> int:
        with self.transaction():
            value = int(self.get_meta("seq:" + name, 0)) + 1
            self.set_meta("seq:" + name, value)
        return value
