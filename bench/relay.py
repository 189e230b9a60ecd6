"""The baseline: a bare python-socketio relay on aiohttp (same transport, no auth, no database).

``python -m bench.relay PORT [--decline-compression] [--app-backlog]``. A socket's auth token names its pair
(``c:ID`` for the clinician, ``p:ID`` for the patient); a ``payment:request``
from the clinician goes out to the patient as ``payment:requested``.

``--decline-compression`` gives the relay the app's WebSocket setting (no
permessage-deflate), so that both are measured on the same transport; without
it the relay runs on the libraries' defaults. ``--app-backlog`` gives it the app's listen
backlog (``app.realtime.server.LISTEN_BACKLOG``) instead of aiohttp's 128, for a storm of connects.
"""

from __future__ import annotations

import sys
from typing import Any

import socketio
from aiohttp import web

from app.realtime.server import LISTEN_BACKLOG, decline_websocket_compression


def create_relay(*, decline_compression: bool = False) -> web.Application:
    sio = socketio.AsyncServer(async_mode="aiohttp", cors_allowed_origins=[])
    app = web.Application(middlewares=[decline_websocket_compression] if decline_compression else [])
    sio.attach(app)

    @sio.on("connect", namespace="/consult")
    async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        token = auth.get("token", "") if isinstance(auth, dict) else ""
        role, _, pair = token.partition(":")
        await sio.enter_room(sid, f"{role}:{pair}", namespace="/consult")
        await sio.save_session(sid, {"pair": pair}, namespace="/consult")

    @sio.on("payment:request", namespace="/consult")
    async def request(sid: str, data: Any = None) -> dict[str, Any]:
        session = await sio.get_session(sid, namespace="/consult")
        payload = {"request": dict(data or {})}
        await sio.emit("payment:requested", payload, room=f"p:{session['pair']}", namespace="/consult")
        return {"ok": True, **payload}

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app.router.add_get("/readyz", healthz)
    return app


if __name__ == "__main__":
    web.run_app(create_relay(decline_compression="--decline-compression" in sys.argv[2:]), host="127.0.0.1",
                port=int(sys.argv[1]), print=None, backlog=LISTEN_BACKLOG if "--app-backlog" in sys.argv[2:] else 128)
