"""No-shows: a patient with a no-show fee who never joined a consult that is over.

Decided once per patient, under the ``consult_patients`` row lock: ``no_show_at``
is set in the same transaction that decides, so the fee is never charged twice,
and never for a patient who joined (``joined_at``: in the call, not in the waiting
room; ``app/consults/presence.py`` sets it under the same lock).
Then, in this order (docs/rules.md, rule H4):

1. an authorised card hold: ``min(fee, hold)`` is captured as "No-show fee" (the
   rest is released by Stripe with the partial capture), with its receipt;
2. else a saved card on file: the fee is charged to it off-session as "No-show
   fee", with its receipt (declined: owed on the bill card, as any unpaid amount);
3. else, where the clinic's organisation collects through a MediPay book: a
   "No-show fee" line on the patient's bill card, which the hourly transfer sends;
4. else nothing is collected, and the no-show is recorded as ``none``.

It runs when the host ends the consult, and from the ``no-shows`` job for
consults that ran out (expired) without being ended; first, an unpaid
``before_join`` gate of the consult is cancelled (``app/billing/gate_end.py``).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select

from app import audit
from app.billing import cards
from app.billing.books import medipay_book_for
from app.billing.gate_end import UNPAID_GATE, cancel_unpaid_gates
from app.billing.no_show_view import NO_SHOW_DESCRIPTION, NO_SHOW_LINE
from app.billing.outbox import queue_hourly
from app.billing.serialisers import request_view
from app.billing.statuses import EXPORTED, RequestStatus
from app.clock import Clock
from app.consults.notifier import Notifier, clinician_room, patient_room, request_changed
from app.db import Database
from app.errors import DomainError
from app.ids import new_id
from app.models import BillCardLine, Clinic, Consult, ConsultPatient, PaymentRequest
from app.payments import holds
from app.payments.requests import PaymentService

log = logging.getLogger(__name__)


class NoShows:
    def __init__(self, db: Database, *, payments: PaymentService, notifier: Notifier, clock: Clock) -> None:
        self.db = db
        self.payments = payments
        self.notifier = notifier
        self.clock = clock

    async def after_end(self, consult_id: str) -> int:
        """The consult ended: its unpaid gates cancelled, then each of its patients' no-show decided (once)."""
        closed = await self.close_gates(consult_id)
        # A gate whose payment page is still open: closed at Stripe first, so the card is not sent
        # on with the gate's amount on it along with the fee.
        closed += await self.payments.end_open_gates(consult_id)
        async with self.db.read() as s:
            patients = list(await s.scalars(select(ConsultPatient.patient_id).where(*_candidates(consult_id))))
        done = 0
        for patient_id in patients:
            try:
                done += await self.decide(consult_id, patient_id)
            except Exception:
                log.exception("no-show of %s in %s could not be decided", patient_id, consult_id)
        return closed + done

    async def due(self) -> int:
        """The ``no-shows`` job: consults over (ended, or run out) with a patient's no-show undecided."""
        now = self.clock.now()
        async with self.db.read() as s:
            consults = list(await s.scalars(
                select(ConsultPatient.consult_id).distinct()
                .join(Consult, Consult.id == ConsultPatient.consult_id)
                .where(ConsultPatient.no_show_fee.is_not(None), ConsultPatient.joined_at.is_(None),
                       ConsultPatient.no_show_at.is_(None),
                       or_(Consult.status == "ended", Consult.expires_at <= now))
                .limit(200)
            ))
            # Consults that ran out with a gate unpaid (the host's end cancels them at once).
            consults += [c for c in await s.scalars(
                select(PaymentRequest.consult_id).distinct()
                .join(Consult, Consult.id == PaymentRequest.consult_id)
                .where(*UNPAID_GATE, or_(Consult.status == "ended", Consult.expires_at <= now))
                .limit(200)
            ) if c not in consults]
        return sum([await self.after_end(consult_id) for consult_id in consults])

    async def close_gates(self, consult_id: str) -> int:
        """A consult over with a ``before_join`` gate unpaid: not owed, cancelled (rule H5); how many."""
        now = self.clock.now()
        async with self.db.write() as s:
            consult = await s.get(Consult, consult_id, with_for_update=True)
            if consult is None or not (consult.status == "ended" or consult.expires_at <= now):
                return 0
            closed = await cancel_unpaid_gates(s, consult_id, now)
            views = [request_view(r) for r in closed]
        for view in views:
            await request_changed(self.notifier, view)
        return len(views)

    async def decide(self, consult_id: str, patient_id: str) -> int:
        """One patient's no-show: 1 if decided now, 0 if not a no-show or already decided."""
        now = self.clock.now()
        capture: tuple[str, int] | None = None
        charge: tuple[str, int] | None = None
        async with self.db.write() as s:
            patient = await s.scalar(select(ConsultPatient).where(
                ConsultPatient.consult_id == consult_id, ConsultPatient.patient_id == patient_id).with_for_update())
            consult = await s.get(Consult, consult_id)
            over = consult is not None and (consult.status == "ended" or consult.expires_at <= now)
            if (patient is None or consult is None or not over or not patient.no_show_fee
                    or patient.joined_at is not None or patient.no_show_at is not None):
                return 0
            patient.no_show_at = now
            fee = patient.no_show_fee
            hold = await _authorised_hold(s, patient)
            if hold is not None:
                assert hold.hold_amount is not None
                capture = (hold.id, min(fee, hold.hold_amount))
                # Stored with the decision, in one transaction: whoever reads the decision reads the
                # capture too, and a process dying before Stripe is called leaves it to watch-holds.
                if not await self.payments.store_capture(s, hold.id, capture[1], NO_SHOW_DESCRIPTION):
                    capture = None
                how = "hold"
            elif (saved := await _saved_card(s, patient)) is not None:
                charge = (saved.id, fee)
                how = "card_on_file"
            elif await _on_bill_card(s, consult, patient, fee, now):
                how = "bill_card"
            else:
                how = "none"
            audit.record(s, organisation_id=consult.organisation_id, clinic_id=consult.clinic_id,
                         actor_type="system", actor_id=None, action="consult.no_show",
                         subject_type="consult", subject_id=consult_id, at=now,
                         details={"patient_id": patient_id, "fee": fee, "currency": consult.currency, "how": how,
                                  "request_id": (capture or charge or (None,))[0]})
        log.info("no-show of %s in %s: %s", patient_id, consult_id, how)
        if charge is not None:
            try:
                await self.payments.charge_saved(charge[0], charge[1], NO_SHOW_DESCRIPTION, None)
            except DomainError as e:
                # Declined: owed on the bill card; unreachable: the watch-holds job sends the same charge.
                log.warning("no-show fee of %s in %s not charged: %s", patient_id, consult_id, e.code)
        if capture is not None:
            try:
                await self.payments.send_capture(capture[0])
            except DomainError as e:
                # Stored before Stripe was called: the watch-holds job sends the same capture again.
                log.warning("no-show fee of %s in %s not captured yet: %s", patient_id, consult_id, e.code)
        payload = {"patient_id": patient_id, "no_show": {"fee": fee, "how": how, "at": now.isoformat()}}
        await self.notifier.emit("patient:no_show", payload, room=clinician_room(consult_id))
        await self.notifier.emit("patient:no_show", payload, room=patient_room(consult_id, patient_id))
        return 1


