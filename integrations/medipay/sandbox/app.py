"""The sandbox as an aiohttp application: wiring only."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from . import api, checkout_page, claims, control, dashboard
from .callbacks import Callbacks, DeliveryDefaults, generate_secret
from .context import CALLBACK_SECRET, SANDBOX, Rules, Sandbox
from .store import Store

log = logging.getLogger(__name__)


def create_sandbox_app(
    *,
    public_url: str,
    callback_url: str | None,
    callback_secret: str | None,
    data_path: str | None = None,
    clock: Callable[[], float] | None = None,
    rules: Rules | None = None,
    tick_interval_s: float = 1.0,
    callback_retry_base_s: float = 1.0,
    callback_retry_cap_s: float = 300.0,
    callback_max_attempts: int = 12,
    callback_timeout_s: float = 10.0,
) -> web.Application:
    """A MediPay-compatible server; mount it or run it alone.

    ``public_url`` is where this app is reachable (no trailing slash); the
    Checkout links in the SMS are built from it. Without a ``callback_secret``
    one is generated; either way it is ``app[CALLBACK_SECRET]``.
    """
    secret = callback_secret or generate_secret()
    store = Store(data_path, clock)
    defaults = DeliveryDefaults(retry_base_s=callback_retry_base_s, retry_cap_s=callback_retry_cap_s,
                                max_attempts=callback_max_attempts, timeout_s=callback_timeout_s)
    sandbox = Sandbox(store=store, callbacks=Callbacks(store, callback_url, secret, defaults),
                      public_url=public_url.rstrip("/"), rules=rules or Rules())

    app = web.Application(client_max_size=api.MAX_BODY)
    app[SANDBOX] = sandbox
    app[CALLBACK_SECRET] = secret
    api.add_routes(app)
    control.add_routes(app)
    checkout_page.add_routes(app)
    dashboard.add_routes(app)

    async def background(app: web.Application) -> AsyncIterator[None]:
        # The sender starts first so reminders and invoices the tick fires have somewhere to go.
        await sandbox.callbacks.start()
        ticker = asyncio.create_task(_tick_forever(sandbox, tick_interval_s), name="medipay-sandbox-tick")
        yield
        ticker.cancel()
        try:
            await ticker
        except asyncio.CancelledError:
            pass
        await sandbox.callbacks.stop()
        store.close()

    app.cleanup_ctx.append(background)
    return app


async def _tick_forever(sandbox: Sandbox, interval: float) -> None:
    """Deadlines and reminders fire on their own while the sandbox runs."""
    while True:
        await asyncio.sleep(interval)
        try:
            claims.fire_due(sandbox)
        except Exception:  # one bad row or a busy shared file must not stop the clock
            log.exception("MediPay sandbox tick failed")
