"""The sandbox as an aiohttp application: wiring only."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from integrations.sandbox_kit.app import background

from . import api, checkout, checkout_page, connect, control, dashboard
from .context import Sandbox
from .keys import CONNECT_SECRET_KEY, SANDBOX, SECRET_KEY
from .store import Store
from .webhooks import DeliveryDefaults, Endpoint, Webhooks, generate_secret


def create_sandbox_app(
    *,
    public_url: str,
    webhook_url: str | None,
    webhook_secret: str | None,
    connect_webhook_url: str | None = None,
    connect_webhook_secret: str | None = None,
    data_path: str | None = None,
    clock: Callable[[], float] | None = None,
    sweep_interval_s: float = 1.0,
    webhook_retry_base_s: float = 1.0,
    webhook_retry_cap_s: float = 60.0,
    webhook_max_attempts: int = 8,
    async_payment_delay_s: float = 5.0,
) -> web.Application:
    """A Stripe-compatible server; mount it or run it alone.

    ``public_url`` is where this app is reachable (no trailing slash); the URLs it
    hands out (session ``url``, account links) are built from it.

    ``webhook_url`` is the account endpoint (the platform's own events) and
    ``connect_webhook_url`` the Connect endpoint (connected accounts' events;
    without one they go to the account endpoint). Each secret may be several,
    comma-separated, during a roll. A secret not given is generated; they are
    ``app[SECRET_KEY]`` and ``app[CONNECT_SECRET_KEY]``.
    """
    secret = webhook_secret or generate_secret()
    connect_secret = connect_webhook_secret or generate_secret()
    store = Store(data_path, clock)
    defaults = DeliveryDefaults(retry_base_s=webhook_retry_base_s,
                                retry_cap_s=webhook_retry_cap_s,
                                max_attempts=webhook_max_attempts)
    account_endpoint = Endpoint(webhook_url, _secrets(secret)) if webhook_url else None
    connect_endpoint = Endpoint(connect_webhook_url, _secrets(connect_secret)) if connect_webhook_url else None
    sandbox = Sandbox(store=store, webhooks=Webhooks(store, account_endpoint, connect_endpoint, defaults),
                      public_url=public_url.rstrip("/"), async_delay_s=async_payment_delay_s)

    app = web.Application()
    app[SANDBOX] = sandbox
    app[SECRET_KEY] = secret
    app[CONNECT_SECRET_KEY] = connect_secret
    api.add_routes(app)
    connect.add_routes(app)
    dashboard.add_routes(app)
    checkout_page.add_routes(app)
    control.add_routes(app)

    app.cleanup_ctx.append(background(sender=sandbox.webhooks, store=store, periodic=lambda: checkout.sweep(sandbox),
                                      interval_s=sweep_interval_s, name="stripe-sandbox-sweep"))
    return app


def _secrets(value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(",") if item.strip())

