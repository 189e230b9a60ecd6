"""The Socket.IO server: in-process by default, through Redis when REDIS_URL is set."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import socketio
from aiohttp import hdrs, web

from app.consults.notifier import NAMESPACE, consult_room
from app.realtime.rooms import IndexedManager, IndexedRedisManager

SOCKETIO_PATH = "/socket.io/"
# The listening socket's queue of connections not yet accepted (the kernel caps it at its
# ``net.core.somaxconn``). aiohttp's default of 128 overflows when a drained process's sockets all
# come back at once: the kernel drops the rest of the storm's SYNs and each client waits for its
# retransmission (1 s, 3 s, 7 s, …) with the process idle, not busy.
LISTEN_BACKLOG = 4096


class ClientEvent(str):
    """An event name as a client sent it.

    The server calls a namespace's ``trigger_event`` both for what clients
    send and for its own ``connect`` and ``disconnect``; a client may send an
    event of either name. Marking what came off the wire lets the namespace
    tell the two apart (a client cannot make this type).
    """

    __slots__ = ()


class Server(socketio.AsyncServer):
    """The python-socketio server, with client events marked as such before dispatch."""

    async def _handle_event(self, eio_sid: str, namespace: str | None, id: int | None, data: Any) -> None:
        if isinstance(data, list) and data:
            name = data[0]
            data = [ClientEvent(name if isinstance(name, str) else repr(name)[:64]), *data[1:]]
        await super()._handle_event(eio_sid, namespace, id, data)


def make_server(
    *, redis_url: str | None, channel: str = "consultpay", cors_origins: Any = None
) -> socketio.AsyncServer:
    # Rooms indexed by socket: a disconnect costs the same with 10 sockets or 10,000 (app/realtime/rooms.py).
    manager = IndexedRedisManager(redis_url, channel=channel) if redis_url else IndexedManager()
    return Server(
        async_mode="aiohttp",
        client_manager=manager,
        cors_allowed_origins=cors_origins if cors_origins is not None else [],
        # Payloads here are small; refuse anything large before parsing it.
        max_http_buffer_size=64 * 1024,
        ping_interval=20,
        ping_timeout=20,
    )


def write_only_manager(redis_url: str, channel: str = "consultpay") -> socketio.AsyncRedisManager:
    """For the worker: emits to sockets held by the web processes, and listens to nothing."""
    return socketio.AsyncRedisManager(redis_url, channel=channel, write_only=True)


async def close_manager(manager: Any) -> None:
    """Stop a Redis manager's listener and close its connections (at shutdown).

    python-socketio has no public way to close a client manager; this reads its
    attributes ``thread`` (the listener task), ``pubsub`` and ``redis``. The
    package is pinned below its next release in pyproject.toml, and
    tests/test_pinned_internals.py fails when those attributes change.
    """
    if not isinstance(manager, socketio.AsyncRedisManager):
        return
    listener = getattr(manager, "thread", None)
    if isinstance(listener, asyncio.Task) and not listener.done():
        listener.cancel()
        with contextlib.suppress(BaseException):
            await listener
    for client in (getattr(manager, "pubsub", None), getattr(manager, "redis", None)):
        if client is not None:
            with contextlib.suppress(Exception):
                await client.aclose()


class SocketNotifier:
    """A ``Notifier`` on a python-socketio server or a write-only manager."""

    def __init__(self, emitter: Any) -> None:
        self._emitter = emitter

    async def emit(self, event: str, data: dict[str, Any], *, room: str) -> None:
        await self._emitter.emit(event, data, room=room, namespace=NAMESPACE)

    async def consult_ended(self, consult_id: str, data: dict[str, Any]) -> None:
        room = consult_room(consult_id)
        await self._emitter.emit("consult:ended", data, room=room, namespace=NAMESPACE)
        # Every later event re-checks the consult, so a socket left open on
        # another process can do nothing; those here are closed now.
        if isinstance(self._emitter, socketio.AsyncServer):
            await self._emitter.close_room(room, namespace=NAMESPACE)


@web.middleware
async def decline_websocket_compression(request: web.Request, handler: Any) -> web.StreamResponse:
    """Take the permessage-deflate offer out of WebSocket upgrades to Socket.IO.

    aiohttp accepts the offer that browsers and socket.io-client make, and then
    every socket keeps its own zlib compressor: about 90 KiB of memory each,
    which was most of a socket's cost. Our messages are a few hundred bytes, so
    compressing them saves next to nothing on the wire. python-engineio has no
    setting for this (it makes the ``WebSocketResponse`` itself), so the offer
    is removed before the upgrade reaches it; clients then send and receive
    plain frames, which the WebSocket standard lets every client handle.
    """
    if request.path.startswith(SOCKETIO_PATH) and hdrs.SEC_WEBSOCKET_EXTENSIONS in request.headers:
        headers = request.headers.copy()
        del headers[hdrs.SEC_WEBSOCKET_EXTENSIONS]
        request = request.clone(headers=headers)
    return await handler(request)
