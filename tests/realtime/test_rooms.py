"""Rooms indexed by socket: the same bookkeeping as python-socketio's own, without the scans."""

from __future__ import annotations

import asyncio
import random
import time
from types import SimpleNamespace
from typing import Any

import pytest
import socketio

from app.consults.notifier import NAMESPACE, clinician_room, consult_room, patient_room
from app.factory import SIO
from app.keys import CONSULTS
from app.realtime.rooms import IndexedManager, IndexedRooms
from tests.factories import Live
from tests.realtime.test_consult_namespace import refused


def _manager(cls: type[Any]) -> Any:
    ids = iter(range(10**6))
    manager = cls()
    manager.set_server(SimpleNamespace(eio=SimpleNamespace(generate_id=lambda: f"s{next(ids)}"),
                                       packet_class=socketio.packet.Packet))
    return manager


def _table(manager: Any) -> dict[Any, dict[Any, dict[Any, Any]]]:
    return {ns: {room: dict(members) for room, members in rooms.items()} for ns, rooms in manager.rooms.items()}


async def test_the_indexed_manager_keeps_the_same_rooms_as_python_socketio_through_any_sequence() -> None:
    plain, indexed = _manager(socketio.AsyncManager), _manager(IndexedManager)
    rng = random.Random(14)
    sids: list[tuple[str, str]] = []
    for step in range(3000):
        action = rng.choice(["connect", "connect", "enter", "enter", "leave", "close", "disconnect", "pre"])
        namespace = rng.choice(["/consult", "/other"])
        if action == "connect" or not sids:
            eio_sid = f"e{step}"
            sid = await plain.pre_connect(eio_sid, namespace)
            assert await indexed.pre_connect(eio_sid, namespace) == sid
            if rng.random() < 0.8:  # some never finish connecting before they go
                assert await plain.connect(sid, namespace) == await indexed.connect(sid, namespace)
            sids.append((namespace, sid))
            continue
        namespace, sid = rng.choice(sids)
        room = f"consult:{rng.randrange(20)}"
        if action == "enter" and plain.is_connected(sid, namespace):
            plain.basic_enter_room(sid, namespace, room)
            indexed.basic_enter_room(sid, namespace, room)
        elif action == "leave":
            plain.basic_leave_room(sid, namespace, room)
            indexed.basic_leave_room(sid, namespace, room)
        elif action == "close" and room in plain.rooms.get(namespace, {}):
            plain.basic_close_room(room, namespace)
            indexed.basic_close_room(room, namespace)
        elif action == "pre":
            assert plain.pre_disconnect(sid, namespace) == indexed.pre_disconnect(sid, namespace)
        elif action == "disconnect":
            plain.basic_disconnect(sid, namespace)
            indexed.basic_disconnect(sid, namespace)
            sids.remove((namespace, sid))
        assert sorted(plain.get_rooms(sid, namespace)) == sorted(indexed.get_rooms(sid, namespace))
        assert plain.is_connected(sid, namespace) == indexed.is_connected(sid, namespace)
        assert plain.is_pre_connected(sid, namespace) == indexed.is_pre_connected(sid, namespace)
    assert _table(plain) == _table(indexed)
    assert {ns: list(s) for ns, s in plain.pending_connect.items()} == \
        {ns: list(s) for ns, s in indexed.pending_connect.items()}
    for namespace, sid in list(sids):
        plain.basic_disconnect(sid, namespace)
        indexed.basic_disconnect(sid, namespace)
    # Every socket gone: nothing left behind, in the tables or the index.
    assert plain.rooms == indexed.rooms == {}
    assert indexed._rooms_of == {}  # noqa: SLF001 - the index itself
    assert not indexed.pending_connect and not indexed.pending_disconnect


async def test_sockets_of_a_call_keep_their_rooms_and_leave_nothing_behind(live: Live) -> None:
    manager = live.app[SIO].manager  # type: ignore[attr-defined]
    assert isinstance(manager, IndexedRooms)  # one process, or several through Redis
    consult, clinician, patient = await live.call_pair()
    cid = consult["id"]
    rooms = [sorted(r for r in manager.get_rooms(sid, NAMESPACE) if r != sid)
             for sid in manager.rooms[NAMESPACE][None]]
    assert sorted(rooms) == sorted([sorted([consult_room(cid), clinician_room(cid)]),
                                    sorted([consult_room(cid), patient_room(cid, consult["patients"][0]["id"])])])
    # The patient leaves and comes back; the clinician's request reaches the new socket.
    await patient.close()
    again = await live.peer(consult["patients"][0]["token"])
    await again.wait_for("consult:state")
    ack = await clinician.call("payment:request", {"amount": 500, "description": "After the reconnect"})
    assert ack["ok"] is True
    await again.wait_for("payment:requested", lambda d: d["request"]["description"] == "After the reconnect")
    await clinician.close()
    await again.close()
    for _ in range(200):
        if not manager.rooms:
            break
        await asyncio.sleep(0.01)
    assert manager.rooms == {} and manager._rooms_of == {}  # noqa: SLF001


async def test_a_connect_that_fails_unexpectedly_is_refused_and_leaves_its_rooms(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    consult = await live.consult()
    service = live.app[CONSULTS]

    async def database_gone(claims: Any) -> Any:
        raise RuntimeError("no connection to be had")

    monkeypatch.setattr(service, "join", database_gone)
    # Refused at once, not left waiting for the client's 5 s to pass; and nothing of it stays in the rooms.
    started = time.monotonic()
    assert await refused(live, {"token": consult["clinician"]["token"], "lang": "en"})
    assert time.monotonic() - started < 2.5
    manager = live.app[SIO].manager  # type: ignore[attr-defined]
    for _ in range(200):
        if not manager.rooms:
            break
        await asyncio.sleep(0.01)
    assert manager.rooms == {} and manager._rooms_of == {}  # noqa: SLF001
    monkeypatch.undo()
    # Once the reads work again, the same person connects.
    peer = await live.peer(consult["clinician"]["token"])
    await peer.wait_for("consult:state")
