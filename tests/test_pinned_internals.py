"""Two places lean on a library's undocumented names; these tests fail loudly when they move.

- ``app.db.InlineSqlite`` runs aiosqlite's calls in the event loop's thread by
  overriding its private ``_tx``, ``_connect`` and ``_execute`` (the speed of
  the SQLite path rests on it; docs/performance.md, P1 and P3). aiosqlite has
  no supported way to do this.
- ``app.realtime.server.close_manager`` stops a Redis manager's listener task
  and closes its connections through the attributes ``thread``, ``pubsub`` and
  ``redis``; python-socketio has no public close for a client manager. (Its
  ``Server`` also overrides the private ``_handle_event`` to mark client events.)

Both libraries are therefore pinned below their next release in pyproject.toml;
before raising a bound, run these tests on the new release.
"""

from __future__ import annotations

import asyncio
import inspect
import re
import threading
import tomllib
from importlib.metadata import version
from pathlib import Path

import aiosqlite
import pytest
import socketio
import socketio.base_manager
from packaging.requirements import Requirement
from sqlalchemy import text

from app.db import InlineSqlite, make_engine
from app.realtime.server import close_manager, make_server, write_only_manager
from tests.conftest import REDIS_URL, redis_answers

ROOT = Path(__file__).resolve().parent.parent


def _requirement(name: str) -> Requirement:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    found = [Requirement(d) for d in project["dependencies"] if Requirement(d).name == name]
    assert len(found) == 1, f"{name} is not declared once in pyproject.toml"
    return found[0]


@pytest.mark.parametrize("name", ["aiosqlite", "python-socketio"])
def test_a_library_whose_internals_we_use_is_pinned_to_the_tested_range(name: str) -> None:
    specifier = _requirement(name).specifier
    assert any(spec.operator == "<" for spec in specifier), f"{name} has no upper bound in pyproject.toml"
    assert specifier.contains(version(name)), f"{name} {version(name)} is outside {specifier}"


def test_aiosqlite_still_has_the_private_names_inline_sqlite_overrides() -> None:
    base = aiosqlite.Connection(lambda: None, 64)  # type: ignore[arg-type,return-value]
    for attribute in ("_tx", "_running", "_connection", "_connector"):
        assert hasattr(base, attribute), f"aiosqlite.Connection has no {attribute} any more"
    for method in ("_connect", "_execute", "close"):
        assert inspect.iscoroutinefunction(getattr(aiosqlite.Connection, method)), method
    assert callable(aiosqlite.Connection.stop)
    assert list(inspect.signature(aiosqlite.Connection._execute).parameters) == ["self", "fn", "args", "kwargs"]


async def test_sqlite_statements_run_in_the_event_loops_thread(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'inline.db'}")
    try:
        async with engine.connect() as conn:
            raw = await conn.get_raw_connection()
            driver = raw.driver_connection
            assert isinstance(driver, InlineSqlite)
            await driver.create_function("thread_id", 0, threading.get_ident)
            ran_in = (await conn.execute(text("SELECT thread_id()"))).scalar_one()
        # Had a statement gone to aiosqlite's helper thread, it would say another id.
        assert ran_in == threading.get_ident()
    finally:
        await engine.dispose()


async def _subscribers(channel: str) -> int:
    from redis import asyncio as aioredis

    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        [(_name, count)] = await client.pubsub_numsub(channel)
        return int(count)
    finally:
        await client.aclose()


def test_python_socketio_still_dispatches_client_events_through_handle_event() -> None:
    # app.realtime.server.Server marks client events by overriding this private method.
    parameters = list(inspect.signature(socketio.AsyncServer._handle_event).parameters)
    assert parameters == ["self", "eio_sid", "namespace", "id", "data"]
    assert inspect.iscoroutinefunction(socketio.AsyncServer._handle_event)


@pytest.mark.redis
async def test_close_manager_stops_the_listener_and_leaves_the_channel() -> None:
    if not await redis_answers(REDIS_URL):
        pytest.skip("Redis does not answer")
    channel = "consultpay-close-test"
    server = make_server(redis_url=REDIS_URL, channel=channel)
    manager = server.manager
    assert isinstance(manager, socketio.AsyncRedisManager)
    manager.initialize()  # what the server does on its first connection
    for _ in range(200):
        if await _subscribers(channel) == 1:
            break
        await asyncio.sleep(0.01)
    assert await _subscribers(channel) == 1
    listener = manager.thread
    assert isinstance(listener, asyncio.Task) and manager.redis is not None and manager.pubsub is not None

    await close_manager(manager)

    assert listener.done()
    for _ in range(200):
        if await _subscribers(channel) == 0:
            break
        await asyncio.sleep(0.01)
    assert await _subscribers(channel) == 0


@pytest.mark.redis
async def test_close_manager_closes_a_write_only_managers_connection() -> None:
    if not await redis_answers(REDIS_URL):
        pytest.skip("Redis does not answer")
    manager = write_only_manager(REDIS_URL, "consultpay-close-test")
    await manager.emit("ping", {}, room="nobody", namespace="/consult")
    own_id = await manager.redis.client_id()  # the connection the emit used, back in the pool
    assert own_id in await _client_ids()

    await close_manager(manager)

    assert own_id not in await _client_ids()


async def _client_ids() -> set[int]:
    from redis import asyncio as aioredis

    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        return {int(c["id"]) for c in await client.client_list()}
    finally:
        await client.aclose()


def test_python_socketio_still_keeps_rooms_as_app_realtime_rooms_indexes_them() -> None:
    # app/realtime/rooms.py overrides these methods and replaces the pending lists.
    manager = socketio.AsyncManager()
    assert {"rooms", "callbacks", "pending_connect", "pending_disconnect"} <= set(vars(manager))
    assert manager.pending_connect == {} and manager.pending_disconnect == {}
    for name, parameters in {"basic_enter_room": ["self", "sid", "namespace", "room", "eio_sid"],
                             "basic_leave_room": ["self", "sid", "namespace", "room"],
                             "basic_disconnect": ["self", "sid", "namespace", "kwargs"],
                             "get_rooms": ["self", "sid", "namespace"]}.items():
        assert list(inspect.signature(getattr(socketio.AsyncManager, name)).parameters) == parameters, name
    # The pending lists are only appended to, searched, emptied one by one and counted.
    source = inspect.getsource(socketio.base_manager.BaseManager)
    uses = set(re.findall(r"self\.pending_(?:dis)?connect\[namespace\]\.(\w+)", source))
    assert uses == {"append", "remove"}, uses
