"""The sandbox as an aiohttp application: wiring only."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from integrations.sandbox_kit.app import background

from . import api, checkout_page, claims, control, dashboard
from .callbacks import Callbacks, DeliveryDefaults, generate_secret
from .context import CALLBACK_SECRET, SANDBOX, Rules, Sandbox
from .store import Store


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

    # Deadlines and reminders fire on their own while the sandbox runs.
    app.cleanup_ctx.append(background(sender=sandbox.callbacks, store=store, periodic=lambda: claims.fire_due(sandbox),
                                      interval_s=tick_interval_s, name="medipay-sandbox-tick"))
    return app
