"""The sandbox's state: Stripe objects as plain JSON dicts in one SQLite table.

Every object is a row ``(id, account, kind, body)``; ``account`` is the
connected account the object lives on (``""`` for the platform). Without a
``data_path`` the table is in memory; with one, every read goes to the file so
a second process (a CLI seeder, say) and the web server see the same state.

Keys starting with ``__`` inside a body are sandbox bookkeeping (line items,
card outcome) and are stripped before anything is shown to a client.
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

PLATFORM = ""

_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str, length: int = 24) -> str:
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(length))


def public(obj: Any) -> Any:
    """A deep copy without the sandbox's private ``__`` keys."""
    if isinstance(obj, dict):
        return {k: public(v) for k, v in obj.items() if not k.startswith("__")}
    if isinstance(obj, list):
        return [public(v) for v in obj]
    return obj


class Store:
    def __init__(
        self, data_path: str | None = None, clock: Callable[[], float] | None = None
    ) -> None:
        self._clock = clock or time.time
        self._lock = threading.RLock()
        self._db = sqlite3.connect(
            data_path or ":memory:", isolation_level=None, check_same_thread=False, timeout=10
        )
        if data_path:
            self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS stripe_objects ("
            " id TEXT PRIMARY KEY, account TEXT NOT NULL, kind TEXT NOT NULL,"
            " body TEXT NOT NULL, seq INTEGER NOT NULL)"
        )
        self._db.execute(
            "CREATE INDEX IF NOT EXISTS stripe_objects_kind ON stripe_objects (kind, account, seq)"
        )

    def close(self) -> None:
        self._db.close()

    # clock ---------------------------------------------------------------
    def now(self) -> int:
        """Unix time as the sandbox sees it: the clock plus any control advance."""
        offset = self.get_meta("clock_offset", 0)
        return int(self._clock() + offset)

    def advance_clock(self, seconds: float) -> int:
        with self.transaction():
            self.set_meta("clock_offset", self.get_meta("clock_offset", 0) + seconds)
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

    def get(self, kind: str, obj_id: str, account: str | None = None) -> dict[str, Any] | None:
        """The object, or None; with ``account`` given, only if it lives there."""
        with self._lock:
            row = self._db.execute(
                "SELECT account, body FROM stripe_objects WHERE id = ? AND kind = ?",
                (obj_id, kind),
            ).fetchone()
        if row is None or (account is not None and row[0] != account):
            return None
        return json.loads(row[1])

    def account_of(self, obj_id: str) -> str | None:
        with self._lock:
            row = self._db.execute(
                "SELECT account FROM stripe_objects WHERE id = ?", (obj_id,)
            ).fetchone()
        return None if row is None else row[0]

    def put(self, kind: str, obj: dict[str, Any], account: str = PLATFORM, obj_id: str | None = None) -> None:
        key = obj_id or obj["id"]
        body = json.dumps(obj, separators=(",", ":"))
        with self._lock:
            self._db.execute(
                "INSERT INTO stripe_objects (id, account, kind, body, seq) VALUES (?, ?, ?, ?,"
                " (SELECT COALESCE(MAX(seq), 0) + 1 FROM stripe_objects))"
                " ON CONFLICT(id) DO UPDATE SET body = excluded.body",
                (key, account, kind, body),
            )

    def delete(self, obj_id: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM stripe_objects WHERE id = ?", (obj_id,))

    def all(self, kind: str, account: str | None = None) -> list[dict[str, Any]]:
        """Objects of a kind, newest first (Stripe's list order)."""
        sql = "SELECT body FROM stripe_objects WHERE kind = ?"
        args: tuple[Any, ...] = (kind,)
        if account is not None:
            sql += " AND account = ?"
            args += (account,)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY seq DESC", args).fetchall()
        return [json.loads(r[0]) for r in rows]

    def all_with_account(self, kind: str) -> list[tuple[str, dict[str, Any]]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT account, body FROM stripe_objects WHERE kind = ? ORDER BY seq", (kind,)
            ).fetchall()
        return [(r[0], json.loads(r[1])) for r in rows]

    # sandbox settings that several processes share -----------------------
    def get_meta(self, name: str, default: Any = None) -> Any:
        row = self.get("_meta", "_meta:" + name)
        return default if row is None else row["value"]

    def set_meta(self, name: str, value: Any) -> None:
        self.put("_meta", {"value": value}, obj_id="_meta:" + name)
