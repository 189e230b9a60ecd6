"""How domain services tell the people in a call what changed.

Services never import the Socket.IO server; they get a ``Notifier``. The
realtime layer supplies one that emits through python-socketio (in-process or
through Redis), the worker one on a write-only manager, and tests a recorder.
"""

from __future__ import annotations

from typing import Any, Protocol

from app.billing.gates import gate_of_request

NAMESPACE = "/consult"


def consult_room(consult_id: str) -> str:
    return f"consult:{consult_id}"


def clinician_room(consult_id: str) -> str:
    return f"consult:{consult_id}:clinician"


def patient_room(consult_id: str, patient_id: str) -> str:
    return f"consult:{consult_id}:patient:{patient_id}"


class Notifier(Protocol):
    async def emit(self, event: str, data: dict[str, Any], *, room: str) -> None: ...

    async def consult_ended(self, consult_id: str, data: dict[str, Any]) -> None: ...


class RecordingNotifier:
    """Keeps what would have been sent; for tests and for processes without sockets."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, dict[str, Any]]] = []

    async def emit(self, event: str, data: dict[str, Any], *, room: str) -> None:
        self.sent.append((room, event, data))

    async def consult_ended(self, consult_id: str, data: dict[str, Any]) -> None:
        self.sent.append((consult_room(consult_id), "consult:ended", data))


class NoNotifier:
    """For a process that holds no sockets and has no Redis to reach those that do (the CLI, alone)."""

    async def emit(self, event: str, data: dict[str, Any], *, room: str) -> None:
        return None

    async def consult_ended(self, consult_id: str, data: dict[str, Any]) -> None:
        return None


async def request_changed(notifier: Notifier, request: dict[str, Any], *, new: bool = False) -> None:
    """Tell the clinician and that one patient; a new request also pops up for the patient."""
    consult_id, patient_id = request["consult_id"], request["patient_id"]
    payload = {"request": request}
    if new:
        await notifier.emit("payment:requested", payload, room=patient_room(consult_id, patient_id))
    await notifier.emit("payment:updated", payload, room=clinician_room(consult_id))
    if not new:
        await notifier.emit("payment:updated", payload, room=patient_room(consult_id, patient_id))
    if request["status"] == "paid":
        await notifier.emit("payment:received", payload, room=clinician_room(consult_id))
    gate = gate_of_request(request)
    if gate is not None:
        # A waiting room's gate changed: the clinician (and the host listening with them) is told, so the
        # patient can be let in; the patient's own panel too.
        event = {"patient_id": patient_id, "gate": gate}
        await notifier.emit("patient:gate", event, room=clinician_room(consult_id))
        await notifier.emit("patient:gate", event, room=patient_room(consult_id, patient_id))
