"""Run the MediPay sandbox on its own:
``python -m integrations.medipay.sandbox --port N --callback-url URL [--callback-secret S]``."""

from __future__ import annotations

import argparse
import asyncio
import logging

from aiohttp import web

from .app import create_sandbox_app
from .context import CALLBACK_SECRET, SANDBOX_PASSWORD, Rules


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m integrations.medipay.sandbox",
                                     description="MediPay-compatible sandbox server")
    parser.add_argument("--port", type=int, required=True, help="0 picks a free port")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--callback-url", default=None, help="where signed callbacks are POSTed")
    parser.add_argument("--callback-secret", default=None,
                        help="the secret callbacks are signed with (default: a new one, printed)")
    parser.add_argument("--data", default=None,
                        help="SQLite file for the sandbox's state (shared with other processes, "
                             "kept across restarts); default in memory")
    parser.add_argument("--public-url", default=None,
                        help="base URL clients reach this server at (default http://HOST:PORT)")
    parser.add_argument("--tick", type=float, default=1.0, help="seconds between timer checks")
    parser.add_argument("--admin-fee", type=int, default=Rules.admin_fee_amount,
                        help="the admin fee in øre (default 3900, NOK 39.00)")
    parser.add_argument("--access-log", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    if not 0 <= args.admin_fee <= 100_000:
        parser.error("--admin-fee must be from 0 to 100000 øre")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if not args.access_log:
        logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    asyncio.run(_serve(args))


async def _serve(args: argparse.Namespace) -> None:
    runner: web.AppRunner | None = None
    # With --port 0 the address is known only after binding; build the app for it then.
    import socket

    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    port = sock.getsockname()[1]
    base = (args.public_url or f"http://{args.host}:{port}").rstrip("/")
    app = create_sandbox_app(public_url=base, callback_url=args.callback_url,
                             callback_secret=args.callback_secret, data_path=args.data,
                             tick_interval_s=args.tick, rules=Rules(admin_fee_amount=args.admin_fee))
    runner = web.AppRunner(app)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    secret_note = "" if args.callback_secret else f" callback_secret={app[CALLBACK_SECRET]}"
    print(f"MediPay sandbox listening on {base} (password {SANDBOX_PASSWORD}){secret_note}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