def _candidates(consult_id: str) -> tuple[Any, ...]:
    return (ConsultPatient.consult_id == consult_id, ConsultPatient.no_show_fee.is_not(None),
            ConsultPatient.joined_at.is_(None), ConsultPatient.no_show_at.is_(None))


async def _authorised_hold(s: Any, patient: ConsultPatient) -> PaymentRequest | None:
    """The patient's authorised card hold in this consult: their gate's, else any."""
    query = select(PaymentRequest).where(
        PaymentRequest.consult_id == patient.consult_id, PaymentRequest.patient_id == patient.patient_id,
        PaymentRequest.kind == holds.HOLD, PaymentRequest.status == RequestStatus.AUTHORISED)
    found = list(await s.scalars(query.order_by(PaymentRequest.created_at)))
    return next((r for r in found if r.id == patient.gate_request_id), found[0] if found else None)


async def _saved_card(s: Any, patient: ConsultPatient) -> PaymentRequest | None:
    """The patient's saved card on file in this consult, not yet charged (their gate)."""
    return await s.scalar(select(PaymentRequest).where(
        PaymentRequest.consult_id == patient.consult_id, PaymentRequest.patient_id == patient.patient_id,
        PaymentRequest.kind == "card_on_file", PaymentRequest.status == RequestStatus.CARD_SAVED,
        PaymentRequest.problem.is_(None)).order_by(PaymentRequest.created_at).limit(1))


async def _on_bill_card(s: Any, consult: Consult, patient: ConsultPatient, fee: int, now: datetime) -> bool:
    """The fee as a line on the patient's bill card, where a MediPay book collects it (rule L2)."""
    if await medipay_book_for(s, consult.organisation_id) is None:
        return False
    card = await cards.card_for_patient(s, consult, patient, now)
    if card.book_id is None or card.status in EXPORTED:
        return False
    await s.flush()
    s.add(BillCardLine(id=new_id("bcl"), bill_card_id=card.id, payment_request_id=None, code=NO_SHOW_LINE,
                       description=NO_SHOW_DESCRIPTION, patient_amount=fee, refund_amount=0, voided_at=None,
                       created_at=now))
    card.patient_share += fee
    card.updated_at = now
    clinic = await s.get(Clinic, consult.clinic_id)
    if card.status == "under_work" and clinic is not None and await queue_hourly(s, card, now) is not None:
        await cards.set_status(s, card, "open", "no-show fee: queued for MediPay", now)
    return True
