"""python-socketio's room bookkeeping, at a cost per socket that does not grow with the sockets.

python-socketio keeps ``rooms[namespace][room]`` (each room a bidict of the
sockets in it, room ``None`` holding every socket and each socket a room of
its own) and no index from a socket to its rooms: a disconnect copies the
namespace's whole table and looks for the socket in every room, and the
sockets still connecting (or disconnecting) are kept in lists searched and
emptied one by one. With 10,000 sockets that is some 25,000 rooms looked
through per disconnect, and a deploy's drain or a network blip disconnects
them all at once, while the same sockets are already coming back.

``IndexedRooms`` keeps the same tables and adds the index: each socket's
rooms, kept in step wherever a socket enters or leaves one, so a disconnect
leaves exactly its own rooms; and the pending lists become insertion-ordered
sets with the list methods the manager uses. It relies on python-socketio's
``BaseManager`` internals (``rooms``, ``pending_connect``,
``pending_disconnect``, ``callbacks`` and the ``basic_*`` methods), which is
why python-socketio is pinned below its next release in pyproject.toml and
tests/test_pinned_internals.py checks those names.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Iterator
from typing import Any

import socketio


class _SidList:
    """The list methods the manager uses on its pending lists (append, remove, in, len), each O(1)."""

    __slots__ = ("_items",)

    def __init__(self, items: Iterable[Hashable] = ()) -> None:
        self._items: dict[Hashable, None] = dict.fromkeys(items)

    def append(self, sid: Hashable) -> None:
        self._items[sid] = None

    def remove(self, sid: Hashable) -> None:
        del self._items[sid]  # KeyError where a list raises ValueError; the manager checks first

    def __contains__(self, sid: object) -> bool:
        return sid in self._items

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Hashable]:
        return iter(self._items)


class _PendingByNamespace(dict[Any, Any]):
    """``pending_connect`` / ``pending_disconnect``: the list the manager stores becomes a ``_SidList``."""

    def __setitem__(self, namespace: Any, sids: Any) -> None:
        super().__setitem__(namespace, _SidList(sids) if isinstance(sids, list) else sids)


class IndexedRooms:
    """Mixed in before a python-socketio manager class (see ``make_server``)."""

    rooms: dict[Any, dict[Any, Any]]
    callbacks: dict[Any, Any]
    pending_connect: dict[Any, Any]
    pending_disconnect: dict[Any, Any]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pending_connect = _PendingByNamespace(self.pending_connect)
        self.pending_disconnect = _PendingByNamespace(self.pending_disconnect)
        # (namespace, sid) → the rooms that socket is in (None, its own, and those it entered).
        self._rooms_of: dict[tuple[Any, Any], set[Any]] = {}

    def basic_enter_room(self, sid: Any, namespace: Any, room: Any, eio_sid: Any = None) -> None:
        super().basic_enter_room(sid, namespace, room, eio_sid=eio_sid)  # type: ignore[misc]
        self._rooms_of.setdefault((namespace, sid), set()).add(room)

    def basic_leave_room(self, sid: Any, namespace: Any, room: Any) -> None:
        super().basic_leave_room(sid, namespace, room)  # type: ignore[misc]
        mine = self._rooms_of.get((namespace, sid))
        if mine is not None:
            mine.discard(room)
            if not mine:
                del self._rooms_of[(namespace, sid)]

    def get_rooms(self, sid: Any, namespace: Any) -> list[Any]:
        return [room for room in self._rooms_of.get((namespace, sid), ()) if room is not None]

    def basic_disconnect(self, sid: Any, namespace: Any, **kwargs: Any) -> None:
        # As BaseManager.basic_disconnect, with the socket's own rooms from the index.
        if namespace not in self.rooms:
            return
        for room in list(self._rooms_of.get((namespace, sid), ())):
            self.basic_leave_room(sid, namespace, room)
        self.callbacks.pop(sid, None)
        for pending in (self.pending_connect, self.pending_disconnect):
            if namespace in pending and sid in pending[namespace]:
                pending[namespace].remove(sid)
                if len(pending[namespace]) == 0:
                    del pending[namespace]


class IndexedManager(IndexedRooms, socketio.AsyncManager):
    """One process's sockets."""


class IndexedRedisManager(IndexedRooms, socketio.AsyncRedisManager):
    """Several processes' sockets, emits shared through Redis."""
