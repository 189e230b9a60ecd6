"""Run the Stripe sandbox on its own: ``python -m integrations.stripe.sandbox --port N``."""

from __future__ import annotations

import argparse
import functools

from aiohttp import web

from integrations.sandbox_kit import cli

from .app import create_sandbox_app
from .keys import CONNECT_SECRET_KEY, SECRET_KEY


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m integrations.stripe.sandbox",
                                     description="Stripe-compatible sandbox server")
    cli.common_arguments(parser)
    parser.add_argument("--webhook-url", default=None,
                        help="account endpoint: the platform's own events (and Connect events "
                             "when no --connect-webhook-url is given)")
    parser.add_argument("--webhook-secret", default=None, help="its signing secret(s), comma-separated")
    parser.add_argument("--connect-webhook-url", default=None,
                        help="Connect endpoint: events of connected accounts")
    parser.add_argument("--connect-webhook-secret", default=None, help="its signing secret(s), comma-separated")
    parser.add_argument("--data", default=None, help="SQLite file shared with other processes")
    args = parser.parse_args(argv)
    cli.start(args, functools.partial(_app, args), functools.partial(_banner, args))


def _app(args: argparse.Namespace, public_url: str) -> web.Application:
    return create_sandbox_app(public_url=public_url, webhook_url=args.webhook_url,
                              webhook_secret=args.webhook_secret,
                              connect_webhook_url=args.connect_webhook_url,
                              connect_webhook_secret=args.connect_webhook_secret, data_path=args.data)


def _banner(args: argparse.Namespace, app: web.Application, base: str) -> str:
    secret_note = "" if args.webhook_secret else f" webhook_secret={app[SECRET_KEY]}"
    if args.connect_webhook_url and not args.connect_webhook_secret:
        secret_note += f" connect_webhook_secret={app[CONNECT_SECRET_KEY]}"
    return f"Stripe sandbox listening on {base}{secret_note}"


if __name__ == "__main__":
    main()
