"""The sandbox as an aiohttp application: wiring only."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from integrations.sandbox_kit.app import background

from . import control, pages, payments, routes
from .api import MAX_BODY
from .context import SANDBOX, Rules, Sandbox
from .store import Store
from .webhooks import DeliveryDefaults, Webhooks


def create_sandbox_app(
    *,
    public_url: str,
    data_path: str | None = None,
    clock: Callable[[], float] | None = None,
    rules: Rules | None = None,
    tick_interval_s: float = 1.0,
    webhook_retry_base_s: float = 1.0,
    webhook_retry_cap_s: float = 300.0,
    webhook_max_attempts: int = 12,
    webhook_timeout_s: float = 10.0,
) -> web.Application:
    """A Vipps-compatible server; mount it or run it alone.

    ``public_url`` is where this app is reachable (no trailing slash): the
    landing pages and QR codes it hands out are built from it.
    """
    store = Store(data_path, clock)
    defaults = DeliveryDefaults(retry_base_s=webhook_retry_base_s, retry_cap_s=webhook_retry_cap_s,
                                max_attempts=webhook_max_attempts, timeout_s=webhook_timeout_s)
    sandbox = Sandbox(store=store, webhooks=Webhooks(store, defaults), public_url=public_url.rstrip("/"),
                      rules=rules or Rules())
    app = web.Application(client_max_size=MAX_BODY)
    app[SANDBOX] = sandbox
    routes.add_routes(app)
    control.add_routes(app)
    pages.add_routes(app)
    # Payment requests expire on their own while the sandbox runs.
    app.cleanup_ctx.append(background(sender=sandbox.webhooks, store=store, periodic=lambda: payments.fire_due(sandbox),
                                      interval_s=tick_interval_s, name="vipps-sandbox-tick"))
    return app
