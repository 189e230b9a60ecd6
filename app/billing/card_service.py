"""Bill cards made, read and corrected by a host or accounting system (REST).

Shares and lines stay consistent by one rule: a card's ``patient_share`` and
``refund_share`` are always the sums of its live (not voided) lines. So:

- ``lines`` in a change replaces the card's own lines (the old ones are voided,
  kept for the record); lines made by payment requests in a call stay;
- ``patient_share`` / ``refund_share`` in a change adds one ``ADJUST`` line
  carrying the difference (negative for a reduction), never rewriting a line;
- a share may not go below zero.

What may change depends on the status (docs/rules.md, rules B4 and S2): the patient share of an exported card
(``statuses.EXPORTED``) is locked (409 ``patient_share_locked``) while its
refund share may still change; a settled card's shares do not change at all
(409 ``card_settled``); the patient's identity (``national_id``) of an exported
card is what MediPay holds and cannot change (409 ``patient_locked``). Other
patient details may be corrected at any time, which is how a card in
*not exported* gets fixed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app import audit
from app import validation as v
from app.billing.books import book_for_card
from app.billing.card_input import CardQuery, encode_cursor, parse_lines, parse_patient, share
from app.billing.card_views import card_view
from app.billing.outbox import queue_hourly
from app.billing.statuses import EXPORTED, SETTLED
from app.clock import Clock
from app.db import Database
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.ids import new_id
from app.models import BillCard, BillCardEvent, BillCardLine, Clinic

CHANGE_FIELDS = ("patient_share", "refund_share", "lines", "patient")


# ---------------------------------------------------------------- the service


async def _being_sent(s: AsyncSession, card_id: str) -> bool:
    """A worker is handing the card to MediPay right now: its amount is on the wire."""
    from app.models import MediPayExport

    return await s.scalar(
        select(MediPayExport.id).where(MediPayExport.bill_card_id == card_id, MediPayExport.status == "sending")
    ) is not None


async def owned_card(s: AsyncSession, organisation_id: str, card_id: str, *, lock: bool = False) -> BillCard:
    card = await s.get(BillCard, card_id, with_for_update=lock) if len(card_id) <= 40 else None
    if card is None:
        raise NotFound("card_not_found", "No such bill card.")
    if card.organisation_id != organisation_id:
        raise Forbidden("forbidden", "That bill card belongs to another organisation.")
    return card


class BillCards:
    def __init__(self, db: Database, *, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def create(self, organisation_id: str, body: Any, *, actor_id: str | None = None) -> dict[str, Any]:
        data = v.obj(body)
        clinic_id = v.text(data, "clinic_id", max_len=100)
        book_id = v.text(data, "book_id", required=False, max_len=100)
        if "patient" not in data:
            raise Invalid("missing_field", "patient is required", field="patient")
        patient = parse_patient(data["patient"], partial=False)
        lines = parse_lines(data.get("lines"))
        admin_fee = data.get("admin_fee", True)
        if not isinstance(admin_fee, bool):
            raise Invalid("invalid_field", "admin_fee must be true or false", field="admin_fee")
        patient_share = sum(line["patient_amount"] for line in lines)
        refund_share = sum(line["refund_amount"] for line in lines)
        if patient_share > v.MAX_AMOUNT or refund_share > v.MAX_AMOUNT:
            raise Invalid("invalid_amount", "the card's total is too large", field="lines")

        async with self.db.write() as s:
            clinic = await s.get(Clinic, clinic_id) if clinic_id else None
            if clinic is None:
                raise NotFound("clinic_not_found", "No such clinic.")
            if clinic.organisation_id != organisation_id:
                raise Forbidden("forbidden", "That clinic belongs to another organisation.")
            if book_id is not None:
                await book_for_card(s, organisation_id, book_id)
            now = self.clock.now()
            card = BillCard(
                id=new_id("bc"),
                organisation_id=organisation_id,
                clinic_id=clinic.id,
                consult_id=None,
                book_id=book_id,
                patient_ref=patient.get("id"),
                patient_name=patient["name"],
                patient_email=patient.get("email"),
                national_id=patient.get("national_id"),
                mobile=patient.get("mobile"),
                address=patient.get("address"),
                status="open",
                currency=clinic.currency,
                patient_share=patient_share,
                refund_share=refund_share,
                admin_fee=admin_fee,
                created_at=now,
                updated_at=now,
            )
            s.add(card)
            await s.flush()
            for line in lines:
                s.add(BillCardLine(id=new_id("bcl"), bill_card_id=card.id, created_at=now, **line))
            s.add(BillCardEvent(bill_card_id=card.id, status_from=None, status_to="open", reason="created over the API",
                                at=now))
            # A card of a MediPay book joins the hourly transfer (not in manual office mode).
            await queue_hourly(s, card, now)
            self._audit(s, card, "bill_card.created", actor_id, now,
                        {"patient_share": patient_share, "refund_share": refund_share, "lines": len(lines),
                         "book_id": book_id, "admin_fee": admin_fee})
            await s.flush()
            return await card_view(s, card)

    async def get(self, organisation_id: str, card_id: str) -> dict[str, Any]:
        async with self.db.read() as s:
            return await card_view(s, await owned_card(s, organisation_id, card_id))

    async def list(self, organisation_id: str, q: CardQuery) -> dict[str, Any]:
        """The organisation's cards, newest first, one page of ``q.limit``."""
        query = select(BillCard).where(BillCard.organisation_id == organisation_id)
        if q.statuses:
            query = query.where(BillCard.status.in_(q.statuses))
        if q.book_id is not None:
            query = query.where(BillCard.book_id == q.book_id)
        if q.clinic_id is not None:
            query = query.where(BillCard.clinic_id == q.clinic_id)
        if q.created_from is not None:
            query = query.where(BillCard.created_at >= q.created_from)
        if q.created_to is not None:
            query = query.where(BillCard.created_at < q.created_to)
        async with self.db.read() as s:
            after = q.cursor
            if q.starting_after is not None:
                anchor = await s.get(BillCard, q.starting_after) if len(q.starting_after) <= 40 else None
                if anchor is None or anchor.organisation_id != organisation_id:
                    raise Invalid("invalid_cursor", "starting_after is not one of your cards", field="starting_after")
                after = (anchor.created_at, anchor.id)
            if after is not None:
                at, card_id = after
                query = query.where(
                    or_(BillCard.created_at < at, and_(BillCard.created_at == at, BillCard.id < card_id))
                )
            query = query.order_by(BillCard.created_at.desc(), BillCard.id.desc()).limit(q.limit + 1)
            cards = list((await s.scalars(query)).all())
            page, has_more = cards[: q.limit], len(cards) > q.limit
            data = [await card_view(s, card) for card in page]
        return {
            "data": data,
            "has_more": has_more,
            "next_cursor": encode_cursor(page[-1]) if has_more else None,
        }

    async def change(self, organisation_id: str, card_id: str, body: Any, *, actor_id: str | None = None) -> dict[
        str, Any
    ]:
        """Apply a PATCH: shares, lines and/or patient details (see the module's rules)."""
        data = v.obj(body)
        unknown = set(data) - set(CHANGE_FIELDS)
        if unknown:
            raise Invalid("invalid_field", f"cannot change: {', '.join(sorted(unknown))}", field=sorted(unknown)[0])
        if not any(key in data for key in CHANGE_FIELDS):
            raise Invalid("missing_field", "nothing to change: give patient_share, refund_share, lines or patient")
        if "lines" in data and ("patient_share" in data or "refund_share" in data):
            raise Invalid("invalid_field", "give new lines or new shares, not both", field="lines")
        lines = parse_lines(data["lines"]) if "lines" in data else None
        patient_share = share(data["patient_share"], "patient_share") if "patient_share" in data else None
        refund_share = share(data["refund_share"], "refund_share") if "refund_share" in data else None
        patient = parse_patient(data["patient"], partial=True) if "patient" in data else {}

        async with self.db.write() as s:
            card = await owned_card(s, organisation_id, card_id, lock=True)
            now = self.clock.now()
            changes: dict[str, Any] = {}
            live = list(
                (
                    await s.scalars(
                        select(BillCardLine).where(
                            BillCardLine.bill_card_id == card.id, BillCardLine.voided_at.is_(None)
                        )
                    )
                ).all()
            )
            new_patient, new_refund = card.patient_share, card.refund_share
            if lines is not None:
                kept = [line for line in live if line.payment_request_id is not None]
                new_patient = sum(x.patient_amount for x in kept) + sum(x["patient_amount"] for x in lines)
                new_refund = sum(x.refund_amount for x in kept) + sum(x["refund_amount"] for x in lines)
                if new_patient > v.MAX_AMOUNT or new_refund > v.MAX_AMOUNT:
                    raise Invalid("invalid_amount", "the card's total is too large", field="lines")
            if patient_share is not None:
                new_patient = patient_share
            if refund_share is not None:
                new_refund = refund_share
            shares_change = lines is not None or new_patient != card.patient_share or new_refund != card.refund_share
            if shares_change and card.status in SETTLED:
                raise Conflict("card_settled", "The card is paid: its shares cannot change.")
            if new_patient != card.patient_share and (card.status in EXPORTED or await _being_sent(s, card.id)):
                raise Conflict(
                    "patient_share_locked",
                    "The patient share was exported to MediPay and cannot change; the refund share can.",
                )
            if (
                "national_id" in patient
                and patient["national_id"] != card.national_id
                and card.status in EXPORTED
            ):
                raise Conflict("patient_locked", "The patient was exported to MediPay and cannot be changed.")

            if lines is not None:
                for line in live:
                    if line.payment_request_id is None:
                        line.voided_at = now
                for line in lines:
                    s.add(BillCardLine(id=new_id("bcl"), bill_card_id=card.id, created_at=now, **line))
                changes["lines"] = len(lines)
            elif new_patient != card.patient_share or new_refund != card.refund_share:
                s.add(
                    BillCardLine(
                        id=new_id("bcl"),
                        bill_card_id=card.id,
                        code="ADJUST",
                        description="Adjustment",
                        patient_amount=new_patient - card.patient_share,
                        refund_amount=new_refund - card.refund_share,
                        created_at=now,
                    )
                )
            if new_patient != card.patient_share:
                changes["patient_share"] = [card.patient_share, new_patient]
            if new_refund != card.refund_share:
                changes["refund_share"] = [card.refund_share, new_refund]
            card.patient_share, card.refund_share = new_patient, new_refund

            columns = {"id": "patient_ref", "name": "patient_name", "email": "patient_email",
                       "national_id": "national_id", "mobile": "mobile", "address": "address"}
            corrected = [key for key, value in patient.items() if getattr(card, columns[key]) != value]
            for key in corrected:
                setattr(card, columns[key], patient[key])
            if corrected:
                changes["patient"] = sorted(corrected)  # which fields, not the personal data itself

            if changes:
                card.updated_at = now
                self._audit(s, card, "bill_card.updated", actor_id, now, changes)
            await s.flush()
            return await card_view(s, card)

    @staticmethod
    def _audit(
        s: AsyncSession, card: BillCard, action: str, actor_id: str | None, at: datetime, details: dict[str, Any]
    ) -> None:
        audit.record(
            s,
            organisation_id=card.organisation_id,
            clinic_id=card.clinic_id,
            actor_type="api",
            actor_id=actor_id,
            action=action,
            subject_type="bill_card",
            subject_id=card.id,
            at=at,
            details=details,
        )
