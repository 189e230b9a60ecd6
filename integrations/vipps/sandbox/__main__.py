"""Run the Vipps sandbox on its own: ``python -m integrations.vipps.sandbox --port N``."""

from __future__ import annotations

import argparse
import functools

from aiohttp import web

from integrations.sandbox_kit import cli

from .app import create_sandbox_app
from .keys import DEMO_KEYS


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m integrations.vipps.sandbox",
                                     description="Vipps MobilePay-compatible sandbox server")
    cli.common_arguments(parser)
    cli.state_arguments(parser, tick_help="seconds between expiry checks")
    args = parser.parse_args(argv)
    cli.start(args, functools.partial(_app, args), _banner)


def _app(args: argparse.Namespace, public_url: str) -> web.Application:
    return create_sandbox_app(public_url=public_url, data_path=args.data, tick_interval_s=args.tick)


def _banner(app: web.Application, base: str) -> str:
    return (f"Vipps sandbox listening on {base} (demo merchant {DEMO_KEYS.merchant_serial_number}, "
            f"client_id {DEMO_KEYS.client_id}); a phone: {base}/phone/4791234567")


if __name__ == "__main__":
    main()
