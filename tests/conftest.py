"""Shared fixtures: a live ConsultPay on a real port, with the built-in Stripe sandbox."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from app.clock import ManualClock
from app.config import Settings
from tests.factories import Live

# Every request the app sends to Stripe is checked against the stripe package's
# own parameter definitions (tests/stripe_contract/plugin.py).
pytest_plugins = ["tests.stripe_contract.plugin", "pytester"]

IN_CI = os.environ.get("CI") == "true"
# The same suite, again on the production engines: CI runs the database and
# realtime tests once embedded (SQLite, one process) and once with these set.
ON_POSTGRES = os.environ.get("TEST_DATABASE", "sqlite") == "postgresql"
ON_REDIS = os.environ.get("TEST_REDIS") == "1"
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_settings(tmp_path: Path, **env: str) -> Settings:
    port = free_port()
    base = {
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'consultpay.db'}",
        "DATA_DIR": str(tmp_path / "var"),
        "SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
        "STRIPE_WEBHOOK_SECRET": "whsec_test_secret",
        "STRIPE_CONNECT_WEBHOOK_SECRET": "whsec_test_connect_secret",
        "LOG_LEVEL": "WARNING",
        # The loop of a test run stalls now and then on a shared machine; the tests of the
        # load gate (tests/realtime/test_overload.py) set its lag and queue bounds themselves.
        "OVERLOAD_LAG_MS": "0",
        "OVERLOAD_QUEUE_MS": "0",
    }
    base.update(env)
    return Settings.from_env(base, dotenv=tmp_path / "no.env")


# The sandbox retries and sweeps quickly in tests, as it does slowly in the demo.
FAST_SANDBOX = {"webhook_retry_base_s": 0.05, "webhook_retry_cap_s": 0.2, "sweep_interval_s": 0.1,
                "async_payment_delay_s": 0.1}
FAST_MEDIPAY_SANDBOX = {"tick_interval_s": 0.1, "callback_retry_base_s": 0.05, "callback_retry_cap_s": 0.2}


async def start_live(settings: Settings, **kwargs: object) -> tuple[Live, web.AppRunner]:
    from app.factory import create_app

    kwargs.setdefault("medipay_sandbox_options", FAST_MEDIPAY_SANDBOX)
    app = create_app(settings, sandbox_options=FAST_SANDBOX, **kwargs)  # type: ignore[arg-type]
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, settings.host, settings.port).start()
    live = Live(app=app, settings=settings)
    await live.seed()
    return live, runner


PG_ADMIN = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


async def _pg_database(name: str) -> str | None:
    """Create a fresh database for one test; None when no server answers."""
    import asyncpg

    try:
        conn = await asyncpg.connect(PG_ADMIN.replace("postgresql://", "postgres://"), timeout=3)
    except (OSError, asyncpg.PostgresError):
        return None
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"


async def _drop_pg_database(name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN.replace("postgresql://", "postgres://"))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@asynccontextmanager
async def pg_database() -> AsyncIterator[str]:
    """A fresh PostgreSQL database for one test, dropped after; skips (fails in CI) without a server."""
    name = f"cp_test_{uuid.uuid4().hex[:12]}"
    url = await _pg_database(name)
    if url is None:
        if IN_CI:
            pytest.fail("PostgreSQL is required in CI but did not answer at " + PG_ADMIN)
        pytest.skip("PostgreSQL is not running at " + PG_ADMIN)
    try:
        yield url
    finally:
        await _drop_pg_database(name)


async def redis_answers(url: str) -> bool:
    from redis import asyncio as aioredis

    client = aioredis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        return bool(await client.ping())
    except (OSError, aioredis.RedisError):
        return False
    finally:
        await client.aclose()


async def redis_env() -> dict[str, str]:
    """REDIS_URL and a channel of this test's own; skips (fails in CI) without a server."""
    if not await redis_answers(REDIS_URL):
        if IN_CI:
            pytest.fail("Redis is required in CI but did not answer at " + REDIS_URL)
        pytest.skip("Redis is not running at " + REDIS_URL)
    return {"REDIS_URL": REDIS_URL, "REDIS_CHANNEL": f"cp-test-{uuid.uuid4().hex[:12]}"}


@asynccontextmanager
async def running(tmp_path: Path, *, postgres: bool, redis: bool, **kwargs: Any) -> AsyncIterator[Live]:
    """A live app on the chosen database and Socket.IO transport."""
    async with AsyncExitStack() as stack:
        env: dict[str, str] = {}
        if postgres:
            env["DATABASE_URL"] = await stack.enter_async_context(pg_database())
        if redis:
            env.update(await redis_env())
            # The same jobs as in one process: only the transport differs.
            kwargs.setdefault("run_jobs", True)
        live, runner = await start_live(make_settings(tmp_path, **env), **kwargs)
        try:
            yield live
        finally:
            await live.close()
            await runner.cleanup()


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[Live]:
    """The live app; on PostgreSQL when TEST_DATABASE=postgresql, through Redis when TEST_REDIS=1."""
    async with running(tmp_path, postgres=ON_POSTGRES, redis=ON_REDIS) as live:
        yield live


@pytest.fixture
async def live_pg(tmp_path: Path) -> AsyncIterator[Live]:
    """The same live app on PostgreSQL (its own database, dropped after)."""
    async with running(tmp_path, postgres=True, redis=False) as live:
        yield live


@pytest.fixture
async def live_redis_pg(tmp_path: Path) -> AsyncIterator[Live]:
    """On PostgreSQL, with Socket.IO through Redis (its own channel)."""
    async with running(tmp_path, postgres=True, redis=True) as live:
        yield live


@pytest.fixture
async def clocked(tmp_path: Path) -> AsyncIterator[tuple[Live, ManualClock]]:
    """A live app on a clock the test moves by hand."""
    clock = ManualClock()
    live, runner = await start_live(make_settings(tmp_path), clock=clock)
    try:
        yield live, clock
    finally:
        await live.close()
        await runner.cleanup()
