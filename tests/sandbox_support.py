"""What the sandbox tests of every provider use: a clock the test moves, an
aiohttp app served on a real socket bound to a free port, waiting for what the
receiver gets, and the strings a sandbox marks for translation."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from aiohttp import web
from babel.messages.extract import extract_from_dir


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def bound_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


async def serve(app: web.Application, sock: socket.socket) -> web.AppRunner:
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    return runner


@asynccontextmanager
async def serving(make_app: Callable[[str], web.Application]) -> AsyncIterator[tuple[str, web.Application]]:
    """``make_app(its base URL)`` served on a free port while the block runs; yields the URL and the app."""
    sock = bound_socket()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    app = make_app(url)
    runner = await serve(app, sock)
    try:
        yield url, app
    finally:
        await asyncio.wait_for(runner.cleanup(), 15)  # a stuck shutdown fails the test, not the suite


async def wait_until(done: Callable[[], bool], timeout: float, failure: Callable[[], str]) -> None:
    """Poll ``done`` until it is true; after ``timeout`` seconds fail with ``failure()``."""
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(failure())
        await asyncio.sleep(0.02)


def sandbox_msgids(folder: Path) -> set[str]:
    """Every message a sandbox package marks for translation, in its code and its templates."""
    found = set()
    for method, pattern in (("python", "*.py"), ("jinja2", "templates/*.html")):
        for _file, _line, message, _comments, _context in extract_from_dir(
            str(folder), [(pattern, method)], {"jinja2": "jinja2.ext:babel_extract"} if method == "jinja2" else {},
            keywords={"_": None, "gettext": None, "N_": None},
        ):
            found.add(message if isinstance(message, str) else message[0])
    return found
