"""The sandbox's state: merchants, tokens, payments, idempotent answers, webhooks and
deliveries as JSON rows in one SQLite table (in memory, or a shared file).

Every row is ``(id, kind, owner, body, seq, due)``: ``owner`` is the merchant
serial number a row belongs to, ``seq`` the order rows were first written and
``due`` when something falls due for it (a payment's expiry, a delivery's next
attempt). Keys starting with ``__`` are the sandbox's own and never shown.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from integrations.sandbox_kit.store import RowStore, new_id, public

__all__ = ["Store", "new_id", "public"]

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS vipps_objects ("
    " id TEXT PRIMARY KEY, kind TEXT NOT NULL, owner TEXT NOT NULL DEFAULT '',"
    " body TEXT NOT NULL, seq INTEGER NOT NULL, due REAL)",
    "CREATE INDEX IF NOT EXISTS vipps_objects_kind ON vipps_objects (kind, owner, seq)",
    "CREATE INDEX IF NOT EXISTS vipps_objects_due ON vipps_objects (kind, due) WHERE due IS NOT NULL",
)


class Store(RowStore):
    TABLE = "vipps_objects"
    SCHEMA = _SCHEMA

    def __init__(self, data_path: str | None = None, clock: Callable[[], float] | None = None) -> None:
        super().__init__(data_path, clock)
        self._create()

    def put(self, kind: str, obj_id: str, obj: dict[str, Any], *, owner: str = "", due: float | None = None) -> None:
        """Insert or replace a row; ``due`` is rewritten on every put (None clears it)."""
        with self._lock:
            self._db.execute(
                "INSERT INTO vipps_objects (id, kind, owner, body, seq, due) VALUES (?, ?, ?, ?,"
                " (SELECT COALESCE(MAX(seq), 0) + 1 FROM vipps_objects), ?)"
                " ON CONFLICT(id) DO UPDATE SET body = excluded.body, owner = excluded.owner, due = excluded.due",
                (kind + ":" + obj_id, kind, owner, json.dumps(obj, separators=(",", ":")), due))

    def delete(self, kind: str, obj_id: str) -> bool:
        with self._lock:
            return self._db.execute("DELETE FROM vipps_objects WHERE id = ?", (kind + ":" + obj_id,)).rowcount > 0
