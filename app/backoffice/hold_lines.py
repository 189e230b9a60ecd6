"""Card holds and no-show fees as lines of their own in the settlement report (docs/rules.md, rule R3).

Nothing is booked apart for them: each line is read from the rows that already
say what happened.

- ``hold_captured``: a hold's request settled (``paid``, or refunded since):
  ``captured`` is its ``amount``, ``authorised`` its ``hold_amount``, and
  ``released`` the rest, which Stripe let go with the capture; at ``paid_at``.
- ``hold_released`` / ``hold_expired``: a hold cancelled, by us or lapsed at
  Stripe. It moved no money: ``captured`` 0, ``released`` the whole hold; at
  ``updated_at`` (the request does not change after it ends).
- ``no_show_fee``: a patient's decided no-show (``consult_patients.no_show_at``),
  ``collected_by`` as the consult's view says it (``no_show_outcome``):
  ``hold`` (captured from their hold; that capture is this line, never a second
  one), ``bill_card`` (a line on their MediPay bill card) or ``none``.

``amount`` is what the line adds to the takings: a capture, or a fee put on
the bill card; 0 for the rest. An authorisation or a release is never revenue
(rule H1), so released money is in no total but ``released``; a capture is
already in the report's ``paid`` (it is a Stripe payment), a fee on the bill
card in its ``patient_share``.

The report's filters apply to a line's bill card (the hold's card, or the
patient's card in that consult). A no-show with no card passes only where a
card is not needed: no book, no payment type, not ``exported=true``, basis type
not ``card``. The period is on when the line happened, whatever ``exported``
says.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from app.backoffice.report_queries import Scope, SettlementQuery, iso_utc
from app.billing.no_show_view import NO_SHOW_LINE, no_show_outcome
from app.billing.statuses import REQUEST_PAID, RequestStatus
from app.models import BillCard, BillCardLine, Consult, ConsultPatient, PaymentRequest

HOLD = "hold"
HOLD_ENDED = sorted(REQUEST_PAID | {RequestStatus.RELEASED, RequestStatus.EXPIRED})
LINES = ("hold_captured", "hold_released", "hold_expired", "no_show_fee")
COLLECTED_BY = ("hold", "bill_card", "none")


def card_less_passes(q: SettlementQuery) -> bool:
    """Whether a line with no bill card passes the report's filters."""
    return q.book_id is None and q.payment_type is None and q.exported is not True and q.basis_type != "card"


async def hold_lines(s: AsyncSession, scope: Scope, q: SettlementQuery,
                     card_where: Sequence[ColumnElement[bool]]) -> list[dict[str, Any]]:
    """Every line of the report's holds and no-shows, in the order they happened.

    ``card_where``: the report's filters on ``BillCard``, without its period.
    """
    return await _lines(s, scope, q, card_where, card_less_passes(q))


async def card_lines(s: AsyncSession, card: BillCard) -> list[dict[str, Any]]:
    """One bill card's hold and no-show lines, as the report shows them (the cash desk's card page)."""
    if card.consult_id is None:
        return []
    scope = Scope(card.organisation_id, frozenset({card.clinic_id}))
    return await _lines(s, scope, SettlementQuery(), [BillCard.id == card.id], False, consult_id=card.consult_id)


async def _lines(s: AsyncSession, scope: Scope, q: SettlementQuery, card_where: Sequence[ColumnElement[bool]],
                 card_less: bool, consult_id: str | None = None) -> list[dict[str, Any]]:
    no_shows = await _no_show_lines(s, scope, q, card_where, card_less, consult_id)
    taken = {line["request_id"] for line in no_shows if line["request_id"]}
    at = func.coalesce(PaymentRequest.paid_at, PaymentRequest.updated_at)
    query = (select(PaymentRequest, BillCard).join(BillCard, BillCard.id == PaymentRequest.bill_card_id)
             .where(PaymentRequest.kind == HOLD, PaymentRequest.status.in_(HOLD_ENDED), and_(*card_where)))
    if q.period.start is not None:
        query = query.where(at >= q.period.start)
    if q.period.end is not None:
        query = query.where(at < q.period.end)
    lines = [_hold_line(r, card) for r, card in (await s.execute(query)).all() if r.id not in taken]
    return sorted(lines + no_shows, key=lambda line: (line["at"] or "", line["request_id"] or line["consult_id"]))


def _hold_line(r: PaymentRequest, card: BillCard) -> dict[str, Any]:
    authorised = r.hold_amount or 0
    if r.status in REQUEST_PAID:
        kind, captured, at = "hold_captured", r.amount, r.paid_at
    else:
        kind, captured, at = f"hold_{r.status}", 0, r.updated_at
    return _line(kind, at, r.consult_id, card.clinic_id, card, card.patient_name, r.currency, request_id=r.id,
                 authorised=authorised, captured=captured, released=max(authorised - captured, 0), amount=captured)


