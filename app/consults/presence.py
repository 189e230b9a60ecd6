"""When a patient has joined the call: in it, not waiting at its door (docs/rules.md, rule H4).

A patient whose gate is closed (``before_join`` unpaid, ``hold`` not authorised)
sits in the waiting room with their panel connected; that is not joining. They
join when their panel is connected while their gate is open (or they have no
gate), when the host's server says it has let them in, or when their gate opens
while they are connected (their panel then says it is present). ``joined_at``
is set once, under the patient's row lock, and only while the consult runs and
before any no-show was decided (``app/payments/no_shows.py`` decides under the
same lock), so a patient is either joined or a no-show, never both.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from app.billing.gates import gate_is_open
from app.billing.serialisers import iso
from app.consults.notifier import Notifier, clinician_room
from app.db import Database
from app.errors import Conflict, NotFound
from app.models import Consult, ConsultPatient, PaymentRequest


async def mark_joined(db: Database, notifier: Notifier, consult_id: str, patient_id: str,
                      now: datetime) -> ConsultPatient:
    """Record that the patient joined (once), if the consult runs and their gate is open.

    Raises ``NotFound`` (``patient_not_found``), ``Conflict`` ``consult_ended`` or ``gate_closed``.
    The clinician hears ``patient:joined`` the one time it is recorded.
    """
    newly = False
    async with db.write() as s:
        patient = await s.scalar(select(ConsultPatient).where(
            ConsultPatient.consult_id == consult_id, ConsultPatient.patient_id == patient_id).with_for_update())
        if patient is None:
            raise NotFound("patient_not_found", "No such patient in this consult.")
        # Read after the lock: a consult ended meanwhile is seen ended, and its no-shows wait for us.
        consult = await s.get(Consult, consult_id)
        if (consult is None or consult.status != "active" or consult.expires_at <= now
                or patient.no_show_at is not None):
            raise Conflict("consult_ended", "The consultation has ended.")
        if patient.joined_at is None:
            gate = await s.get(PaymentRequest, patient.gate_request_id) if patient.gate_request_id else None
            if not gate_is_open(patient, {gate.id: gate} if gate is not None else {}):
                raise Conflict("gate_closed", "The patient has not yet paid or authorised their card for the call.")
            patient.joined_at = now
            newly = True
    if newly:
        await notifier.emit("patient:joined", joined_event(patient), room=clinician_room(consult_id))
    return patient


def joined_event(patient: Any) -> dict[str, Any]:
    """``patient:joined``: who, and when."""
    return {"patient_id": patient.patient_id, "joined_at": iso(patient.joined_at)}
