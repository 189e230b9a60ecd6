"""``python -m app [serve|worker|seed-demo --json|run-job NAME|migrate|create-admin]``."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from app.config import ConfigError, Settings, configure_logging
from app.consults.notifier import NoNotifier
from app.services import JOB_NAMES, Services

log = logging.getLogger("app")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app", description="ConsultPay")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("serve", help="serve pages, REST and Socket.IO (the default)")
    sub.add_parser("worker", help="run the background jobs only")
    seed = sub.add_parser("seed-demo", help="create the demo organisation (idempotent)")
    seed.add_argument("--json", action="store_true", help="print one JSON object")
    job = sub.add_parser("run-job", help="run one background job once")
    job.add_argument("name", choices=JOB_NAMES)
    sub.add_parser("migrate", help="bring the database schema up to date")
    admin = sub.add_parser("create-admin", help="create an organisation admin (the first user)")
    admin.add_argument("--email", required=True)
    admin.add_argument("--name", required=True)
    where = admin.add_mutually_exclusive_group()
    where.add_argument("--organisation", metavar="ORG_ID", help="an existing organisation")
    where.add_argument("--organisation-name", metavar="NAME", help="create a new organisation with this name")
    admin.add_argument("--password", help="prompted for when omitted (or generated when there is no terminal)")
    args = parser.parse_args(argv)

    try:
        settings = Settings.from_env()
    except ConfigError as e:
        print(f"configuration error: {e}", file=sys.stderr)
        return 2
    configure_logging(settings)

    command = args.command or "serve"
    if command == "serve":
        return serve(settings)
    if command == "worker":
        return asyncio.run(worker(settings))
    if command == "seed-demo":
        if not settings.demo:
            print("error: the demo is off (DEMO=on turns it on, without STRIPE_SECRET_KEY only)", file=sys.stderr)
            return 2
        result = asyncio.run(with_services(settings, _seed))
        print(json.dumps(result) if args.json else json.dumps(result, indent=2))
        return 0
    if command == "run-job":
        count = asyncio.run(with_services(settings, lambda app: _run_job(app, args.name)))
        print(json.dumps({"job": args.name, "handled": count}))
        return 0
    if command == "create-admin":
        return asyncio.run(create_admin(settings, args))
    if command == "migrate":
        asyncio.run(with_services(settings, _noop))
        return 0
    return 2


def serve(settings: Settings) -> int:
    from app import gcwatch
    from app.factory import create_app
    from app.web.access_log import RedactingAccessLogger

    app = create_app(settings)

    async def announce(_app: web.Application) -> None:
        print(f"ConsultPay is running on {settings.public_url}", flush=True)
        if settings.demo:
            print(f"  demo call (clinician and patient side by side): {settings.public_url}/demo", flush=True)
        print(f"  API description: {settings.public_url}/api/v1/openapi.json", flush=True)
        if "stripe" in settings.sandboxes:
            print(f"  Stripe sandbox: {settings.stripe_sandbox_url}/v1/ (test card 4242 4242 4242 4242)", flush=True)
        if "medipay" in settings.sandboxes:
            print(f"  MediPay sandbox: {settings.medipay_sandbox_url}/", flush=True)
        if "vipps" in settings.sandboxes:
            print(f"  Vipps sandbox: {settings.vipps_sandbox_url}/ (a patient's phone: "
                  f"{settings.vipps_sandbox_url}/phone/4791234567)", flush=True)
        if settings.sandboxes:
            print("  the sandboxes' control surfaces answer callers on this machine only", flush=True)

    app.on_startup.append(announce)

    async def watch_gc(_app: web.Application) -> AsyncIterator[None]:
        # Startup's own objects are frozen first, so the watch sees serving, not starting.
        gcwatch.settle_heap()
        watch = gcwatch.install()
        yield
        gcwatch.uninstall(watch)

    app.cleanup_ctx.append(watch_gc)
    from app.realtime.server import LISTEN_BACKLOG
    # Join and invitation links carry their secret in the path: the access log redacts it.
    web.run_app(app, host=settings.host, port=settings.port, print=None, backlog=LISTEN_BACKLOG,
                shutdown_timeout=settings.shutdown_timeout_seconds, access_log_class=RedactingAccessLogger)
    return 0


async def _serve_locally(sandbox: web.Application) -> tuple[web.AppRunner, int]:
    """Serve a built-in sandbox on a free local port for this process's clients."""
    runner = web.AppRunner(sandbox)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]


