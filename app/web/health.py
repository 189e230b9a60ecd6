"""Health and readiness, and what the process does when told to stop.

``/healthz`` (liveness): the process serves and its database answers.
``/readyz`` (readiness): the database and, when configured, Redis answer, and
the process is not shutting down; a load balancer sends new work only to a
ready process. On SIGTERM the process stops listening, answers ``/readyz``
with 503 on connections still open, closes its Socket.IO connections so the
clients reconnect to another process (and get ``consult:state`` there), lets
requests in flight finish, then lets the in-process jobs finish their
current run before the database is closed.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web
from sqlalchemy import text

from app.keys import DB, SETTINGS

log = logging.getLogger(__name__)
DRAINING = web.AppKey("draining", asyncio.Event)
CHECK_TIMEOUT = 2.0


async def _database(app: web.Application) -> None:
    async with app[DB].read() as s:
        await s.execute(text("SELECT 1"))


async def _redis(url: str) -> None:
    from redis import asyncio as aioredis

    client = aioredis.Redis.from_url(url, socket_connect_timeout=CHECK_TIMEOUT, socket_timeout=CHECK_TIMEOUT)
    try:
        await client.ping()
    finally:
        await client.aclose()


async def healthz(request: web.Request) -> web.Response:
    await asyncio.wait_for(_database(request.app), CHECK_TIMEOUT)
    return web.json_response({"ok": True})


async def readyz(request: web.Request) -> web.Response:
    app = request.app
    checks: dict[str, str] = {}
    try:
        await asyncio.wait_for(_database(app), CHECK_TIMEOUT)
        checks["database"] = "ok"
    except Exception as e:  # any failure means "not ready", never a 500
        log.warning("readiness: the database does not answer: %s", e)
        checks["database"] = "unavailable"
    redis_url = app[SETTINGS].redis_url
    if redis_url:
        try:
            await asyncio.wait_for(_redis(redis_url), CHECK_TIMEOUT)
            checks["redis"] = "ok"
        except Exception as e:
            log.warning("readiness: Redis does not answer: %s", e)
            checks["redis"] = "unavailable"
    draining = DRAINING in app and app[DRAINING].is_set()
    if draining:
        checks["process"] = "shutting_down"
    ready = not draining and all(v == "ok" for v in checks.values())
    body: dict[str, Any] = {"ok": ready, "checks": checks}
    if not ready:
        body["error"] = {"code": "not_ready", "message": "This process cannot take work now."}
    return web.json_response(body, status=200 if ready else 503)


def setup_shutdown(app: web.Application, sio: Any) -> None:
    """Mark the process draining and hand its sockets over when the server stops."""
    app[DRAINING] = asyncio.Event()

    async def on_shutdown(app: web.Application) -> None:
        app[DRAINING].set()
        sockets = list(sio.eio.sockets.values())
        if sockets:
            log.info("shutting down: closing %d Socket.IO connections so they reconnect elsewhere", len(sockets))
        # An engine.io close (not a Socket.IO disconnect) makes the browser
        # client reconnect on its own, to another process behind the balancer.
        for sock in sockets:
            try:
                await sock.close(wait=False)
            except Exception:  # a socket already gone needs no closing
                log.debug("closing a socket failed", exc_info=True)
        await sio.shutdown()

    async def on_cleanup(app: web.Application) -> None:
        from app.realtime.server import close_manager

        await close_manager(sio.manager)

    app.on_shutdown.append(on_shutdown)
    app.on_cleanup.append(on_cleanup)
