"""Asking several patients of a group consult at once: ``payment:request`` with ``patient_ids``.

One request per patient, each made by the one request path (``request_store.store``:
its card line, its audit entry, the same rules in the same order), all in one
write transaction: the patients are checked first (every id one of the
consult's), then the requests are stored in the consult's order of patients,
and a refusal for any of them rolls back every one, so nothing is written.

Each patient's request has its own idempotency key, ``{key}:{patient_id}``
(longer than a key may be, a digest of the two), so a double click or a retry
with the same key finds the same set; without a key each patient's request is
a double click of its own (``DOUBLE_CLICK``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from types import SimpleNamespace

from sqlalchemy import bindparam, select

from app.billing.serialisers import RequestView
from app.errors import Conflict, Invalid
from app.models import Consult, ConsultPatient
from app.payments.request_store import Ask, store
from app.ready import Driver, Ready

ALL = "all"
MAX_KEY = 100  # the column's length


@dataclass(frozen=True)
class RequestsMade:
    """What ``payment:request`` with ``patient_ids`` made (or found made): one request per patient, in order."""

    requests: tuple[RequestView, ...]


def patient_key(key: str | None, patient_id: str) -> str | None:
    """The idempotency key of one patient's request in a group request made with ``key``."""
    if key is None:
        return None
    joined = f"{key}:{patient_id}"
    if len(joined) <= MAX_KEY:
        return joined
    return "group:" + hashlib.sha256(f"{key}\n{patient_id}".encode()).hexdigest()


def store_group(conn: Driver, ask: Ask, patient_ids: Sequence[str] | str) -> list[tuple[SimpleNamespace, bool]]:
    """Each named patient's request (``"all"``: every patient of the consult), and whether each is new."""
    rows = _PATIENTS.rows(conn, {"consult_id": ask.consult_id})
    if not rows or rows[0]["status"] != "active" or rows[0]["expires_at"] <= ask.now:
        raise Conflict("consult_ended", "The consultation has ended.")
    known = [row["patient_id"] for row in rows if row["patient_id"] is not None]
    if patient_ids == ALL:
        chosen = known
    else:
        chosen = list(patient_ids)
        if any(patient_id not in known for patient_id in chosen):
            raise Invalid("unknown_patient", "Unknown patient.", field="patient_ids")
    if not chosen:
        raise Invalid("unknown_patient", "Unknown patient.", field="patient_ids")
    return [
        store(conn, replace(ask, patient_id=patient_id,
                            idempotency_key=patient_key(ask.idempotency_key, patient_id)))
        for patient_id in chosen
    ]


# The consult (still running?) and its patients in the order the host gave them.
_PATIENTS = Ready(
    select(Consult.status, Consult.expires_at, ConsultPatient.patient_id)
    .select_from(Consult)
    .outerjoin(ConsultPatient, ConsultPatient.consult_id == Consult.id)
    .where(Consult.id == bindparam("consult_id"))
    .order_by(ConsultPatient.position, ConsultPatient.patient_id)
)
