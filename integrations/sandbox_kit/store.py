"""The base of a sandbox's state: JSON rows in one SQLite table, and the sandbox clock.

Without a ``data_path`` the table is in memory; with one it lives in that
file (made readable by its owner only, in WAL mode), so a second process —
a CLI seeder, a restarted sandbox — sees the same state. Writes that decide
something run inside ``transaction()`` (``BEGIN IMMEDIATE``), which is what
makes them happen once even with two processes on one file.

The clock is the injected one (``time.time`` unless a test freezes it) plus
the offset the control surface advances; the offset is a shared setting, so
every process on the file sees the same time. Subclasses own their schema and
rows, and keep settings with ``get_meta``/``set_meta``.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import string
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from integrations.files import private_sqlite_file

_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str, length: int = 24) -> str:
    """``prefix`` and ``length`` random letters and digits, as Stripe's and MediPay's ids."""
    # One read of the system's randomness per id (ids are hot: one per object).
    n = int.from_bytes(secrets.token_bytes(length), "big")
    chars = []
    for _ in range(length):
        n, r = divmod(n, 62)
        chars.append(_ALPHABET[r])
    return prefix + "".join(chars)


def public(obj: Any) -> Any:
    """A deep copy without the sandbox's private ``__`` keys."""
    if isinstance(obj, dict):
        return {k: public(v) for k, v in obj.items() if not k.startswith("__")}
    if isinstance(obj, list):
        return [public(v) for v in obj]
    return obj


class SqliteStore:
    """One SQLite connection shared by the sandbox's handlers and background tasks."""

    def __init__(self, data_path: str | None = None, clock: Callable[[], float] | None = None) -> None:
        self._clock = clock or time.time
        self._lock = threading.RLock()
        if data_path:
            private_sqlite_file(data_path)
        self._db = sqlite3.connect(data_path or ":memory:", isolation_level=None,
                                   check_same_thread=False, timeout=10)
        if data_path:
            self._db.execute("PRAGMA journal_mode=WAL")

    def close(self) -> None:
        self._db.close()

    # clock ---------------------------------------------------------------
    def clock_offset(self) -> float:
        """Seconds the control surface has moved the sandbox clock ahead."""
        return float(self.get_meta("clock_offset", 0))

    def advance_clock(self, seconds: float) -> Any:
        with self.transaction():
            self.set_meta("clock_offset", self.get_meta("clock_offset", 0) + seconds)
        return self.now()

    def now(self) -> Any:
        return self._clock() + self.clock_offset()

    # transactions --------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All or nothing, and alone: nested blocks join the outer one."""
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

    # settings and counters that several processes share ------------------
    def get_meta(self, name: str, default: Any = None) -> Any:
        raise NotImplementedError

    def set_meta(self, name: str, value: Any) -> None:
        raise NotImplementedError


class RowStore(SqliteStore):
    """A store whose rows are ``(id, kind, owner, body, seq, …, due)`` in one ``TABLE``.

    The row's id is ``kind:obj_id``; ``seq`` is the order rows were first
    written and ``due`` when something falls due for a row, or NULL. The
    subclass owns the schema (``SCHEMA``, run on opening) and ``put``;
    settings are ``_meta`` rows. A state file's folder is made if missing (a
    fresh data directory).
    """

    TABLE: str
    SCHEMA: tuple[str, ...] = ()

    def __init__(self, data_path: str | None = None, clock: Callable[[], float] | None = None) -> None:
        if data_path:
            os.makedirs(os.path.dirname(os.path.abspath(data_path)), exist_ok=True)
        super().__init__(data_path, clock)

    def _create(self) -> None:
        for statement in self.SCHEMA:
            self._db.execute(statement)

    def put(self, kind: str, obj_id: str, obj: dict[str, Any], *, owner: str = "", due: float | None = None) -> None:
        raise NotImplementedError

    def get(self, kind: str, obj_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(f"SELECT body FROM {self.TABLE} WHERE id = ?", (kind + ":" + obj_id,)).fetchone()
        return None if row is None else json.loads(row[0])

    def all(self, kind: str, owner: str | None = None) -> list[dict[str, Any]]:
        """Rows of a kind (an owner's only, if given) in the order they were first written."""
        sql, args = f"SELECT body FROM {self.TABLE} WHERE kind = ?", [kind]
        if owner is not None:
            sql += " AND owner = ?"
            args.append(owner)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY seq", args).fetchall()
        return [json.loads(r[0]) for r in rows]

    def due(self, kind: str, until: float, limit: int = 500) -> list[dict[str, Any]]:
        """Rows of a kind whose ``due`` is at or before ``until``, earliest first."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT body FROM {self.TABLE} WHERE kind = ? AND due IS NOT NULL AND due <= ? ORDER BY due LIMIT ?",
                (kind, until, limit)).fetchall()
        return [json.loads(r[0]) for r in rows]

    def get_meta(self, name: str, default: Any = None) -> Any:
        row = self.get("_meta", name)
        return default if row is None else row["value"]

    def set_meta(self, name: str, value: Any) -> None:
        self.put("_meta", name, {"value": value})
