"""The two reports of the cash desk: *MediPay earnings* and the *settlement report* (*Oppgjørsrapport*).

Both read the bill cards of one organisation, optionally narrowed to clinics
(``unit``) and a book, and both compute in integer minor units.

Settlement report
    Which cards, how many, and their sums. ``exported=true`` keeps the cards
    that went to MediPay and puts the period on ``exported_at``; otherwise the
    period is on ``created_at`` (``exported=false`` keeps the cards never
    exported). ``basis_type`` is where the card came from: ``call`` — made by
    a payment request in a video call (it has a consult), ``card`` — made at
    the cash desk or over the REST API (no consult). ``payment_type`` keeps
    cards with at least one payment of that method: ``stripe`` (in the call),
    ``card``/``vipps``/``invoice`` (through MediPay), ``manual`` (registered
    by hand). Per card: the patient and refund shares, what was paid, and what
    was refunded of in-call payments. Card holds and no-show fees are lines
    of their own beside the cards (``app.backoffice.hold_lines``, rule R3).

MediPay earnings
    Cards exported in the period (on ``exported_at``) and settled through
    MediPay (status ``paid`` or ``invoice_paid``): their patient share as
    exported, the admin fees MediPay added, and what MediPay costs under the
    clinic's agreement, typed in as ``price_per_card`` (minor units) and
    ``price_percent`` (of the total, up to two decimals, e.g. 2.5)::

        total         = patient share + admin fees
        percent cost  = total × percent / 100, rounded half up to a whole minor unit
        medipay_cost  = cards × price_per_card + percent cost
        net           = total − medipay_cost

    The percentage is applied once to the period's total (not per card), so
    the rounding moves at most half a minor unit. MediPay collects in NOK only.

Dates: ``from`` and ``to`` take an ISO 8601 date or time; a time without a
zone is UTC. A date alone means that whole day in the clinic's time zone
(``unit``'s, else the organisation's first clinic's; Europe/Oslo by default,
app/i18n/zones.py): ``from=2026-11-01&to=2026-11-30`` is all of November
there. ``to`` is exclusive when it is a time.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, func, select, text
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from app.backoffice.hold_lines import hold_lines, line_csv_row, line_totals
from app.backoffice.report_queries import (
    CSV_COLUMNS,
    EarningsQuery,
    Scope,
    SettlementQuery,
    iso_utc,
    percent_of,
)
from app.billing.statuses import LABELS, SETTLED
from app.db import Database
from app.errors import Invalid
from app.models import BillCard, Book, Clinic, Payment, PaymentRefund, PaymentRequest

# ---------------------------------------------------------------- the reports


class Reports:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def _where(self, scope: Scope, unit: str | None, book_id: str | None) -> list[ColumnElement[bool]]:
        """The cards' common filters; a unit or book that is not the caller's is a 422 naming it."""
        where: list[ColumnElement[bool]] = [BillCard.organisation_id == scope.organisation_id]
        async with self.db.read() as s:
            if unit is not None:
                clinic = await s.get(Clinic, unit) if len(unit) <= 40 else None
                if (clinic is None or clinic.organisation_id != scope.organisation_id
                        or (scope.clinic_ids is not None and clinic.id not in scope.clinic_ids)):
                    raise Invalid("invalid_unit", "unit must be the id of one of your clinics", field="unit")
                where.append(BillCard.clinic_id == unit)
            if book_id is not None:
                book = await s.get(Book, book_id) if len(book_id) <= 40 else None
                if book is None or book.organisation_id != scope.organisation_id:
                    raise Invalid("invalid_book", "book_id must be the id of one of your books", field="book_id")
                where.append(BillCard.book_id == book_id)
        if scope.clinic_ids is not None:
            where.append(BillCard.clinic_id.in_(sorted(scope.clinic_ids)))
        return where

    # --- settlement

    async def _settlement_where(self, scope: Scope, q: SettlementQuery, *,
                                period: bool = True) -> list[ColumnElement[bool]]:
        """The filters on the card's own columns; ``payment_type`` comes from ``_paid_by``, shaped per query.
        ``period=False``: without the period (the hold and no-show lines put it on their own time)."""
        where = await self._where(scope, q.unit, q.book_id)
        when = BillCard.exported_at if q.exported else BillCard.created_at
        if q.exported is True:
            where.append(BillCard.exported_at.is_not(None))
        elif q.exported is False:
            where.append(BillCard.exported_at.is_(None))
        if period and q.period.start is not None:
            where.append(when >= q.period.start)
        if period and q.period.end is not None:
            where.append(when < q.period.end)
        if q.basis_type == "call":
            where.append(BillCard.consult_id.is_not(None))
        elif q.basis_type == "card":
            where.append(BillCard.consult_id.is_(None))
        return where

    @staticmethod
    def _paid_by(scope: Scope, q: SettlementQuery, *, per_card: bool) -> list[ColumnElement[bool]]:
        """``payment_type``: the cards with at least one payment of that method.

        For the sums, a set: the organisation's cards with such a payment are one range of
        ix_payments_org_method_card, in card order, each card once however many such payments it has;
        a test per card instead probed the payments for every card of the organisation (3 s of
        1,000,000 on SQLite). For cards read in creation order (a page, the CSV's batches), a test per
        card: the walk stops after one page, where gathering the whole set first took 0.35 s.
        """
        if q.payment_type is None:
            return []
        if per_card:
            paid_so = aliased(Payment)  # not the Payment of the by-type query, which this must not correlate with
            return [exists().where(paid_so.bill_card_id == BillCard.id, paid_so.method == q.payment_type)]
        return [BillCard.id.in_(Reports._paid_cards(scope, q))]

    @staticmethod
    def _paid_cards(scope: Scope, q: SettlementQuery) -> Any:
        """The ids of the organisation's cards with a payment of ``q.payment_type`` (ix_payments_org_method_card)."""
        paid_so = aliased(Payment)
        return select(paid_so.bill_card_id).where(paid_so.organisation_id == scope.organisation_id,
                                                  paid_so.method == q.payment_type)

    @staticmethod
    def _page_query(q: SettlementQuery, where: list[ColumnElement[bool]]) -> Any:
        """The page's cards, in creation order.

        With a period of exports the cards are chosen by ``exported_at`` but shown by ``created_at``.
        PostgreSQL takes the two as unrelated and walks the cards in creation order, expecting an
        early match; but a month's exports are cards created shortly before, so it read most of
        the organisation's cards first (0.9 s of 1,000,000). There the matching cards' keys are
        gathered first (``MATERIALIZED``: a range of ix_bill_cards_report) and the page cut from them.
        """
        order = (BillCard.created_at, BillCard.id)
        if not (q.exported and (q.period.start is not None or q.period.end is not None)):
            return select(BillCard).where(and_(*where)).order_by(*order).offset(q.offset).limit(q.limit + 1)
        matching = select(BillCard.id, BillCard.created_at).where(and_(*where)).cte("matching")
        matching = matching.prefix_with("MATERIALIZED")
        keys = (select(matching.c.id).order_by(matching.c.created_at, matching.c.id)
                .offset(q.offset).limit(q.limit + 1)).subquery("page_keys")
        return select(BillCard).join(keys, keys.c.id == BillCard.id).order_by(*order)

    @staticmethod
    async def _page_rows(s: Any, cards: list[BillCard]) -> list[dict[str, Any]]:
        """The report's rows for these cards: what was paid, refunded and how, looked up for them alone."""
        ids = [card.id for card in cards]
        paid: dict[str, int] = {}
        refunded: dict[str, int] = {}
        methods: dict[str, set[str]] = {}
        if ids:
            for card_id, method, amount in await s.execute(
                select(Payment.bill_card_id, Payment.method, func.sum(Payment.amount))
                .where(Payment.bill_card_id.in_(ids)).group_by(Payment.bill_card_id, Payment.method)
            ):
                paid[card_id] = paid.get(card_id, 0) + int(amount)
                methods.setdefault(card_id, set()).add(method)
            for card_id, amount in await s.execute(
                select(PaymentRequest.bill_card_id, func.sum(PaymentRefund.amount))
                .join(PaymentRefund, PaymentRefund.payment_request_id == PaymentRequest.id)
                .where(PaymentRequest.bill_card_id.in_(ids), PaymentRefund.status == "succeeded")
                .group_by(PaymentRequest.bill_card_id)
            ):
                refunded[card_id] = int(amount)
        return [_card_row(card, paid.get(card.id, 0), refunded.get(card.id, 0), sorted(methods.get(card.id, ())))
                for card in cards]

    async def settlement(self, scope: Scope, q: SettlementQuery) -> dict[str, Any]:
        common = await self._settlement_where(scope, q)
        where = common + self._paid_by(scope, q, per_card=False)
        # One pass over the cards for their own sums; payments and refunds are summed from
        # their side (each joined to its one card), so no card is counted twice. The queries
        # are independent reads, so they run side by side on their own connections.
        totals_q = (select(BillCard.currency, func.count(), func.coalesce(func.sum(BillCard.patient_share), 0),
                           func.coalesce(func.sum(BillCard.refund_share), 0),
                           func.coalesce(func.sum(BillCard.medipay_admin_fee), 0))
                    .where(and_(*where)).group_by(BillCard.currency).order_by(BillCard.currency))
        by_type_q = (select(Payment.method, Payment.currency, func.count(), func.sum(Payment.amount))
                     .group_by(Payment.method, Payment.currency).order_by(Payment.method, Payment.currency))
        by_card_set = len(common) == 1 and q.payment_type is not None
        if len(where) == 1:
            # The organisation alone: each payment carries its card's, so no join (ix_payments_org_report).
            # With other filters the cards decide which payments count, and each payment's card is looked up.
            by_type_q = by_type_q.where(Payment.organisation_id == scope.organisation_id)
        elif by_card_set:
            # The organisation and a payment type: the payments of the set's cards, found by their card
            # (ix_payments_report); the set is the organisation's, and a payment's organisation is its card's.
            by_type_q = by_type_q.where(Payment.bill_card_id.in_(self._paid_cards(scope, q)))
        else:
            by_type_q = by_type_q.join(BillCard, BillCard.id == Payment.bill_card_id).where(and_(*where))
        refunds_q = (select(PaymentRefund.currency, func.sum(PaymentRefund.amount))
                     .join(PaymentRequest, PaymentRequest.id == PaymentRefund.payment_request_id)
                     .join(BillCard, BillCard.id == PaymentRequest.bill_card_id)
                     .where(PaymentRefund.status == "succeeded", and_(*where)).group_by(PaymentRefund.currency))

        async def fetch(query: Any, merge: bool = False) -> list[Any]:
            async with self.db.read() as s:
                if merge and not self.db.is_sqlite:
                    # PostgreSQL would hash every card (of every organisation) in parallel workers; merging the
                    # two indexes in card order reads only the organisation's range, on one core (docs/performance.md).
                    await s.execute(text("SET LOCAL enable_hashjoin = off"))
                return list((await s.execute(query)).all())

        async def page() -> tuple[list[BillCard], list[dict[str, Any]]]:
            async with self.db.read() as s:
                page_q = self._page_query(q, common + self._paid_by(scope, q, per_card=True))
                cards = list((await s.scalars(page_q)).all())
                return cards, await self._page_rows(s, cards[: q.limit])

        totals, by_type, refund_rows, (cards, rows), lines = await asyncio.gather(
            fetch(totals_q, by_card_set), fetch(by_type_q, by_card_set), fetch(refunds_q), page(),
            self.hold_lines(scope, q),
        )
        refunds = {cur: total for cur, total in refund_rows}
        paid: dict[str, int] = {}
        for _, cur, _, amount in by_type:
            paid[cur] = paid.get(cur, 0) + int(amount)
        return {
            "report": "settlement",
            "filters": q.view(),
            "cards_count": sum(int(r[1]) for r in totals),
            "totals": [
                {"currency": cur, "cards": int(n), "patient_share": int(ps), "refund_share": int(rs),
                 "paid": paid.get(cur, 0), "refunded": int(refunds.get(cur) or 0), "admin_fees": int(fee)}
                for cur, n, ps, rs, fee in totals
            ],
            "by_payment_type": [
                {"payment_type": method, "currency": cur, "payments": int(n), "amount": int(total)}
                for method, cur, n, total in by_type
            ],
            "cards": rows,
            "has_more": len(cards) > q.limit,
            "next_offset": q.offset + q.limit if len(cards) > q.limit else None,
            # Card holds and no-show fees, each a line of its own (app.backoffice.hold_lines): the first
            # ``limit`` here, every one in the CSV; the totals are over them all.
            "hold_lines": lines[: q.limit],
            "hold_lines_count": len(lines),
            "hold_totals": line_totals(lines),
        }

    async def hold_lines(self, scope: Scope, q: SettlementQuery) -> list[dict[str, Any]]:
        """The report's card holds and no-show fees, as lines (app.backoffice.hold_lines)."""
        where = (await self._settlement_where(scope, q, period=False)
                 + self._paid_by(scope, q, per_card=True))
        async with self.db.read() as s:
            return await hold_lines(s, scope, q, where)

    async def settlement_batches(self, scope: Scope, q: SettlementQuery,
                                 batch: int = 2000) -> AsyncIterator[list[dict[str, Any]]]:
        """Every card of the report as rows (as in ``cards``), in creation order, a batch at a time.

        The filters are checked before the first batch: a bad one raises on the first ``anext``.
        """
        where = await self._settlement_where(scope, q) + self._paid_by(scope, q, per_card=True)
        after: tuple[datetime, str] | None = None
        while True:
            query = select(BillCard).where(and_(*where))
            if after is not None:
                at, card_id = after
                query = query.where((BillCard.created_at > at) | and_(BillCard.created_at == at, BillCard.id > card_id))
            async with self.db.read() as s:
                cards = list((await s.scalars(query.order_by(BillCard.created_at, BillCard.id).limit(batch))).all())
                rows = await self._page_rows(s, cards)
            if not cards:
                return
            yield rows
            after = (cards[-1].created_at, cards[-1].id)

    async def settlement_csv(self, scope: Scope, q: SettlementQuery, batch: int = 2000) -> AsyncIterator[bytes]:
        """Every card of the report as CSV (a header row, amounts in minor units, times in UTC), a batch at a time."""
        batches = self.settlement_batches(scope, q, batch)
        first = await anext(batches, None)  # the filters are checked before the header goes out
        yield _csv_line(CSV_COLUMNS)
        if first is not None:
            yield _csv_rows(first)
            async for rows in batches:
                yield _csv_rows(rows)
        # Then the card holds and no-show fees, a row each (a no-show with no card has one even with no cards).
        lines = await self.hold_lines(scope, q)
        if lines:
            yield _csv_rows([line_csv_row(line) for line in lines])

    # --- earnings

    async def medipay_earnings(self, scope: Scope, q: EarningsQuery) -> dict[str, Any]:
        where = await self._where(scope, q.unit, q.book_id)
        where += [BillCard.exported_at.is_not(None), BillCard.status.in_(sorted(SETTLED)),
                  BillCard.currency == "NOK"]
        if q.period.start is not None:
            where.append(BillCard.exported_at >= q.period.start)
        if q.period.end is not None:
            where.append(BillCard.exported_at < q.period.end)
        share = func.coalesce(BillCard.exported_patient_share, BillCard.patient_share)
        async with self.db.read() as s:
            cards, patient_share, admin_fees = (await s.execute(
                select(func.count(), func.coalesce(func.sum(share), 0),
                       func.coalesce(func.sum(BillCard.medipay_admin_fee), 0)).where(and_(*where))
            )).one()
        cards, patient_share, admin_fees = int(cards), int(patient_share), int(admin_fees)
        total = patient_share + admin_fees
        per_card_cost = cards * q.price_per_card
        percent_cost = percent_of(total, q.price_percent_bp)
        cost = per_card_cost + percent_cost
        return {
            "report": "medipay_earnings",
            "filters": q.view(),
            "currency": "NOK",
            "cards": cards,
            "patient_share": patient_share,
            "admin_fees": admin_fees,
            "total": total,
            "medipay_cost": cost,
            "medipay_cost_per_card": per_card_cost,
            "medipay_cost_percent": percent_cost,
            "net": total - cost,
            "rounding": "percent of the total, rounded half up to a whole minor unit",
        }


def _card_row(card: BillCard, paid: int, refunded: int, methods: list[str]) -> dict[str, Any]:
    return {
        "card_id": card.id,
        "created_at": iso_utc(card.created_at),
        "exported_at": iso_utc(card.exported_at),
        "clinic_id": card.clinic_id,
        "book_id": card.book_id,
        "basis_type": "call" if card.consult_id else "card",
        "status": card.status,
        "status_label": LABELS.get(card.status, card.status),
        "patient_name": card.patient_name,
        "currency": card.currency,
        "patient_share": card.patient_share,
        "refund_share": card.refund_share,
        "paid": paid,
        "refunded": refunded,
        "admin_fee": card.medipay_admin_fee,
        "payment_types": methods,
    }


def _csv_rows(rows: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in rows:
        # A card's row has no ``row_type`` of its own (nor the other line columns): it is ``card``.
        writer.writerow([csv_cell(row.get(c, "card" if c == "row_type" else None)) for c in CSV_COLUMNS])
    return out.getvalue().encode("utf-8")


def csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return " ".join(value)
    text = str(value)
    # A cell a spreadsheet would run as a formula is quoted as text.
    return "'" + text if text[:1] in ("=", "+", "-", "@") and not text.lstrip("-").isdigit() else text


def _csv_line(values: tuple[str, ...] | list[str]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(values)
    return out.getvalue().encode("utf-8")


def earnings_csv(report: dict[str, Any]) -> bytes:
    keys = ("currency", "cards", "patient_share", "admin_fees", "total", "medipay_cost_per_card",
            "medipay_cost_percent", "medipay_cost", "net")
    return _csv_line(list(keys)) + _csv_line([str(report[k]) for k in keys])
