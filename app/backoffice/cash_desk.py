"""The cash desk (*Kasse*): finding bill cards, one card's whole story, and the desk's own actions.

Everything here is scoped to the clinics the reader may manage (``DeskScope``):
a card of another clinic is *not allowed*, one of another organisation is
*not found*. Changing shares and patient details goes through
``card_service.BillCards`` (the same rules as the REST API: an exported
card's patient share is locked, 409 ``patient_share_locked``). The desk adds:

- **invoice by hand** (``open``/``not_exported``/``manual_handling`` →
  ``invoice_generated``), with or without the admin fee (*Include fee*);
  made without *manual office* the desk warns first (``needs_warning``);
- the clinic's **manual office** switch (no automatic hourly export);
- the card's **card holds and no-show fees**, each a line of its own, as the
  settlement report shows them (rule R3).

The rules are docs/rules.md, rules B5, B6, M8 and M9.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app import audit
from app.backoffice.hold_lines import card_lines
from app.billing.card_views import card_view
from app.billing.statuses import EXPORTED, LABELS, SETTLED
from app.billing.transitions import transition
from app.clock import Clock
from app.db import Database
from app.errors import Conflict, Forbidden, NotFound
from app.models import BillCard, BillCardEvent, Book, Clinic, MediPayExport

PAGE_SIZE = 50
# Lists the desk opens with one click: *Invoice for manual handling* and *Not exported invoices*
# (docs/rules.md, rules M8 and M9).
LISTS = {"manual": "manual_handling", "not-exported": "not_exported"}
INVOICE_FROM = frozenset({"open", "not_exported", "manual_handling"})
# Cards *Send to payment* may take (the pipeline refuses the rest with a reason).
SENDABLE = frozenset({"under_work", "open", "not_exported", "invoice_generated"})


@dataclass(frozen=True)
class DeskScope:
    organisation_id: str
    clinic_ids: frozenset[str]


@dataclass(frozen=True)
class DeskQuery:
    text: str | None = None
    statuses: tuple[str, ...] = ()
    book_id: str | None = None
    clinic_id: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    page: int = 1


@dataclass(frozen=True)
class DeskRow:
    id: str
    created_at: datetime
    patient_name: str
    clinic_id: str
    book_id: str | None
    status: str
    label: str
    currency: str
    patient_share: int
    refund_share: int
    exported_at: datetime | None


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


class CashDesk:
    def __init__(self, db: Database, *, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def search(self, scope: DeskScope, q: DeskQuery) -> tuple[list[DeskRow], bool]:
        """One page of cards, newest first, and whether there are more."""
        clinic_ids = sorted(scope.clinic_ids if q.clinic_id is None else scope.clinic_ids & {q.clinic_id})
        query = select(BillCard).where(BillCard.organisation_id == scope.organisation_id,
                                       BillCard.clinic_id.in_(clinic_ids))
        if q.text:
            query = query.where(or_(BillCard.id == q.text, BillCard.patient_name.ilike(_like(q.text), escape="\\")))
        if q.statuses:
            query = query.where(BillCard.status.in_(q.statuses))
        if q.book_id:
            query = query.where(BillCard.book_id == q.book_id)
        if q.created_from is not None:
            query = query.where(BillCard.created_at >= q.created_from)
        if q.created_to is not None:
            query = query.where(BillCard.created_at < q.created_to)
        query = (query.order_by(BillCard.created_at.desc(), BillCard.id.desc())
                 .offset((q.page - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1))
        async with self.db.read() as s:
            cards = list((await s.scalars(query)).all())
        rows = [
            DeskRow(c.id, c.created_at, c.patient_name, c.clinic_id, c.book_id, c.status, LABELS[c.status],
                    c.currency, c.patient_share, c.refund_share, c.exported_at)
            for c in cards[:PAGE_SIZE]
        ]
        return rows, len(cards) > PAGE_SIZE

    async def books(self, organisation_id: str) -> list[Book]:
        async with self.db.read() as s:
            return list((await s.scalars(
                select(Book).where(Book.organisation_id == organisation_id).order_by(Book.description, Book.id)
            )).all())

    async def card(self, scope: DeskScope, card_id: str) -> dict[str, Any]:
        """The card as the REST API shows it, plus what the desk needs: MediPay's side, history, warnings."""
        async with self.db.read() as s:
            card = await _card(s, scope, card_id)
            view = await card_view(s, card)
            view["hold_lines"] = await card_lines(s, card)
            clinic = await s.get(Clinic, card.clinic_id)
            book = await s.get(Book, card.book_id) if card.book_id else None
            events = (await s.scalars(
                select(BillCardEvent).where(BillCardEvent.bill_card_id == card.id).order_by(BillCardEvent.id)
            )).all()
            export = await s.scalar(
                select(MediPayExport).where(MediPayExport.bill_card_id == card.id)
                .order_by(MediPayExport.created_at.desc()).limit(1)
            )
        view["medipay"] = {
            "state": card.medipay_state,
            "reason_code": card.medipay_reason_code,
            "message": card.medipay_message,
            "exported_at": card.exported_at,
            "exported_patient_share": card.exported_patient_share,
            "admin_fee_amount": card.medipay_admin_fee,
            "next_retry_at": card.next_retry_at,
            "export_status": export.status if export else None,
            "export_error": export.last_error if export else None,
        }
        view["exported"] = card.status in EXPORTED or card.exported_at is not None
        view["settled"] = card.status in SETTLED
        view["clinic"] = (
            {"id": clinic.id, "name": clinic.name, "manual_office": clinic.manual_office,
             "time_zone": clinic.time_zone} if clinic else None
        )
        view["book"] = {"id": book.id, "description": book.description} if book else None
        view["events"] = [{"from": e.status_from, "to": e.status_to, "reason": e.reason, "at": e.at} for e in events]
        view["can_invoice"] = card.status in INVOICE_FROM
        view["can_send"] = card.status in SENDABLE
        view["created"] = card.created_at
        return view

    async def invoice_by_hand(self, scope: DeskScope, card_id: str, *, include_fee: bool,
                              actor_id: str) -> dict[str, Any]:
        """Make the card's invoice at the desk (``invoice_generated``), with or without the admin fee."""
        async with self.db.write() as s:
            card = await _card(s, scope, card_id, lock=True)
            if card.status not in INVOICE_FROM:
                raise Conflict("invalid_transition", "This card cannot be invoiced by hand in its current status.")
            now = self.clock.now()
            card.admin_fee = include_fee
            await transition(s, card, "invoice_generated", "invoiced by hand at the cash desk"
                             + ("" if include_fee else " without the admin fee"), now)
            clinic = await s.get(Clinic, card.clinic_id)
            audit.record(s, organisation_id=card.organisation_id, clinic_id=card.clinic_id, actor_type="user",
                         actor_id=actor_id, action="bill_card.invoiced_by_hand", subject_type="bill_card",
                         subject_id=card.id, at=now,
                         details={"include_fee": include_fee,
                                  "manual_office": bool(clinic.manual_office) if clinic else None})
            return {"id": card.id, "status": card.status, "admin_fee": card.admin_fee}

    async def set_manual_office(self, organisation_id: str, clinic_id: str, on: bool, *, actor_id: str) -> bool:
        """Turn *manual office* on or off; True when it changed."""
        async with self.db.write() as s:
            clinic = await s.get(Clinic, clinic_id, with_for_update=True)
            if clinic is None or clinic.organisation_id != organisation_id:
                raise NotFound("clinic_not_found", "There is no such clinic.")
            if clinic.manual_office == on:
                return False
            clinic.manual_office = on
            audit.record(s, organisation_id=organisation_id, clinic_id=clinic.id, actor_type="user",
                         actor_id=actor_id, action="clinic.manual_office_" + ("on" if on else "off"),
                         subject_type="clinic", subject_id=clinic.id, at=self.clock.now(), details=None)
            return True


async def _card(s: AsyncSession, scope: DeskScope, card_id: str, *, lock: bool = False) -> BillCard:
    card = await s.get(BillCard, card_id, with_for_update=lock) if 0 < len(card_id) <= 40 else None
    if card is None or card.organisation_id != scope.organisation_id:
        raise NotFound("card_not_found", "There is no such bill card.")
    if card.clinic_id not in scope.clinic_ids:
        raise Forbidden("forbidden", "You do not have access to this page.")
    return card


def desk_scope(organisation_id: str, clinics: list[Clinic]) -> DeskScope:
    return DeskScope(organisation_id, frozenset(c.id for c in clinics))
