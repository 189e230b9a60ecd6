"""Socket.IO through Redis: what a process without sockets (the worker) emits reaches the sockets."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.billing.serialisers import request_view
from app.consults.notifier import request_changed
from app.keys import DB
from app.models import PaymentRequest
from app.realtime.server import SocketNotifier, write_only_manager
from tests.conftest import running

pytestmark = pytest.mark.redis


async def test_a_write_only_manager_reaches_sockets_held_by_the_web_process(tmp_path: Path) -> None:
    async with running(tmp_path, postgres=False, redis=True) as live:
        _, clinician, patient = await live.call_pair()
        ack = await clinician.call("payment:request", {"amount": 12000, "description": "Consultation"})
        assert ack["ok"], ack
        await patient.wait_for("payment:requested")

        settings = live.settings
        manager = write_only_manager(settings.redis_url, settings.redis_channel)
        try:
            async with live.app[DB].read() as s:
                row = await s.get(PaymentRequest, ack["request"]["id"])
                view = request_view(row)
            # What the worker does after a job changes a request.
            await request_changed(SocketNotifier(manager), view)
            got = await patient.wait_for("payment:updated", lambda d: d["request"]["id"] == view["id"])
            assert got["request"]["amount"] == 12000
            await clinician.wait_for("payment:updated", lambda d: d["request"]["id"] == view["id"])
        finally:
            if getattr(manager, "redis", None) is not None:
                await manager.redis.aclose()


async def test_another_channel_hears_nothing(tmp_path: Path) -> None:
    async with running(tmp_path, postgres=False, redis=True) as live:
        _, clinician, patient = await live.call_pair()
        manager = write_only_manager(live.settings.redis_url, live.settings.redis_channel + "-other")
        try:
            await manager.emit("payment:requested", {"request": {"id": "pr_x"}}, room=None, namespace="/consult")
            await clinician.call("payment:request", {"amount": 500, "description": "After"})
            await patient.wait_for("payment:requested")
            assert all(d["request"]["id"] != "pr_x" for d in patient.named("payment:requested"))
        finally:
            if getattr(manager, "redis", None) is not None:
                await manager.redis.aclose()
