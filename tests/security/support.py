"""Helpers for the security suite: an app on a real port, configured as asked."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
from aiohttp import web

from app.config import Settings
from tests.conftest import FAST_MEDIPAY_SANDBOX, FAST_SANDBOX, free_port

# What an operator sets for production (no MEDIPAY_URL: each test adds what it needs).
PRODUCTION = {
    "STRIPE_SECRET_KEY": "sk_live_consultpay_security_suite",
    "STRIPE_WEBHOOK_SECRET": "whsec_live_security_suite",
    "STRIPE_CONNECT_WEBHOOK_SECRET": "whsec_live_security_suite_connect",
    "SECRET_KEY": "production-secret-key-that-is-long-enough-0123456789",
}
REAL_MEDIPAY = {"MEDIPAY_URL": "https://medipay.invalid", "MEDIPAY_CALLBACK_SECRET": "mpsec_live_suite"}


def settings_for(tmp_path: Path, **env: str) -> Settings:
    base = {
        "HOST": "127.0.0.1",
        "PORT": str(free_port()),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'consultpay.db'}",
        "DATA_DIR": str(tmp_path / "var"),
        "LOG_LEVEL": "WARNING",
        # A loaded test machine stalls the loop now and then; the load gate has its own tests.
        "OVERLOAD_LAG_MS": "0",
        "OVERLOAD_QUEUE_MS": "0",
    }
    base.update(env)
    return Settings.from_env(base, dotenv=tmp_path / "no.env")


@asynccontextmanager
async def serving(settings: Settings, *, extra_routes: web.RouteTableDef | None = None,
                  ) -> AsyncIterator[tuple[str, aiohttp.ClientSession]]:
    """The app as ``python -m app serve`` builds it (jobs off), at its address, and a client."""
    from app.factory import create_app

    app = create_app(settings, run_jobs=False, sandbox_options=FAST_SANDBOX,
                     medipay_sandbox_options=FAST_MEDIPAY_SANDBOX)
    if extra_routes is not None:
        app.add_routes(extra_routes)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, settings.host, settings.port).start()
    try:
        async with aiohttp.ClientSession() as http:
            yield f"http://127.0.0.1:{settings.port}", http
    finally:
        await runner.cleanup()


