"""``create_app``: the one place where things are wired together."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web

from app.admin import client_payments
from app.admin import payments_page as admin_payments
from app.admin import web as admin_web
from app.clock import Clock, SystemClock
from app.config import Settings
from app.consults.notifier import Notifier
from app.i18n.zones import local_time
from app.jobs.scheduler import run_forever
from app.keys import (
    ADMIN_SESSIONS,
    CLOCK,
    CONSULTS,
    DB,
    MEDIPAY,
    MEDIPAY_ACCOUNTS,
    MEDIPAY_CALLBACKS,
    MEDIPAY_EXPORTER,
    ORGANISATIONS,
    PAYMENTS,
    REFUNDS,
    SERVICES,
    SETTINGS,
    STRIPE,
    STRIPE_ACCOUNTS,
    STRIPE_EVENTS,
    STRIPE_SANDBOX_APP,
    VIPPS,
    VIPPS_SANDBOX_APP,
)
from app.realtime.namespace import ConsultNamespace
from app.realtime.overload import LOAD_GATE, LoadGate
from app.realtime.server import SocketNotifier, decline_websocket_compression, make_server
from app.services import Services, open_services
from app.web import api, bill_cards_api, health, pages, receipt_pages, reports_api, webhooks
from app.web import demo_page as demo
from app.web.middleware import errors, load_gate, security_headers
from integrations.medipay.protocol import MediPayGateway
from integrations.stripe.protocol import StripeGateway
from integrations.vipps.client import VippsClient

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parent.parent
SIO = web.AppKey("sio", object)
JOBS_STOP = web.AppKey("jobs_stop", asyncio.Event)


def create_app(
    settings: Settings,
    *,
    stripe: StripeGateway | None = None,
    medipay: MediPayGateway | None = None,
    clock: Clock | None = None,
    notifier: Notifier | None = None,
    run_jobs: bool | None = None,
    sandbox_options: dict[str, Any] | None = None,
    medipay_sandbox_options: dict[str, Any] | None = None,
    vipps: VippsClient | None = None,
    vipps_sandbox_options: dict[str, Any] | None = None,
) -> web.Application:
    """The web app. Injected ``stripe``/``medipay``/``vipps``/``clock``/``notifier`` replace the real ones (tests).

    ``run_jobs`` defaults to the embedded default's choice: jobs in-process unless
    Redis says several processes share the work (then the worker runs them).
    """
    app = web.Application(middlewares=[errors, load_gate, decline_websocket_compression],
                          client_max_size=1024 * 1024)
    # A signal rather than a middleware: it also reaches the responses made
    # outside the handlers (aiohttp's own 404/405/500) and the sandboxes' pages.
    app.on_response_prepare.append(security_headers)
    app[SETTINGS] = settings
    app[CLOCK] = clock or SystemClock()
    app[LOAD_GATE] = LoadGate(max_lag_ms=settings.overload_lag_ms, max_in_flight=settings.overload_in_flight,
                              max_queue_ms=settings.overload_queue_ms)

    aiohttp_jinja2.setup(
        app, loader=jinja2.FileSystemLoader(ROOT / "templates"), autoescape=jinja2.select_autoescape(default=True),
        filters={"local_time": local_time},
    )
    app.router.add_static("/static", ROOT / "static", append_version=True)
    admin_web.setup_sessions(app, settings)
    for table in (
        api.routes,
        bill_cards_api.routes,
        reports_api.routes,
        webhooks.routes,
        pages.routes,
        receipt_pages.routes,
        *admin_web.TABLES,
        client_payments.routes,
        admin_payments.routes,
    ):
        app.add_routes(table)
    if settings.demo:
        app.add_routes(demo.routes)
    app.router.add_get("/healthz", health.healthz)
    app.router.add_get("/readyz", health.readyz)

    sio = make_server(redis_url=settings.redis_url, channel=settings.redis_channel)
    sio.register_namespace(ConsultNamespace(app))
    sio.attach(app)
    app[SIO] = sio
    health.setup_shutdown(app, sio)

    if "stripe" in settings.sandboxes:
        from integrations.stripe.sandbox import create_sandbox_app

        settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        sandbox = create_sandbox_app(
            public_url=settings.stripe_sandbox_url,
            webhook_url=f"{settings.public_url}/webhooks/stripe",
            webhook_secret=settings.stripe_webhook_secret,
            connect_webhook_url=f"{settings.public_url}/webhooks/stripe/connect",
            connect_webhook_secret=settings.stripe_connect_webhook_secret,
            data_path=str(settings.data_dir / "stripe-sandbox.db"),
            **(sandbox_options or {}),
        )
        app.add_subapp("/_sandbox/stripe", sandbox)
        app[STRIPE_SANDBOX_APP] = sandbox

    if "medipay" in settings.sandboxes:
        # Without MEDIPAY_URL the built-in sandbox answers at settings.medipay_base, so the
        # app's MediPay client reaches it exactly as it would reach the real service.
        from integrations.medipay.sandbox import create_sandbox_app as create_medipay_sandbox

        settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        medipay_sandbox = create_medipay_sandbox(
            public_url=settings.medipay_sandbox_url,
            callback_url=f"{settings.public_url}/webhooks/medipay",
            callback_secret=settings.medipay_callback_secret,
            data_path=str(settings.data_dir / "medipay-sandbox.db"),
            **(medipay_sandbox_options or {}),
        )
        app.add_subapp("/_sandbox/medipay", medipay_sandbox)

    if "vipps" in settings.sandboxes:
        # Without VIPPS_API_BASE the app's Vipps client talks to this sandbox, as it would to Vipps.
        from integrations.vipps.sandbox import create_sandbox_app as create_vipps_sandbox

        settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        vipps_sandbox = create_vipps_sandbox(
            public_url=settings.vipps_sandbox_url,
            data_path=str(settings.data_dir / "vipps-sandbox.db"),
            **(vipps_sandbox_options or {}),
        )
        app.add_subapp("/_sandbox/vipps", vipps_sandbox)
        app[VIPPS_SANDBOX_APP] = vipps_sandbox

    async def services(app: web.Application) -> AsyncIterator[None]:
        # One context for every service: leaving it closes exactly what it opened.
        async with open_services(
            settings, notifier=notifier or SocketNotifier(sio), clock=app[CLOCK], stripe=stripe, medipay=medipay,
            vipps=vipps,
        ) as built:
            expose(app, built)
            yield

    async def background(app: web.Application) -> AsyncIterator[None]:
        app[LOAD_GATE].start()
        stop = asyncio.Event()
        app[JOBS_STOP] = stop
        task = None
        if run_jobs if run_jobs is not None else settings.redis_url is None:
            task = asyncio.create_task(run_forever(app[SERVICES].jobs(), stop))
        yield
        stop.set()
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await app[LOAD_GATE].stop()

    app.cleanup_ctx.append(services)
    app.cleanup_ctx.append(background)
    return app


def expose(app: web.Application, built: Services) -> None:
    """Put the services where the handlers take them from (their typed keys)."""
    app[SERVICES] = built
    app[DB] = built.db
    app[STRIPE] = built.stripe
    app[MEDIPAY] = built.medipay
    app[VIPPS] = built.vipps
    app[ORGANISATIONS] = built.organisations
    app[ADMIN_SESSIONS] = built.admin_sessions
    app[CONSULTS] = built.consults
    app[PAYMENTS] = built.payments
    app[STRIPE_EVENTS] = built.stripe_events
    app[STRIPE_ACCOUNTS] = built.stripe_accounts
    app[REFUNDS] = built.refunds
    app[MEDIPAY_ACCOUNTS] = built.medipay_accounts
    app[MEDIPAY_EXPORTER] = built.medipay_exporter
    app[MEDIPAY_CALLBACKS] = built.medipay_callbacks
