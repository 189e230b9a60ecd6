"""The services, built once and closed once: what the web app, the worker and the CLI share.

``open_services`` is the one place the services are made. Each resource it opens
is pushed onto one ``AsyncExitStack`` the moment it exists, so leaving the block
(normally, or because start-up failed half-way) closes exactly what was opened,
once each, in reverse order. Gateways handed in by the caller (tests, the CLI's
locally served sandbox) belong to the caller and are not closed here.

``Services.jobs`` is the one list of background jobs: the in-process scheduler,
the worker and ``run-job`` all read it.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta

from app.accounts.organisations import Organisations
from app.accounts.sessions import AdminSessions
from app.clock import Clock, SystemClock
from app.collection.callbacks import MediPayCallbacks
from app.collection.export import MediPayExporter
from app.collection.fallback import MediPayFallback
from app.collection.medipay_accounts import MediPayAccounts
from app.collection.secret_box import SecretBox
from app.config import Settings
from app.connect.stripe_accounts import StripeAccounts
from app.connect.vipps_merchants import VippsMerchants
from app.consults.notifier import Notifier
from app.consults.service import ConsultService
from app.consults.tokens import TokenSigner
from app.db import Database, make_engine, migrate
from app.jobs.leases import once_per
from app.jobs.scheduler import Job
from app.payments.no_shows import NoShows
from app.payments.policies import PolicyGates
from app.payments.refunds import RefundService
from app.payments.requests import PaymentService
from app.payments.stripe_events import StripeEvents
from app.payments.vipps import VippsPayments
from integrations.medipay.client import MediPayHTTPClient
from integrations.medipay.protocol import MediPayGateway
from integrations.stripe.client import StripeSDKGateway
from integrations.stripe.protocol import StripeGateway
from integrations.vipps.client import VippsClient


@dataclass(frozen=True)
class Services:
    """Every service of one process, made from one ``Settings``."""

    settings: Settings
    clock: Clock
    db: Database
    stripe: StripeGateway
    medipay: MediPayGateway
    vipps: VippsClient
    notifier: Notifier
    organisations: Organisations
    admin_sessions: AdminSessions
    consults: ConsultService
    payments: PaymentService
    stripe_events: StripeEvents
    stripe_accounts: StripeAccounts
    refunds: RefundService
    medipay_accounts: MediPayAccounts
    medipay_exporter: MediPayExporter
    medipay_callbacks: MediPayCallbacks
    vipps_payments: VippsPayments
    vipps_merchants: VippsMerchants
    fallback: MediPayFallback = field(init=False)
    no_shows: NoShows = field(init=False)

    def __post_init__(self) -> None:
        # Made once here, not per socket event.
        object.__setattr__(self, "fallback", MediPayFallback(self.db, self.medipay_exporter))
        no_shows = NoShows(self.db, payments=self.payments, notifier=self.notifier, clock=self.clock)
        object.__setattr__(self, "no_shows", no_shows)
        # A consult the host ends decides its no-shows at once; one that runs out, the no-shows job.
        self.consults.ended_hooks.append(no_shows.after_end)

    def jobs(self) -> list[Job]:
        """The background jobs and how often each looks for work.

        ``export-queue`` looks every minute but only finds rows that are due: a
        card queued by the hourly transfer becomes due at the full hour, one sent
        to payment at once, one whose export failed after its back-off. The daily
        retry and the MediPay pull run once per period across all workers
        (``job_leases``).
        """
        db, clock, exporter = self.db, self.clock, self.medipay_exporter
        lease = timedelta(minutes=30)
        return [
            Job("expire-requests", 30.0, self.payments.expire_due),
            Job("watch-holds", 300.0, self.payments.watch_holds),
            Job("no-shows", 60.0, self.no_shows.due),
            Job("export-queue", 60.0, exporter.export_due),
            Job("retry-not-exported", 300.0,
                once_per(db, clock, "retry-not-exported", exporter.owner, timedelta(days=1), lease,
                         exporter.retry_not_exported)),
            Job("sync-medipay", 60.0,
                once_per(db, clock, "sync-medipay", exporter.owner, timedelta(minutes=15), lease,
                         self.medipay_callbacks.sync)),
        ]

    def job(self, name: str) -> Callable[[], Awaitable[int]]:
        """One job by name, run once (``run-job``): the job itself, without its lease."""
        runs: dict[str, Callable[[], Awaitable[int]]] = {
            "expire-requests": self.payments.expire_due,
            "export-queue": self.medipay_exporter.export_due,
            "retry-not-exported": self.medipay_exporter.retry_not_exported,
            "sync-medipay": self.medipay_callbacks.sync,
            "vipps-poll": self.vipps_payments.poll,
            "watch-holds": self.payments.watch_holds,
            "no-shows": self.no_shows.due,
        }
        return runs[name]


JOB_NAMES = ("export-queue", "retry-not-exported", "sync-medipay", "expire-requests", "vipps-poll", "watch-holds",
             "no-shows")


@contextlib.asynccontextmanager
async def open_services(
    settings: Settings,
    *,
    notifier: Notifier,
    clock: Clock | None = None,
    stripe: StripeGateway | None = None,
    medipay: MediPayGateway | None = None,
    vipps: VippsClient | None = None,
) -> AsyncIterator[Services]:
    """Open the database and the gateways, make the services, yield them; close on the way out."""
    clock = clock or SystemClock()
    async with contextlib.AsyncExitStack() as stack:
        settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        engine = make_engine(settings.database_url)
        db = Database(engine)
        stack.push_async_callback(db.dispose)
        await migrate(engine)
        if stripe is None:
            stripe = StripeSDKGateway(
                api_key=settings.stripe_key,
                webhook_secret=settings.stripe_webhook_secret or "",
                connect_webhook_secret=settings.stripe_connect_webhook_secret,
                api_base=settings.stripe_base,
            )
            stack.push_async_callback(stripe.close)
        if medipay is None:
            client = MediPayHTTPClient(settings.medipay_base, callback_secret=settings.medipay_callback_secret)
            stack.push_async_callback(client.close)
            medipay = client
        if vipps is None:
            # Every clinic is its own Vipps merchant: one client, the keys handed in per call.
            vipps = VippsClient(settings.vipps_base)
            stack.push_async_callback(vipps.close)
        exporter = MediPayExporter(
            db,
            gateway=medipay,
            clock=clock,
            secret_key=settings.secret_key,
            notifier=notifier,
            lease_seconds=settings.medipay_export_lease_seconds,
            concurrency=settings.medipay_export_concurrency,
        )
        # Its in-flight exports use the gateway: closed before it (the stack runs backwards).
        stack.push_async_callback(exporter.close)
        vipps_payments = VippsPayments(db, client=vipps, box=SecretBox(settings.secret_key), notifier=notifier,
                                       clock=clock, public_url=settings.public_url)
        yield Services(
            settings=settings,
            clock=clock,
            db=db,
            stripe=stripe,
            medipay=medipay,
            vipps=vipps,
            notifier=notifier,
            organisations=Organisations(db, clock=clock),
            admin_sessions=AdminSessions(db, clock=clock),
            consults=ConsultService(
                db,
                clock=clock,
                signer=TokenSigner(settings.secret_key),
                notifier=notifier,
                public_url=settings.public_url,
                ttl_seconds=settings.consult_ttl_seconds,
                gates=PolicyGates(),
            ),
            payments=PaymentService(
                db,
                stripe=stripe,
                notifier=notifier,
                clock=clock,
                public_url=settings.public_url,
                checkout_ttl_seconds=settings.checkout_ttl_seconds,
                vipps=vipps_payments,
            ),
            stripe_events=StripeEvents(
                db, notifier=notifier, clock=clock, livemode=settings.stripe_livemode, public_url=settings.public_url,
                stripe=stripe,
            ),
            stripe_accounts=StripeAccounts(db, stripe=stripe, clock=clock, public_url=settings.public_url),
            refunds=RefundService(db, stripe=stripe, notifier=notifier, clock=clock, public_url=settings.public_url,
                                  vipps=vipps_payments),
            medipay_accounts=MediPayAccounts(db, gateway=medipay, clock=clock, box=SecretBox(settings.secret_key)),
            medipay_exporter=exporter,
            medipay_callbacks=MediPayCallbacks(
                db, gateway=medipay, clock=clock, notifier=notifier, secret_key=settings.secret_key
            ),
            vipps_payments=vipps_payments,
            vipps_merchants=VippsMerchants(db, vipps=vipps, clock=clock, box=SecretBox(settings.secret_key),
                                           public_url=settings.public_url),
        )
