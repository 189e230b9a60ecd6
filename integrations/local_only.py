"""The sandboxes' control surfaces answer callers on this machine only.

A control surface marks claims paid, moves the clock, stops webhooks and shows
every claim with its patient's national id: it is for tests and the demo,
which run on the same machine as the sandbox. The caller is judged by the
connection's own peer address, never by a header it could write itself, and a
request relayed by a proxy (``Forwarded``, ``X-Forwarded-For``, ``X-Real-IP``)
is refused even when the proxy runs locally: its real caller is elsewhere.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Awaitable, Callable

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
RELAY_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Real-IP")


def is_local(request: web.Request) -> bool:
    """The connection comes from a loopback address and was not relayed."""
    if any(name in request.headers for name in RELAY_HEADERS):
        return False
    transport = request.transport
    if transport is None:
        return False
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family == socket.AF_UNIX:  # only this machine can reach it
        return True
    peer = transport.get_extra_info("peername")
    try:
        return ipaddress.ip_address(peer[0]).is_loopback
    except (TypeError, IndexError, ValueError):
        return False


def local_only(handler: Handler) -> Handler:
    """``handler`` for local callers; 403 for everyone else."""

    async def guarded(request: web.Request) -> web.StreamResponse:
        if not is_local(request):
            return web.json_response(
                {"error": {"code": "local_only",
                           "message": "The sandbox's control surface answers callers on its own machine only."}},
                status=403,
            )
        return await handler(request)

    return guarded