async def _no_show_lines(s: AsyncSession, scope: Scope, q: SettlementQuery, card_where: Sequence[ColumnElement[bool]],
                         card_less: bool, consult_id: str | None) -> list[dict[str, Any]]:
    """The decided no-shows; ``card_less``: whether one with no bill card is kept."""
    query = (select(ConsultPatient, Consult).join(Consult, Consult.id == ConsultPatient.consult_id)
             .where(Consult.organisation_id == scope.organisation_id, ConsultPatient.no_show_at.is_not(None)))
    if consult_id is not None:
        query = query.where(Consult.id == consult_id)
    if scope.clinic_ids is not None:
        query = query.where(Consult.clinic_id.in_(sorted(scope.clinic_ids)))
    if q.unit is not None:
        query = query.where(Consult.clinic_id == q.unit)
    if q.period.start is not None:
        query = query.where(ConsultPatient.no_show_at >= q.period.start)
    if q.period.end is not None:
        query = query.where(ConsultPatient.no_show_at < q.period.end)
    found = (await s.execute(query)).all()
    if not found:
        return []
    consult_ids = sorted({consult.id for _, consult in found})
    requests = list(await s.scalars(select(PaymentRequest).where(PaymentRequest.consult_id.in_(consult_ids),
                                                                 PaymentRequest.kind == HOLD)))
    cards = list(await s.scalars(select(BillCard).where(BillCard.consult_id.in_(consult_ids))
                                 .order_by(BillCard.created_at, BillCard.id)))
    passing = set(await s.scalars(select(BillCard.id).where(BillCard.consult_id.in_(consult_ids), and_(*card_where))))
    on_card = set((await s.execute(
        select(BillCard.consult_id, BillCard.patient_ref).join(BillCardLine, BillCardLine.bill_card_id == BillCard.id)
        .where(BillCard.consult_id.in_(consult_ids), BillCardLine.code == NO_SHOW_LINE,
               BillCardLine.voided_at.is_(None))
    )).all())
    lines = []
    for patient, consult in found:
        mine = [r for r in requests if r.consult_id == consult.id and r.patient_id == patient.patient_id]
        outcome = no_show_outcome(patient, mine, on_card=(consult.id, patient.patient_id) in on_card)
        held = next((r for r in mine if r.id == outcome["request_id"]), None)
        card = next((c for c in cards if held is not None and c.id == held.bill_card_id), None) or next(
            (c for c in cards if c.consult_id == consult.id and c.patient_ref == patient.patient_id), None)
        if (card.id not in passing) if card is not None else not card_less:
            continue
        fee = patient.no_show_fee or 0
        if held is not None:
            authorised = held.hold_amount or 0
            captured = held.amount if held.status in REQUEST_PAID else 0
            money = {"authorised": authorised, "captured": captured,
                     "released": max(authorised - captured, 0) if captured else 0, "amount": captured}
        else:
            money = {"authorised": None, "captured": 0, "released": 0,
                     "amount": fee if outcome["how"] == "bill_card" else 0}
        lines.append(_line("no_show_fee", patient.no_show_at, consult.id, consult.clinic_id, card,
                           card.patient_name if card is not None else patient.name, consult.currency,
                           request_id=held.id if held is not None else None, no_show_fee=fee,
                           collected_by=outcome["how"], **money))
    return lines


def _line(kind: str, at: Any, consult_id: str, clinic_id: str, card: BillCard | None, patient_name: str,
          currency: str, *,
          request_id: str | None, authorised: int | None, captured: int, released: int, amount: int,
          no_show_fee: int | None = None, collected_by: str | None = None) -> dict[str, Any]:
    return {
        "line": kind, "at": iso_utc(at), "request_id": request_id, "consult_id": consult_id,
        "card_id": card.id if card is not None else None, "clinic_id": clinic_id,
        "book_id": card.book_id if card is not None else None, "patient_name": patient_name, "currency": currency,
        "authorised": authorised, "captured": captured, "released": released, "no_show_fee": no_show_fee,
        "collected_by": collected_by, "amount": amount,
    }


def line_totals(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per currency: captured from holds, released (never revenue), no-show fees collected and not."""
    totals: dict[str, dict[str, Any]] = {}
    for line in lines:
        total = totals.setdefault(line["currency"], {"currency": line["currency"], "captured": 0, "released": 0,
                                                     "no_show_fees": 0, "no_show_fees_not_collected": 0})
        total["captured"] += line["captured"]
        total["released"] += line["released"]
        if line["line"] == "no_show_fee":
            if line["collected_by"] == "none":
                total["no_show_fees_not_collected"] += line["no_show_fee"] or 0
            else:
                total["no_show_fees"] += line["amount"]
    return [totals[cur] for cur in sorted(totals)]


def line_csv_row(line: dict[str, Any]) -> dict[str, Any]:
    """A line as a row of the report's CSV: its card's identity, the card's sums left empty, and its columns."""
    return {**{k: line[k] for k in ("card_id", "clinic_id", "book_id", "patient_name", "currency", "request_id",
                                    "consult_id", "authorised", "captured", "released", "no_show_fee",
                                    "collected_by", "amount")},
            "basis_type": "call", "row_type": line["line"], "line_at": line["at"]}
