"""Run the Stripe sandbox on its own: ``python -m integrations.stripe.sandbox --port N``."""

from __future__ import annotations

import argparse
import asyncio
import logging

from aiohttp import web

from .app import create_sandbox_app
from .keys import CONNECT_SECRET_KEY, SECRET_KEY


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m integrations.stripe.sandbox",
                                     description="Stripe-compatible sandbox server")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--webhook-url", default=None,
                        help="account endpoint: the platform's own events (and Connect events "
                             "when no --connect-webhook-url is given)")
    parser.add_argument("--webhook-secret", default=None, help="its signing secret(s), comma-separated")
    parser.add_argument("--connect-webhook-url", default=None,
                        help="Connect endpoint: events of connected accounts")
    parser.add_argument("--connect-webhook-secret", default=None, help="its signing secret(s), comma-separated")
    parser.add_argument("--data", default=None, help="SQLite file shared with other processes")
    parser.add_argument("--public-url", default=None,
                        help="base URL clients reach this server at (default http://HOST:PORT)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    asyncio.run(_serve(args))


async def _serve(args: argparse.Namespace) -> None:
    public_url = args.public_url or f"http://{args.host}:{args.port}"
    app = create_sandbox_app(public_url=public_url, webhook_url=args.webhook_url,
                             webhook_secret=args.webhook_secret,
                             connect_webhook_url=args.connect_webhook_url,
                             connect_webhook_secret=args.connect_webhook_secret, data_path=args.data)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, args.host, args.port)
    await site.start()
    port = args.port or runner.addresses[0][1]
    base = args.public_url or f"http://{args.host}:{port}"
    secret_note = "" if args.webhook_secret else f" webhook_secret={app[SECRET_KEY]}"
    if args.connect_webhook_url and not args.connect_webhook_secret:
        secret_note += f" connect_webhook_secret={app[CONNECT_SECRET_KEY]}"
    print(f"Stripe sandbox listening on {base}{secret_note}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
