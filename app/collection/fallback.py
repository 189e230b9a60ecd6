"""From the call to MediPay: what the patient did not pay in the call goes on as an SMS/invoice.

The clinician sends a patient's bill card on from the panel (``bill_card:send``).
The patient data MediPay needs is checked first, so a card that cannot go is
refused with the reason and nothing changes; a card that can goes through the
same *Send to payment* as the cash desk's. The card's MediPay state then
reaches the panel live as ``bill_card:updated``.

With a ``request_id`` of a request that ended unpaid (cancelled, expired,
declined), its amount goes back on the card as a new line (the voided one
stays, for the record) before the card is sent: what the patient did not pay
in the call is what MediPay collects. Sending the same request twice adds it
once.
"""

from __future__ import annotations

from sqlalchemy import select

from app.billing.card_views import CardSent, CardSummary
from app.collection.export import MediPayExporter
from app.collection.export_checks import check
from app.commands import SendBillCard
from app.consults.participant import Participant, patient_in, require_role
from app.db import Database
from app.errors import Invalid, NotFound
from app.models import BillCard, PaymentRequest


class MediPayFallback:
    def __init__(self, db: Database, exporter: MediPayExporter) -> None:
        self.db = db
        self.exporter = exporter

    async def send(self, who: Participant, cmd: SendBillCard) -> CardSent:
        require_role(who, "clinician")
        request_id = cmd.request_id
        if request_id is not None and (not isinstance(request_id, str) or len(request_id) > 100):
            raise Invalid("invalid_field", "request_id must be a request id.", field="request_id")
        async with self.db.read() as s:
            request = None
            patient_id = cmd.patient_id
            if request_id is not None:
                request = await s.scalar(
                    select(PaymentRequest).where(
                        PaymentRequest.id == request_id, PaymentRequest.consult_id == who.consult.id
                    )
                )
                if request is None:
                    raise NotFound("request_not_found", "Unknown payment request.")
                patient_id = request.patient_id
            patient = await patient_in(s, who.consult.id, patient_id)
            card = await s.scalar(
                select(BillCard).where(
                    BillCard.consult_id == who.consult.id, BillCard.patient_ref == patient.patient_id
                )
            )
            if card is None:
                raise NotFound("card_not_found", "Nothing has been requested from this patient in the call.")
            failure = check(card)
            if failure is not None:
                raise Invalid(failure.reason_code, failure.message)
            card_id = card.id
        # Send to payment puts an ended request's amount back and refuses, in one transaction.
        await self.exporter.send_to_payment(
            who.consult.organisation_id, card_id, actor_type="clinician", actor_id=who.id, reinstate=request_id
        )
        async with self.db.read() as s:
            card = await s.get(BillCard, card_id)
            assert card is not None
            return CardSent(card=CardSummary.from_row(card))

    async def cards(self, consult_id: str, patient_id: str | None = None) -> list[CardSummary]:
        """The consult's cards as the panel sees them (for ``consult:state``)."""
        async with self.db.read() as s:
            query = select(BillCard).where(BillCard.consult_id == consult_id).order_by(BillCard.created_at)
            if patient_id is not None:
                query = query.where(BillCard.patient_ref == patient_id)
            return [CardSummary.from_row(c) for c in await s.scalars(query)]

