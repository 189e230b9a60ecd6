"""Shared fixtures: a live ConsultPay on a real port, with the built-in Stripe sandbox."""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from app.config import Settings
from tests.factories import Live

IN_CI = os.environ.get("CI") == "true"


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
        "LOG_LEVEL": "WARNING",
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


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[Live]:
    live, runner = await start_live(make_settings(tmp_path))
    try:
        yield live
    finally:
        await live.close()
        await runner.cleanup()


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


@pytest.fixture
async def live_pg(tmp_path: Path) -> AsyncIterator[Live]:
    """The same live app on PostgreSQL (its own database, dropped after)."""
    import uuid

    name = f"cp_test_{uuid.uuid4().hex[:12]}"
    url = await _pg_database(name)
    if url is None:
        if IN_CI:
            pytest.fail("PostgreSQL is required in CI but did not answer at " + PG_ADMIN)
        pytest.skip("PostgreSQL is not running at " + PG_ADMIN)
    live, runner = await start_live(make_settings(tmp_path, DATABASE_URL=url))
    try:
        yield live
    finally:
        await live.close()
        await runner.cleanup()
        import asyncpg

        conn = await asyncpg.connect(PG_ADMIN.replace("postgresql://", "postgres://"))
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()