async def with_services(settings: Settings, action: Any) -> Any:
    """Open the services without serving HTTP, run ``action(services)``, close them.

    With the built-in Stripe, MediPay and Vipps sandboxes, each is served on a
    free local port for the duration, sharing its state file with the web server's.
    """
    from app.services import open_services

    runner = None
    if settings.stripe_sandbox and settings.stripe_api_base is None:
        from dataclasses import replace

        from integrations.stripe.sandbox import create_sandbox_app

        sandbox = create_sandbox_app(
            public_url=settings.stripe_sandbox_url,
            webhook_url=f"{settings.public_url}/webhooks/stripe",
            webhook_secret=settings.stripe_webhook_secret,
            connect_webhook_url=f"{settings.public_url}/webhooks/stripe/connect",
            connect_webhook_secret=settings.stripe_connect_webhook_secret,
            data_path=str(settings.data_dir / "stripe-sandbox.db"),
        )
        runner, port = await _serve_locally(sandbox)
        settings = replace(settings, stripe_api_base=f"http://127.0.0.1:{port}")
    # Without sockets of its own, a process with Redis emits through a
    # write-only manager: the web processes holding the sockets deliver.
    manager = None
    notifier = None
    if settings.redis_url:
        from app.realtime.server import SocketNotifier, write_only_manager

        manager = write_only_manager(settings.redis_url, settings.redis_channel)
        notifier = SocketNotifier(manager)
    medipay_runner, medipay = None, None
    if settings.medipay_sandbox:
        # The same for the built-in MediPay sandbox: its links and callbacks still
        # name the web server's address; only this process's client talks to the port.
        from integrations.medipay.client import MediPayHTTPClient
        from integrations.medipay.sandbox import create_sandbox_app as create_medipay_sandbox

        medipay_sandbox = create_medipay_sandbox(
            public_url=settings.medipay_sandbox_url,
            callback_url=f"{settings.public_url}/webhooks/medipay",
            callback_secret=settings.medipay_callback_secret,
            data_path=str(settings.data_dir / "medipay-sandbox.db"),
        )
        medipay_runner, medipay_port = await _serve_locally(medipay_sandbox)
        medipay = MediPayHTTPClient(f"http://127.0.0.1:{medipay_port}",
                                    callback_secret=settings.medipay_callback_secret)
    vipps_runner, vipps = None, None
    if "vipps" in settings.sandboxes and not settings.vipps_api_base:
        from integrations.vipps.client import VippsClient
        from integrations.vipps.sandbox import create_sandbox_app as create_vipps_sandbox

        vipps_runner, vipps_port = await _serve_locally(create_vipps_sandbox(
            public_url=settings.vipps_sandbox_url, data_path=str(settings.data_dir / "vipps-sandbox.db")))
        vipps = VippsClient(f"http://127.0.0.1:{vipps_port}")
    try:
        async with open_services(settings, notifier=notifier or NoNotifier(), medipay=medipay,
                                 vipps=vipps) as services:
            return await action(services)
    finally:
        if manager is not None:
            from app.realtime.server import close_manager

            await close_manager(manager)
        if medipay is not None:
            await medipay.close()
        if medipay_runner is not None:
            await medipay_runner.cleanup()
        if vipps is not None:
            await vipps.close()
        if vipps_runner is not None:
            await vipps_runner.cleanup()
        if runner is not None:
            await runner.cleanup()


async def _seed(services: Services) -> dict[str, Any]:
    from app import demo_seed as demo

    settings = services.settings
    return await demo.seed(
        settings, services.db, services.organisations, services.stripe,
        onboard=lambda a: demo.onboard_in_sandbox(settings, a), medipay_accounts=services.medipay_accounts,
        vipps_merchants=services.vipps_merchants,
    )


async def _run_job(services: Services, name: str) -> int:
    return await services.job(name)()


async def create_admin(settings: Settings, args: argparse.Namespace) -> int:
    """Create an organisation admin; prints one JSON line (with the password only if it was generated)."""
    import getpass
    import secrets

    from app.accounts.people import People
    from app.clock import SystemClock
    from app.db import Database, make_engine, migrate
    from app.errors import DomainError

    password, generated = args.password, False
    if password is None:
        if sys.stdin.isatty():
            password = getpass.getpass("Password (at least 10 characters): ")
            if password != getpass.getpass("Password again: "):
                print("error: the passwords are not the same", file=sys.stderr)
                return 1
        else:
            password, generated = secrets.token_urlsafe(16), True
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.database_url)
    db = Database(engine)
    try:
        await migrate(engine)
        people = People(db, clock=SystemClock())
        try:
            user = await people.create_first_admin(
                email=args.email, name=args.name, password=password,
                organisation_id=args.organisation, organisation_name=args.organisation_name,
            )
        except DomainError as e:
            print(f"error: {e.message}", file=sys.stderr)
            return 1
    finally:
        await db.dispose()
    result = {"user_id": user.id, "organisation_id": user.organisation_id, "email": user.email}
    if generated:
        result["password"] = password
    print(json.dumps(result))
    return 0


async def _noop(services: Services) -> None:
    return None


async def worker(settings: Settings) -> int:
    from app.jobs.scheduler import run_forever

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    async def run(services: Services) -> None:
        jobs = services.jobs()
        log.info("worker running %s", ", ".join(j.name for j in jobs))
        await run_forever(jobs, stop)

    await with_services(settings, run)
    return 0


if __name__ == "__main__":
    sys.exit(main())
