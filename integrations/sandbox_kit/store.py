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
