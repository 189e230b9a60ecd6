"""The settlement report checked against a plain computation in Python over a varied set of cards.

The report's SQL is shaped for speed (which indexes the sums read, which side
a join is driven from); this test holds it to what the report means: for many
filter sets, on SQLite and on PostgreSQL, the totals, the sums by payment type
and the pages must equal what a loop over the same rows gives.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from app.backoffice.report_queries import PAYMENT_TYPES, Period, Scope, SettlementQuery
from app.backoffice.reports import Reports
from app.billing.statuses import LABELS
from app.config import normalise_database_url
from app.db import Database, make_engine, migrate
from app.models import BillCard, Book, Clinic, Consult, Organisation, Payment, PaymentRefund, PaymentRequest, User
from tests.conftest import pg_database

ORG = "org_ref"
OTHER_ORG = "org_ref_other"
CLINICS = ("cli_ref_a", "cli_ref_b", "cli_ref_c")
BOOKS = ("book_ref_1", "book_ref_2")
STATUSES = ("open", "paid", "open_exported", "invoice_paid", "manual_handling")
START = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class Rows:
    """What was inserted, kept in Python for the reference computation."""

    cards: list[BillCard] = field(default_factory=list)
    payments: list[Payment] = field(default_factory=list)
    requests: list[PaymentRequest] = field(default_factory=list)
    refunds: list[PaymentRefund] = field(default_factory=list)


def _dataset(rng: random.Random) -> tuple[list[list[Any]], Rows]:
    """Cards of two organisations over three months: every basis, exported or not, two currencies,
    none to several payments of mixed methods (some in another currency than the card), refunds
    that succeeded, failed or wait, and cards sharing a creation time (the page's order then rests on the id)."""
    rows = Rows()
    organisations = [Organisation(id=org, name=org, created_at=START) for org in (ORG, OTHER_ORG)]
    base: list[Any] = [User(id="usr_ref", organisation_id=ORG, clinic_id=None, email="ref@example.test", name="Ref",
                     role="owner", password_hash="x", created_at=START, active=True)]
    clinic_org = {"cli_ref_a": ORG, "cli_ref_b": ORG, "cli_ref_c": OTHER_ORG}
    for clinic_id in CLINICS:
        base.append(Clinic(id=clinic_id, organisation_id=clinic_org[clinic_id], name=clinic_id, currency="NOK",
                           created_at=START))
    owned: list[Any] = []
    for book_id in BOOKS:
        owned.append(Book(id=book_id, organisation_id=ORG, owner_user_id="usr_ref", description=book_id,
                         active=True, export_format="medipay", created_at=START))
    consults: list[Consult] = []
    for n in range(12):
        clinic_id = CLINICS[n % 3]
        consults.append(Consult(id=f"con_ref_{n}", organisation_id=clinic_org[clinic_id], clinic_id=clinic_id,
                                clinician_id="c", clinician_name="C", currency="NOK", language="nb",
                                created_at=START, expires_at=START + timedelta(days=400)))
    owned.extend(consults)
    shared_time = START + timedelta(days=20, hours=3)
    for n in range(240):
        clinic_id = CLINICS[rng.randrange(3)]
        created = shared_time if n % 17 == 0 else START + timedelta(minutes=rng.randrange(90 * 24 * 60))
        exported = rng.random() < 0.5
        share = rng.randrange(0, 90000)
        consult = rng.choice([c for c in consults if c.clinic_id == clinic_id]) if rng.random() < 0.4 else None
        card = BillCard(
            id=f"bc_ref_{n:04d}", organisation_id=clinic_org[clinic_id], clinic_id=clinic_id,
            consult_id=consult.id if consult else None, book_id=rng.choice((*BOOKS, None)),
            patient_ref=f"p-{n}", patient_name=f"Patient {n}", status=rng.choice(STATUSES),
            currency="SEK" if rng.random() < 0.2 else "NOK", patient_share=share,
            refund_share=rng.randrange(0, 20000), admin_fee=True, created_at=created, updated_at=created,
            medipay_admin_fee=3900 if exported else 0,
            exported_at=created + timedelta(days=rng.randrange(0, 40)) if exported else None,
            exported_patient_share=share if exported else None,
        )
        rows.cards.append(card)
        for k in range(rng.choice((0, 0, 1, 1, 1, 2, 3))):
            currency = card.currency if rng.random() < 0.9 else ("NOK" if card.currency == "SEK" else "SEK")
            rows.payments.append(Payment(
                id=f"pay_ref_{n}_{k}", bill_card_id=card.id, organisation_id=card.organisation_id,
                payment_request_id=None,
                method=rng.choice(PAYMENT_TYPES), amount=rng.randrange(1, 60000), currency=currency,
                reference=f"ref-{n}-{k}", registered_at=created + timedelta(hours=1)))
        if consult is not None:
            request = PaymentRequest(
                id=f"pr_ref_{n}", consult_id=consult.id, clinic_id=clinic_id, patient_id=f"p-{n}", amount=50000,
                currency=card.currency, description="Consultation", status="paid", bill_card_id=card.id,
                created_at=created, updated_at=created)
            rows.requests.append(request)
            for k in range(rng.choice((0, 1, 2))):
                rows.refunds.append(PaymentRefund(
                    id=f"re_ref_{n}_{k}", payment_request_id=request.id, amount=rng.randrange(1, 20000),
                    currency=card.currency, status=rng.choice(("succeeded", "succeeded", "failed", "pending")),
                    source="cash_desk", created_at=created, updated_at=created))
    return [organisations, base, owned], rows


def _matches(card: BillCard, scope: Scope, q: SettlementQuery, methods: dict[str, set[str]]) -> bool:
    when = card.exported_at if q.exported else card.created_at
    checks = (
        card.organisation_id == scope.organisation_id,
        scope.clinic_ids is None or card.clinic_id in scope.clinic_ids,
        q.unit is None or card.clinic_id == q.unit,
        q.book_id is None or card.book_id == q.book_id,
        q.exported is None or (card.exported_at is not None) == q.exported,
        q.period.start is None or (when is not None and when >= q.period.start),
        q.period.end is None or (when is not None and when < q.period.end),
        q.basis_type is None or (card.consult_id is not None) == (q.basis_type == "call"),
        q.payment_type is None or q.payment_type in methods.get(card.id, set()),
    )
    return all(checks)


def reference(rows: Rows, scope: Scope, q: SettlementQuery) -> dict[str, Any]:
    """The report as its docstring defines it, computed row by row."""
    methods: dict[str, set[str]] = {}
    paid_of: dict[str, int] = {}
    for p in rows.payments:
        methods.setdefault(p.bill_card_id, set()).add(p.method)
        paid_of[p.bill_card_id] = paid_of.get(p.bill_card_id, 0) + p.amount
    card_of_request = {r.id: r.bill_card_id for r in rows.requests}
    refunded_of: dict[str, int] = {}
    for r in rows.refunds:
        if r.status == "succeeded":
            card_id = card_of_request[r.payment_request_id]
            refunded_of[card_id] = refunded_of.get(card_id, 0) + r.amount
    chosen = [c for c in rows.cards if _matches(c, scope, q, methods)]
    chosen_ids = {c.id for c in chosen}

    paid: dict[str, int] = {}
    by_type: dict[tuple[str, str], list[int]] = {}
    for p in rows.payments:
        if p.bill_card_id in chosen_ids:
            paid[p.currency] = paid.get(p.currency, 0) + p.amount
            entry = by_type.setdefault((p.method, p.currency), [0, 0])
            entry[0] += 1
            entry[1] += p.amount
    refunded: dict[str, int] = {}
    for r in rows.refunds:
        if r.status == "succeeded" and card_of_request[r.payment_request_id] in chosen_ids:
            refunded[r.currency] = refunded.get(r.currency, 0) + r.amount
    totals = []
    for currency in sorted({c.currency for c in chosen}):
        mine = [c for c in chosen if c.currency == currency]
        totals.append({"currency": currency, "cards": len(mine), "patient_share": sum(c.patient_share for c in mine),
                       "refund_share": sum(c.refund_share for c in mine), "paid": paid.get(currency, 0),
                       "refunded": refunded.get(currency, 0),
                       "admin_fees": sum(c.medipay_admin_fee for c in mine)})
    ordered = sorted(chosen, key=lambda c: (c.created_at, c.id))
    page = ordered[q.offset: q.offset + q.limit]
    more = len(ordered) > q.offset + q.limit
    return {
        "cards_count": len(chosen),
        "totals": totals,
        "by_payment_type": [{"payment_type": m, "currency": cur, "payments": n, "amount": amount}
                            for (m, cur), (n, amount) in sorted(by_type.items())],
        "cards": [_row(c, paid_of.get(c.id, 0), refunded_of.get(c.id, 0), sorted(methods.get(c.id, set())))
                  for c in page],
        "has_more": more,
        "next_offset": q.offset + q.limit if more else None,
    }


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


def _row(card: BillCard, paid: int, refunded: int, methods: list[str]) -> dict[str, Any]:
    return {
        "card_id": card.id, "created_at": _iso(card.created_at), "exported_at": _iso(card.exported_at),
        "clinic_id": card.clinic_id, "book_id": card.book_id,
        "basis_type": "call" if card.consult_id else "card", "status": card.status,
        "status_label": LABELS.get(card.status, card.status), "patient_name": card.patient_name,
        "currency": card.currency, "patient_share": card.patient_share, "refund_share": card.refund_share,
        "paid": paid, "refunded": refunded, "admin_fee": card.medipay_admin_fee, "payment_types": methods,
    }


def queries() -> list[tuple[Scope, SettlementQuery]]:
    """Every filter alone and in combinations, the period on both columns, pages and a clinic-bound scope."""
    org = Scope(ORG)
    february = Period(datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC))
    from_march = Period(datetime(2026, 3, 1, tzinfo=UTC), None)
    until_feb = Period(None, datetime(2026, 2, 1, tzinfo=UTC))
    out: list[tuple[Scope, SettlementQuery]] = [
        (org, SettlementQuery()),
        (org, SettlementQuery(limit=7, offset=0)),
        (org, SettlementQuery(limit=7, offset=14)),
        (org, SettlementQuery(limit=1000)),
        (org, SettlementQuery(exported=True)),
        (org, SettlementQuery(exported=False)),
        (org, SettlementQuery(period=february)),
        (org, SettlementQuery(period=february, exported=True)),
        (org, SettlementQuery(period=february, exported=True, limit=5, offset=5)),
        (org, SettlementQuery(period=from_march, exported=True)),
        (org, SettlementQuery(period=until_feb, exported=False)),
        (org, SettlementQuery(unit="cli_ref_a")),
        (org, SettlementQuery(book_id="book_ref_2", period=february)),
        (org, SettlementQuery(basis_type="call")),
        (org, SettlementQuery(basis_type="card", exported=True)),
        (org, SettlementQuery(unit="cli_ref_b", book_id="book_ref_1", basis_type="card", exported=False)),
        (org, SettlementQuery(period=february, exported=True, payment_type="vipps", book_id="book_ref_1")),
        (Scope(ORG, frozenset({"cli_ref_b"})), SettlementQuery()),
        (Scope(ORG, frozenset({"cli_ref_b"})), SettlementQuery(payment_type="card", exported=True)),
        (Scope(OTHER_ORG), SettlementQuery(payment_type="stripe")),
    ]
    for method in PAYMENT_TYPES:
        out.append((org, SettlementQuery(payment_type=method)))
        out.append((org, SettlementQuery(payment_type=method, exported=True, limit=3, offset=2)))
        out.append((org, SettlementQuery(payment_type=method, basis_type="call", period=february)))
    return out


