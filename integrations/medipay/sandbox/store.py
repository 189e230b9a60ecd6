"""The sandbox's state: claims, SMS, events and deliveries as JSON rows in one
SQLite table.

Every row is ``(id, kind, body, seq)``. Without a ``data_path`` the table is in
memory; with one it lives in that file, so a restarted sandbox — or a second
process on the same file — carries on where the last one stopped: the clock
offset, the timers already fired, the callbacks still to deliver.

Writes that decide something (a timer firing, a choice) run inside
``transaction()`` (``BEGIN IMMEDIATE``) and re-read the row first, which is
what makes them happen once even with two processes on one file. Keys
starting with ``__`` are sandbox bookkeeping and never shown to a client.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import string
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str, length: int = 20) -> str:
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(length))


def public(obj: Any) -> Any:
    """A deep copy without the sandbox's private ``__`` keys."""
    if isinstance(obj, dict):
        return {k: public(v) for k, v in obj.items() if not k.startswith("__")}
    if isinstance(obj, list):
        return [public(v) for v in obj]
    return obj


class Store:
    def __init__(self, data_path: str | None = None, clock: Callable[[], float] | None = None) -> None:
        self._clock = clock or time.time
        self._lock = threading.RLock()
        self._db = sqlite3.connect(data_path or ":memory:", isolation_level=None,
                                   check_same_thread=False, timeout=10)
        if data_path:
            self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS medipay_objects ("
                         " id TEXT PRIMARY KEY, kind TEXT NOT NULL, body TEXT NOT NULL, seq INTEGER NOT NULL)")
        self._db.execute("CREATE INDEX IF NOT EXISTS medipay_objects_kind ON medipay_objects (kind, seq)")

    def close(self) -> None:
        self._db.close()

    # clock ---------------------------------------------------------------
    def now(self) -> float:
        """Unix time as the sandbox sees it: the clock plus every control advance."""
        return self._clock() + float(self.get_meta("clock_offset", 0))

    def advance_clock(self, seconds: float) -> float:
        with self.transaction():
            self.set_meta("clock_offset", float(self.get_meta("clock_offset", 0)) + seconds)
        return self.now()

    # rows ----------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self._lock:
            if self._db.in_transaction:
                yield
                return
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def get(self, kind: str, obj_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT body FROM medipay_objects WHERE id = ? AND kind = ?",
                                   (kind + ":" + obj_id, kind)).fetchone()
        return None if row is None else json.loads(row[0])

    def put(self, kind: str, obj_id: str, obj: dict[str, Any]) -> None:
        body = json.dumps(obj, separators=(",", ":"))
        with self._lock:
            self._db.execute(
                "INSERT INTO medipay_objects (id, kind, body, seq) VALUES (?, ?, ?,"
                " (SELECT COALESCE(MAX(seq), 0) + 1 FROM medipay_objects))"
                " ON CONFLICT(id) DO UPDATE SET body = excluded.body",
                (kind + ":" + obj_id, kind, body))

    def all(self, kind: str) -> list[dict[str, Any]]:
        """Rows of a kind in the order they were first written."""
        with self._lock:
            rows = self._db.execute("SELECT body FROM medipay_objects WHERE kind = ? ORDER BY seq",
                                    (kind,)).fetchall()
        return [json.loads(r[0]) for r in rows]

    # settings and counters that several processes share ------------------
    def get_meta(self, name: str, default: Any = None) -> Any:
        row = self.get("_meta", name)
        return default if row is None else row["value"]

    def set_meta(self, name: str, value: Any) -> None:
        self.put("_meta", name, {"value": value})

    def next_seq(self, name: str) -> int:
        with self.transaction():
            value = int(self.get_meta("seq:" + name, 0)) + 1
            self.set_meta("seq:" + name, value)
        return value
