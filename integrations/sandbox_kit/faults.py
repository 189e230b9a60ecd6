"""Injected API faults, as the MediPay and Vipps sandboxes keep them.

The control surface adds a fault — a ``kind`` the provider knows how to act
out, for the ``next`` N requests whose path starts with ``path``, some with a
number of ``seconds`` — and the API takes one before each request. The list
is a shared setting (``faults``), so every process on a shared state file
sees and uses the same faults. What each kind does, and how a bad control
request is answered, stay with the provider.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from .store import SqliteStore

Refuse = Callable[[str, str], Exception]
View = Callable[[web.Request], Awaitable[web.Response]]


def parse(data: dict[str, Any], kinds: Sequence[str], default_path: str, refuse: Refuse, *,
          float_seconds: bool = False) -> dict[str, Any]:
    """The fault a control request asks for; ``refuse(field, "must …")`` makes the error raised."""
    if data.get("kind") not in kinds:
        raise refuse("kind", f"must be one of {', '.join(kinds)}")
    count = data.get("next", 1)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 100_000:
        raise refuse("next", "must be a whole number from 1 to 100000")
    path = data.get("path", default_path)
    if not isinstance(path, str) or not path.startswith("/"):
        raise refuse("path", "must start with /")
    fault: dict[str, Any] = {"kind": data["kind"], "remaining": count, "path": path}
    if "seconds" in data:
        secs = data["seconds"]
        if isinstance(secs, bool) or not isinstance(secs, (int, float)) or not 0 <= secs <= 600:
            raise refuse("seconds", "must be a number from 0 to 600")
        fault["seconds"] = float(secs) if float_seconds else secs
    return fault


def control_views(store_of: Callable[[web.Request], SqliteStore],
                  read_body: Callable[[web.Request], Awaitable[dict[str, Any]]],
                  kinds: Sequence[str], default_path: str, refuse: Refuse, *,
                  float_seconds: bool = False) -> tuple[View, View, View]:
    """The control surface's ``POST``, ``GET`` and ``DELETE /_control/faults``: add one, list, clear all.

    ``read_body`` reads the request's JSON object (or refuses it, in the
    provider's words); the others are as for ``parse``.
    """

    async def add_fault(request: web.Request) -> web.Response:
        fault = parse(await read_body(request), kinds, default_path, refuse, float_seconds=float_seconds)
        return web.json_response({"faults": add(store_of(request), fault)})

    async def list_faults(request: web.Request) -> web.Response:
        return web.json_response({"faults": listed(store_of(request))})

    async def clear_faults(request: web.Request) -> web.Response:
        clear(store_of(request))
        return web.json_response({"faults": []})

    return add_fault, list_faults, clear_faults


def add(store: SqliteStore, fault: dict[str, Any]) -> list[dict[str, Any]]:
    """Append ``fault``; returns the list as it is now."""
    with store.transaction():
        faults: list[dict[str, Any]] = store.get_meta("faults", []) + [fault]
        store.set_meta("faults", faults)
    return faults


def listed(store: SqliteStore) -> list[dict[str, Any]]:
    return list(store.get_meta("faults", []))


def clear(store: SqliteStore) -> None:
    store.set_meta("faults", [])


def take(store: SqliteStore, public_url: str, path: str) -> dict[str, Any] | None:
    """Use up one request of the first fault whose path ``path`` starts with, and return it.

    A fault's path is relative to the sandbox, whether it is mounted under a
    prefix of ``public_url`` (built in) or served standalone at the root.
    """
    if not store.get_meta("faults"):
        return None
    prefix = urlsplit(public_url).path.rstrip("/")
    if prefix and path.startswith(prefix + "/"):
        path = path[len(prefix):]
    with store.transaction():
        faults = store.get_meta("faults", [])
        for fault in faults:
            if path.startswith(fault["path"]):
                fault["remaining"] -= 1
                store.set_meta("faults", [f for f in faults if f["remaining"] > 0])
                return dict(fault)
    return None
