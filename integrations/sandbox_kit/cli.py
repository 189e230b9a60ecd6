"""Running a sandbox on its own: ``python -m integrations.<provider>.sandbox --port N``."""

from __future__ import annotations

import argparse
import asyncio
import functools
import logging
import socket
from collections.abc import Callable

from aiohttp import web


def common_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every sandbox takes: where to listen, where it is reached, its state file."""
    parser.add_argument("--port", type=int, required=True, help="0 picks a free port")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--public-url", default=None,
                        help="base URL clients reach this server at (default http://HOST:PORT)")


def state_arguments(parser: argparse.ArgumentParser, *, tick_help: str) -> None:
    """The options of a sandbox with a state file and a periodic task (Vipps, MediPay)."""
    parser.add_argument("--data", default=None,
                        help="SQLite file for the sandbox's state (shared with other processes, kept across "
                             "restarts); default in memory")
    parser.add_argument("--tick", type=float, default=1.0, help=tick_help)
    parser.add_argument("--access-log", action="store_true", help="log every request")


def start(args: argparse.Namespace, make_app: Callable[[str], web.Application],
          banner: Callable[[web.Application, str], str]) -> None:
    """Serve until Ctrl-C (see ``serve``); requests are logged only with ``--access-log``, where offered."""
    if not getattr(args, "access_log", True):
        logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    run(functools.partial(serve, args, make_app, banner))


def run(serve: Callable[[], object]) -> None:
    """Log to the terminal and serve until Ctrl-C, which ends quietly."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        asyncio.run(serve())  # type: ignore[arg-type]
    except KeyboardInterrupt:
        pass


async def serve(args: argparse.Namespace, make_app: Callable[[str], web.Application],
                banner: Callable[[web.Application, str], str]) -> None:
    """Bind, build the app for its address, serve it and print ``banner``; run until cancelled.

    The socket is bound before the app is made: with ``--port 0`` the address
    the app hands out in its links is known only then.
    """
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    port = sock.getsockname()[1]
    base = (args.public_url or f"http://{args.host}:{port}").rstrip("/")
    app = make_app(base)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    print(banner(app, base), flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
