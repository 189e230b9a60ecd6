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

from typing import Any

from sqlalchemy import select

from app.consults.participant import Participant
from app.consults.payments import _patient, _require
from app.db import Database
from app.errors import BadInput, Conflict, Invalid, NotFound
from app.ledger import cards
from app.ledger.export_checks import check
from app.ledger.medipay_books import credentials_for_book
from app.ledger.medipay_claims import card_summary
from app.ledger.medipay_export import MediPayExporter
from app.models import BillCard, BillCardLine, PaymentRequest

ENDED_UNPAID = ("cancelled", "expired", "failed")
# Cards MediPay has not been given yet: an ended request may still go back on them.
NOT_YET_SENT = ("under_work", "paid", "open", "not_exported")


class MediPayFallback:
    def __init__(self, db: Database, exporter: MediPayExporter) -> None:
        self.db = db
        self.exporter = exporter

    async def send(self, who: Participant, data: Any) -> dict[str, Any]:
        _require(who, "clinician")
        if data is not None and not isinstance(data, dict):
            raise BadInput("bad_request", "The payload must be an object.")
        body = data or {}
        request_id = body.get("request_id")
        if request_id is not None and (not isinstance(request_id, str) or len(request_id) > 100):
            raise Invalid("invalid_field", "request_id must be a request id.", field="request_id")
        now = self.exporter.clock.now()
        async with self.db.write() as s:
            request = None
            patient_id = body.get("patient_id")
            if request_id is not None:
                request = await s.scalar(
                    select(PaymentRequest)
                    .where(PaymentRequest.id == request_id, PaymentRequest.consult_id == who.consult.id)
                    .with_for_update()
                )
                if request is None:
                    raise NotFound("request_not_found", "Unknown payment request.")
                patient_id = request.patient_id
            patient = await _patient(s, who.consult.id, patient_id)
            card = await s.scalar(
                select(BillCard)
                .where(BillCard.consult_id == who.consult.id, BillCard.patient_ref == patient.patient_id)
                .with_for_update()
            )
            if card is None:
                raise NotFound("card_not_found", "Nothing has been requested from this patient in the call.")
            failure = check(card)
            if failure is not None:
                raise Invalid(failure.reason_code, failure.message)
            if request is not None and request.status in ENDED_UNPAID and not await _has_live_line(s, request):
                # Refuse here whatever Send to payment would refuse, so the line is not added for nothing.
                if card.status not in NOT_YET_SENT:
                    raise Conflict("already_exported", "The card has already been sent to MediPay.",
                                   status=card.status)
                if await credentials_for_book(s, card.book_id, self.exporter.box) is None:
                    raise Conflict("book_not_medipay",
                                   "The card's book does not export to MediPay, or its MediPay account is "
                                   "not verified.")
                if await _checkout_open(s, card.id):
                    raise Conflict("checkout_open", "The patient has the payment page open; wait for it to finish.")
                await cards.add_request_line(s, card, request.id, request.description, request.amount, now)
            card_id = card.id
        await self.exporter.send_to_payment(
            who.consult.organisation_id, card_id, actor_type="clinician", actor_id=who.id
        )
        async with self.db.read() as s:
            card = await s.get(BillCard, card_id)
            assert card is not None
            return {"card": card_summary(card)}

    async def cards(self, consult_id: str, patient_id: str | None = None) -> list[dict[str, Any]]:
        """The consult's cards as the panel sees them (for ``consult:state``)."""
        async with self.db.read() as s:
            query = select(BillCard).where(BillCard.consult_id == consult_id).order_by(BillCard.created_at)
            if patient_id is not None:
                query = query.where(BillCard.patient_ref == patient_id)
            return [card_summary(c) for c in await s.scalars(query)]


async def _has_live_line(s: Any, request: PaymentRequest) -> bool:
    line = await s.scalar(
        select(BillCardLine.id).where(
            BillCardLine.payment_request_id == request.id, BillCardLine.voided_at.is_(None)
        )
    )
    return line is not None


async def _checkout_open(s: Any, card_id: str) -> bool:
    found = await s.scalar(
        select(PaymentRequest.id).where(
            PaymentRequest.bill_card_id == card_id, PaymentRequest.status == "checkout_open"
        )
    )
    return found is not None
