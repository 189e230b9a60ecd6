"""Liveness and readiness, as a load balancer sees them."""

from __future__ import annotations

from pathlib import Path

from app.web.health import DRAINING
from tests.conftest import free_port, make_settings, start_live
from tests.factories import Live


async def test_ready_when_the_database_answers(live: Live) -> None:
    status, body = await live.api("GET", "/readyz", headers={})
    assert status == 200 and body["ok"] is True and body["checks"]["database"] == "ok"
    status, body = await live.api("GET", "/healthz", headers={})
    assert status == 200 and body == {"ok": True}


async def test_not_ready_while_shutting_down(live: Live) -> None:
    live.app[DRAINING].set()
    status, body = await live.api("GET", "/readyz", headers={})
    assert status == 503 and body["checks"]["process"] == "shutting_down"
    assert body["error"]["code"] == "not_ready"


async def test_not_ready_when_redis_does_not_answer(tmp_path: Path) -> None:
    # Nothing listens on this port: Redis is down for this process.
    settings = make_settings(tmp_path, REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    live, runner = await start_live(settings, run_jobs=False)
    try:
        status, body = await live.api("GET", "/readyz", headers={})
        assert status == 503 and body["checks"] == {"database": "ok", "redis": "unavailable"}
        assert body["error"]["code"] == "not_ready"
    finally:
        await live.close()
        await runner.cleanup()
