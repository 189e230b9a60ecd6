"""Run the Vipps sandbox on its own: ``python -m integrations.vipps.sandbox --port N``."""

from __future__ import annotations

import argparse
import functools
import logging

from aiohttp import web

from integrations.sandbox_kit import cli

from .app import create_sandbox_app
from .keys import DEMO_KEYS


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m integrations.vipps.sandbox",
                                     description="Vipps MobilePay-compatible sandbox server")
    cli.common_arguments(parser)
    parser.add_argument("--data", default=None,
                        help="SQLite file for the sandbox's state (shared with other processes, kept across "
                             "restarts); default in memory")
    parser.add_argument("--tick", type=float, default=1.0, help="seconds between expiry checks")
    parser.add_argument("--access-log", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    if not args.access_log:
        logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    cli.run(functools.partial(cli.serve, args, functools.partial(_app, args), _banner))


def _app(args: argparse.Namespace, public_url: str) -> web.Application:
    return create_sandbox_app(public_url=public_url, data_path=args.data, tick_interval_s=args.tick)


def _banner(app: web.Application, base: str) -> str:
    return (f"Vipps sandbox listening on {base} (demo merchant {DEMO_KEYS.merchant_serial_number}, "
            f"client_id {DEMO_KEYS.client_id}); a phone: {base}/phone/4791234567")


if __name__ == "__main__":
    main()
