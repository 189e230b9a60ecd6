"""Run the MediPay sandbox on its own:
``python -m integrations.medipay.sandbox --port N --callback-url URL [--callback-secret S]``."""

from __future__ import annotations

import argparse
import functools

from aiohttp import web

from integrations.sandbox_kit import cli

from .app import create_sandbox_app
from .context import CALLBACK_SECRET, SANDBOX_PASSWORD, Rules


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m integrations.medipay.sandbox",
                                     description="MediPay-compatible sandbox server")
    cli.common_arguments(parser)
    parser.add_argument("--callback-url", default=None, help="where signed callbacks are POSTed")
    parser.add_argument("--callback-secret", default=None,
                        help="the secret callbacks are signed with (default: a new one, printed)")
    cli.state_arguments(parser, tick_help="seconds between timer checks")
    parser.add_argument("--admin-fee", type=int, default=Rules.admin_fee_amount,
                        help="the admin fee in øre (default 3900, NOK 39.00)")
    args = parser.parse_args(argv)
    if not 0 <= args.admin_fee <= 100_000:
        parser.error("--admin-fee must be from 0 to 100000 øre")
    cli.start(args, functools.partial(_app, args), functools.partial(_banner, args))


def _app(args: argparse.Namespace, public_url: str) -> web.Application:
    return create_sandbox_app(public_url=public_url, callback_url=args.callback_url,
                              callback_secret=args.callback_secret, data_path=args.data,
                              tick_interval_s=args.tick, rules=Rules(admin_fee_amount=args.admin_fee))


def _banner(args: argparse.Namespace, app: web.Application, base: str) -> str:
    secret_note = "" if args.callback_secret else f" callback_secret={app[CALLBACK_SECRET]}"
    return f"MediPay sandbox listening on {base} (password {SANDBOX_PASSWORD}){secret_note}"


if __name__ == "__main__":
    main()
