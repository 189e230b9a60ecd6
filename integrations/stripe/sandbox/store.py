"""The sandbox's state: Stripe objects as plain JSON dicts in one SQLite table.

Every object is a row ``(id, account, kind, body, owner)``; ``account`` is the
connected account the object lives on (``""`` for the platform), ``owner`` the
platform that made it. As at Stripe, a platform sees only its own objects:
the secret key identifies the platform (any ``sk_test_…`` is one), and while
``OWNER`` names one, every read here is limited to its objects and every new
object is its. Another platform's object is simply missing
(``resource_missing``). The API wrapper (``wire.api``) sets ``OWNER`` from the
request's key; the control surface, the hosted pages and the sweep run
without one, and act for an object's platform with ``acting_for``.

Without a ``data_path`` the table is in memory; with one, every read goes to
the file so a second process (a CLI seeder, say) and the web server see the
same state.

Keys starting with ``__`` inside a body are sandbox bookkeeping (line items,
card outcome) and are stripped before anything is shown to a client.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from integrations.sandbox_kit import store as kit
from integrations.sandbox_kit.store import SqliteStore, public

__all__ = ["ANYONE", "OWNER", "PLATFORM", "Store", "acts_for_owner", "new_id", "public"]

PLATFORM = ""
# The platform (its secret key) the current request acts for; None: all of them.
OWNER: ContextVar[str | None] = ContextVar("stripe_sandbox_owner", default=None)
ANYONE = "*"  # the owner of objects older than owners


def new_id(prefix: str, length: int = 24) -> str:
    return kit.new_id(prefix, length)


def acts_for_owner(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn(sb, target, ...)`` acting for the platform that owns ``target`` (an id, or an object).

    For what the control surface, the hosted pages and the sweep do to an
    object: the events and objects it makes belong to that object's platform.
    """

    @functools.wraps(fn)
    def wrapper(sb: Any, target: Any, *args: Any, **kwargs: Any) -> Any:
        obj_id = target if isinstance(target, str) else target["id"]
        with sb.store.acting_for(obj_id):
            return fn(sb, target, *args, **kwargs)

    return wrapper


class Store(SqliteStore):
    def __init__(
        self, data_path: str | None = None, clock: Callable[[], float] | None = None
    ) -> None:
        super().__init__(data_path, clock)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS stripe_objects ("
            " id TEXT PRIMARY KEY, account TEXT NOT NULL, kind TEXT NOT NULL,"
            " body TEXT NOT NULL, seq INTEGER NOT NULL, owner TEXT NOT NULL DEFAULT '')"
        )
        self._db.execute(
            "CREATE INDEX IF NOT EXISTS stripe_objects_kind ON stripe_objects (kind, account, seq)"
        )
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(stripe_objects)")}
        if "owner" not in columns:
            # A state file from before objects had owners: its objects stay
            # visible to every key, so an existing demo keeps working.
            self._db.execute(f"ALTER TABLE stripe_objects ADD COLUMN owner TEXT NOT NULL DEFAULT '{ANYONE}'")

    # clock ---------------------------------------------------------------
    def now(self) -> int:
        """Unix time as the sandbox sees it, in whole seconds as Stripe's timestamps are."""
        return int(self._clock() + self.get_meta("clock_offset", 0))

    @staticmethod
    @contextmanager
    def scope(owner: str | None) -> Iterator[None]:
        """Act for the platform ``owner`` (None: for all) inside the block."""
        token = OWNER.set(owner)
        try:
            yield
        finally:
            OWNER.reset(token)

    @contextmanager
    def acting_for(self, obj_id: str) -> Iterator[None]:
        """Act for the platform that owns ``obj_id``: what is made here is its too."""
        with self._lock:
            row = self._db.execute("SELECT owner FROM stripe_objects WHERE id = ?", (obj_id,)).fetchone()
        with self.scope(row[0] if row is not None else OWNER.get()):
            yield

    @staticmethod
    def _owned(sql: str, args: tuple[Any, ...]) -> tuple[str, tuple[Any, ...]]:
        """``sql``'s WHERE, narrowed to the current platform's rows."""
        owner = OWNER.get()
        if owner is None:
            return sql, args
        return sql + " AND owner IN (?, ?)", args + (owner, ANYONE)

    def get(self, kind: str, obj_id: str, account: str | None = None) -> dict[str, Any] | None:
        """The object, or None; with ``account`` given, only if it lives there."""
        sql, args = self._owned("SELECT account, body FROM stripe_objects WHERE id = ? AND kind = ?",
                                (obj_id, kind))
        with self._lock:
            row = self._db.execute(sql, args).fetchone()
        if row is None or (account is not None and row[0] != account):
            return None
        return json.loads(row[1])

    def account_of(self, obj_id: str) -> str | None:
        sql, args = self._owned("SELECT account FROM stripe_objects WHERE id = ?", (obj_id,))
        with self._lock:
            row = self._db.execute(sql, args).fetchone()
        return None if row is None else row[0]

    def put(self, kind: str, obj: dict[str, Any], account: str = PLATFORM, obj_id: str | None = None) -> None:
        """Insert or replace; a new object belongs to the current platform, and keeps its owner after."""
        key = obj_id or obj["id"]
        body = json.dumps(obj, separators=(",", ":"))
        with self._lock:
            self._db.execute(
                "INSERT INTO stripe_objects (id, account, kind, body, seq, owner) VALUES (?, ?, ?, ?,"
                " (SELECT COALESCE(MAX(seq), 0) + 1 FROM stripe_objects), ?)"
                " ON CONFLICT(id) DO UPDATE SET body = excluded.body",
                (key, account, kind, body, OWNER.get() or ""),
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
        sql, args = self._owned(sql, args)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY seq DESC", args).fetchall()
        return [json.loads(r[0]) for r in rows]

    def all_with_account(self, kind: str) -> list[tuple[str, dict[str, Any]]]:
        sql, args = self._owned("SELECT account, body FROM stripe_objects WHERE kind = ?", (kind,))
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY seq", args).fetchall()
        return [(r[0], json.loads(r[1])) for r in rows]

    # sandbox settings that several processes share -----------------------
    # (the sandbox's own, whichever platform's request reads or writes them)
    def get_meta(self, name: str, default: Any = None) -> Any:
        with self.scope(None):
            row = self.get("_meta", "_meta:" + name)
        return default if row is None else row["value"]

    def set_meta(self, name: str, value: Any) -> None:
        with self.scope(None):
            self.put("_meta", {"value": value}, obj_id="_meta:" + name)
