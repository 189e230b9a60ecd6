"""``create_app``: the one place where things are wired together."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import aiohttp_jinja2
import jinja2
from aiohttp import web

from app.accounts.organisations import Organisations
from app.accounts.sessions import AdminSessions
from app.admin import client_payments
from app.admin import payments_page as admin_payments
from app.admin import web as admin_web
from app.clock import Clock, SystemClock
from app.collection.callbacks import MediPayCallbacks
from app.collection.export import MediPayExporter
from app.collection.medipay_accounts import MediPayAccounts
from app.collection.secret_box import SecretBox
from app.config import Settings
from app.connect.stripe_accounts import StripeAccounts
from app.consults.notifier import Notifier
from app.consults.service import ConsultService
from app.consults.tokens import TokenSigner
from app.db import Database, make_engine, migrate
from app.jobs.leases import once_per
from app.jobs.scheduler import Job, run_forever
from app.payments.refunds import RefundService
from app.payments.requests import PaymentService
from app.payments.stripe_events import StripeEvents
from app.realtime.namespace import ConsultNamespace
from app.realtime.server import SocketNotifier, decline_websocket_compression, make_server
from app.web import api, bill_cards_api, health, pages, reports_api, webhooks
from app.web import demo_page as demo
from app.web.keys import (
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
    SETTINGS,
    STRIPE,
    STRIPE_ACCOUNTS,
    STRIPE_EVENTS,
)
from app.web.middleware import errors, security_headers
from integrations.medipay.client import MediPayHTTPClient
from integrations.medipay.protocol import MediPayGateway
from integrations.stripe.client import StripeSDKGateway
from integrations.stripe.protocol import StripeGateway

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parent.parent
SIO = web.AppKey("sio", object)
JOBS_STOP = web.AppKey("jobs_stop", asyncio.Event)
STRIPE_SANDBOX_APP = web.AppKey("stripe_sandbox_app", web.Application)


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
) -> web.Application:
    """The web app. Injected ``stripe``/``medipay``/``clock``/``notifier`` replace the real ones (tests).

    ``run_jobs`` defaults to the embedded default's choice: jobs in-process unless
    Redis says several processes share the work (then the worker runs them).
    """
    app = web.Application(middlewares=[errors, decline_websocket_compression], client_max_size=1024 * 1024)
    # A signal rather than a middleware: it also reaches the responses made
    # outside the handlers (aiohttp's own 404/405/500) and the sandboxes' pages.
    app.on_response_prepare.append(security_headers)
    app[SETTINGS] = settings
    app[CLOCK] = clock or SystemClock()

    aiohttp_jinja2.setup(
        app, loader=jinja2.FileSystemLoader(ROOT / "templates"), autoescape=jinja2.select_autoescape(default=True)
    )
    app.router.add_static("/static", ROOT / "static", append_version=True)
    admin_web.setup_sessions(app, settings)
    for table in (
        api.routes,
        bill_cards_api.routes,
        reports_api.routes,
        webhooks.routes,
        pages.routes,
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

    async def services(app: web.Application) -> AsyncIterator[None]:
        settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        engine = make_engine(settings.database_url)
        await migrate(engine)
        db = Database(engine)
        gateway = stripe or StripeSDKGateway(
            api_key=settings.stripe_key,
            webhook_secret=settings.stripe_webhook_secret or "",
            connect_webhook_secret=settings.stripe_connect_webhook_secret,
            api_base=settings.stripe_base,
        )
        out = notifier or SocketNotifier(sio)
        app[DB] = db
        app[STRIPE] = gateway
        app[ORGANISATIONS] = Organisations(db, clock=app[CLOCK])
        app[ADMIN_SESSIONS] = AdminSessions(db, clock=app[CLOCK])
        app[CONSULTS] = ConsultService(
            db,
            clock=app[CLOCK],
            signer=TokenSigner(settings.secret_key),
            notifier=out,
            public_url=settings.public_url,
            ttl_seconds=settings.consult_ttl_seconds,
        )
        app[PAYMENTS] = PaymentService(
            db,
            stripe=gateway,
            notifier=out,
            clock=app[CLOCK],
            public_url=settings.public_url,
            checkout_ttl_seconds=settings.checkout_ttl_seconds,
        )
        app[STRIPE_EVENTS] = StripeEvents(db, notifier=out, clock=app[CLOCK], livemode=settings.stripe_livemode)
        app[STRIPE_ACCOUNTS] = StripeAccounts(db, stripe=gateway, clock=app[CLOCK], public_url=settings.public_url)
        app[REFUNDS] = RefundService(db, stripe=gateway, notifier=out, clock=app[CLOCK])
        medipay_gateway = medipay or MediPayHTTPClient(settings.medipay_base)
        app[MEDIPAY] = medipay_gateway
        app[MEDIPAY_ACCOUNTS] = MediPayAccounts(
            db, gateway=medipay_gateway, clock=app[CLOCK], box=SecretBox(settings.secret_key)
        )
        app[MEDIPAY_EXPORTER] = MediPayExporter(
            db,
            gateway=medipay_gateway,
            clock=app[CLOCK],
            secret_key=settings.secret_key,
            notifier=out,
            lease_seconds=settings.medipay_export_lease_seconds,
            concurrency=settings.medipay_export_concurrency,
        )
        app[MEDIPAY_CALLBACKS] = MediPayCallbacks(
            db, gateway=medipay_gateway, clock=app[CLOCK], notifier=out, secret_key=settings.secret_key
        )
        yield
        await app[MEDIPAY_EXPORTER].close()
        if medipay is None:
            await medipay_gateway.close()
        if stripe is None:
            await gateway.close()
        if medipay is None:
            await medipay_gateway.close()
        await db.dispose()

    async def background(app: web.Application) -> AsyncIterator[None]:
        stop = asyncio.Event()
        app[JOBS_STOP] = stop
        task = None
        if run_jobs if run_jobs is not None else settings.redis_url is None:
            task = asyncio.create_task(run_forever(jobs_for(app), stop))
        yield
        stop.set()
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    app.cleanup_ctx.append(services)
    app.cleanup_ctx.append(background)
    return app


def jobs_for(app: web.Application) -> list[Job]:
    """The background jobs and how often each looks for work.

    ``export-queue`` looks every minute but only finds rows that are due: a
    card queued by the hourly transfer becomes due at the full hour, one sent
    to payment at once, one whose export failed after its back-off. The daily
    retry and the MediPay pull run once per period across all workers
    (``job_leases``).
    """
    db, clock, exporter = app[DB], app[CLOCK], app[MEDIPAY_EXPORTER]
    lease = timedelta(minutes=30)
    return [
        Job("expire-requests", 30.0, app[PAYMENTS].expire_due),
        Job("export-queue", 60.0, exporter.export_due),
        Job("retry-not-exported", 300.0,
            once_per(db, clock, "retry-not-exported", exporter.owner, timedelta(days=1), lease,
                     exporter.retry_not_exported)),
        Job("sync-medipay", 60.0,
            once_per(db, clock, "sync-medipay", exporter.owner, timedelta(minutes=15), lease,
                     app[MEDIPAY_CALLBACKS].sync)),
    ]


async def onboard_in_sandbox(settings: Settings, account_id: str, app: web.Application | None = None) -> None:
    """Complete the sandbox's onboarding for an account, as its admin would on the page.

    When ``app`` serves the sandbox itself this is a direct call: its control
    surface answers local callers only, and PUBLIC_URL may lead through a proxy.
    """
    sandbox = app.get(STRIPE_SANDBOX_APP) if app is not None else None
    if sandbox is not None:
        from integrations.stripe.sandbox import connect
        from integrations.stripe.sandbox.keys import SANDBOX

        connect.onboard(sandbox[SANDBOX], account_id)
        return
    base = settings.stripe_base or settings.stripe_sandbox_url
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{base}/_control/accounts/{account_id}/onboard") as resp:
            resp.raise_for_status()
