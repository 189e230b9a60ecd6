"""Run the MediPay sandbox on its own:
``python -m integrations.medipay.sandbox --port N --callback-url URL [--callback-secret S]``."""

from __future__ import annotations

import argparse
import asyncio
import logging

from aiohttp import web

from .app import create_sandbox_app
from .context import CALLBACK_SECRET, SANDBOX_PASSWORD


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
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
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
                             tick_interval_s=args.tick)
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
