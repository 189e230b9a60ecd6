"""From the call to MediPay: what the patient did not pay in the call goes on as an SMS/invoice.

The clinician first sees exactly what the patient will be asked
(``bill_card:preview``): the amount with MediPay's admin fee, that it goes by
SMS, to which mobile number, the description and the language. Nothing is
sent until the clinician confirms (``bill_card:send`` with that
``expect_total``); should the total have changed meanwhile the send is refused
and nothing changes. The patient data MediPay needs is checked first, so a
card that cannot go is refused with the reason and nothing changes; a card
that can goes through the same *Send to payment* as the cash desk's. The
card's MediPay state then reaches the panel live as ``bill_card:updated``.

With a ``request_id`` of a request that ended unpaid (cancelled, expired,
declined), its amount goes back on the card as a new line (the voided one
stays, for the record) before the card is sent: what the patient did not pay
in the call is what MediPay collects. Sending the same request twice adds it
once.
"""

from __future__ import annotations

from sqlalchemy import select

from app.billing.card_views import CardPreview, CardPreviewed, CardSent, CardSummary
from app.billing.cards import paid_total
from app.billing.outbox import QUEUEABLE
from app.billing.statuses import REQUEST_ENDED_UNPAID, SETTLED, RequestStatus
from app.collection.book_credentials import credentials_for_book
from app.collection.claims import claim_texts
from app.collection.export import MediPayExporter
from app.collection.export_checks import check
from app.commands import PreviewBillCard, SendBillCard
from app.consults.participant import Participant, patient_in, require_role
from app.db import Database
from app.errors import Conflict, Invalid, NotFound, Unavailable
from app.models import BillCard, BillCardLine, PaymentRequest
from integrations.medipay.protocol import ProviderError


class MediPayFallback:
    def __init__(self, db: Database, exporter: MediPayExporter) -> None:
        self.db = db
        self.exporter = exporter

    async def preview(self, who: Participant, cmd: PreviewBillCard) -> CardPreviewed:
        """What the patient would be asked if the card were sent now; changes nothing."""
        require_role(who, "clinician")
        card, request = await self._card(who, cmd.request_id, cmd.patient_id)
        async with self.db.read() as s:
            if card.status in SETTLED:
                raise Conflict("card_settled", "The card is paid: there is nothing to send.")
            if card.status not in QUEUEABLE | {"under_work"}:
                raise Conflict("already_exported", "The card has already been sent to MediPay.", status=card.status)
            creds = await credentials_for_book(s, card.book_id, self.exporter.box)
            if creds is None:
                raise Conflict("book_not_medipay",
                               "The card's book does not export to MediPay, or its MediPay account is not verified.")
            due = card.patient_share - await paid_total(s, card.id)
            description, language = (await claim_texts(s, [card]))[card.id]
            if request is not None and request.status in REQUEST_ENDED_UNPAID and await s.scalar(
                select(BillCardLine.id).where(BillCardLine.payment_request_id == request.id,
                                              BillCardLine.voided_at.is_(None))) is None:
                due += request.amount  # sending puts it back on the card
                description = request.description if due == request.amount else f"{description}, {request.description}"
            if card.status == "under_work" and await s.scalar(select(PaymentRequest.id).where(
                    PaymentRequest.bill_card_id == card.id, PaymentRequest.status == RequestStatus.CHECKOUT_OPEN)):
                raise Conflict("checkout_open", "The patient has the payment page open; wait for it to finish.")
        if due <= 0:
            raise Conflict("nothing_to_collect", "The card has no unpaid patient share to send.")
        try:
            account = await self.exporter.gateway.verify_account(creds)
        except ProviderError as e:
            raise Unavailable("medipay_unavailable", "MediPay could not be reached. Please try again.") from e
        fee = account.admin_fee_amount if card.admin_fee else 0
        return CardPreviewed(preview=CardPreview(
            card_id=card.id, patient_id=card.patient_ref, amount=due, admin_fee=fee,
            total=due + fee, currency=card.currency, channel="sms", mobile=card.mobile,
            description=description[:200], language=language or "nb",
        ))

    async def send(self, who: Participant, cmd: SendBillCard) -> CardSent:
        require_role(who, "clinician")
        if cmd.expect_total is not None:
            # Sent only as the clinician saw it: the amount, the fee and the number unchanged.
            seen = PreviewBillCard(request_id=cmd.request_id, patient_id=cmd.patient_id)
            preview = (await self.preview(who, seen)).preview
            if preview.total != cmd.expect_total:
                raise Conflict("preview_changed",
                               "What the patient would be asked has changed. Check it again before sending.")
        card, _ = await self._card(who, cmd.request_id, cmd.patient_id)
        request_id = cmd.request_id
        # Send to payment puts an ended request's amount back and refuses, in one transaction.
        await self.exporter.send_to_payment(
            who.consult.organisation_id, card.id, actor_type="clinician", actor_id=who.id, reinstate=request_id
        )
        async with self.db.read() as s:
            sent = await s.get(BillCard, card.id)
            assert sent is not None
            return CardSent(card=CardSummary.from_row(sent))

    async def _card(
        self, who: Participant, request_id: str | None, patient_id: str | None
    ) -> tuple[BillCard, PaymentRequest | None]:
        """The patient's card in this call (and the request named), checked for what MediPay needs."""
        if request_id is not None and (not isinstance(request_id, str) or len(request_id) > 100):
            raise Invalid("invalid_field", "request_id must be a request id.", field="request_id")
        async with self.db.read() as s:
            request = None
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
            return card, request

    async def cards(self, consult_id: str, patient_id: str | None = None) -> list[CardSummary]:
        """The consult's cards as the panel sees them (for ``consult:state``)."""
        async with self.db.read() as s:
            query = select(BillCard).where(BillCard.consult_id == consult_id).order_by(BillCard.created_at)
            if patient_id is not None:
                query = query.where(BillCard.patient_ref == patient_id)
            return [CardSummary.from_row(c) for c in await s.scalars(query)]