@asynccontextmanager
async def _filled(url: str) -> AsyncIterator[tuple[Database, Rows]]:
    engine = make_engine(url)
    try:
        await migrate(engine)
        db = Database(engine)
        layers, rows = _dataset(random.Random(20261123))
        async with db.write() as s:
            # The models declare no relationships, so each layer is flushed before the rows that refer to it.
            for layer in [*layers, rows.cards, rows.requests + rows.payments, rows.refunds]:
                s.add_all(layer)
                await s.flush()
        yield db, rows
    finally:
        await engine.dispose()


async def _check_every_query(db: Database, rows: Rows) -> None:
    reports = Reports(db)
    for scope, q in queries():
        got = await reports.settlement(scope, q)
        want = reference(rows, scope, q)
        assert {k: got[k] for k in want} == want, (scope, q)
    # The dataset is varied enough that the checks above are not vacuous.
    everything = await reports.settlement(Scope(ORG), SettlementQuery())
    assert everything["cards_count"] > 100 and len(everything["totals"]) == 2
    assert {r["payment_type"] for r in everything["by_payment_type"]} == set(PAYMENT_TYPES)
    assert everything["totals"][0]["refunded"] > 0


async def test_settlement_equals_the_reference_on_sqlite(tmp_path: Path) -> None:
    async with _filled(f"sqlite+aiosqlite:///{tmp_path / 'r.db'}") as (db, rows):
        await _check_every_query(db, rows)


@pytest.mark.postgres
async def test_settlement_equals_the_reference_on_postgresql() -> None:
    async with pg_database() as url:
        async with _filled(normalise_database_url(url)) as (db, rows):
            await _check_every_query(db, rows)
