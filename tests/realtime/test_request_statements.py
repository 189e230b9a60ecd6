"""What one ``payment:request`` costs the database: its statements, pinned (docs/performance.md, P1).

Counted where SQLite runs them (its trace hook on every pooled connection), so
statements run on the driver count as much as those through SQLAlchemy. When
the path gets cheaper, lower the number; it must never grow unnoticed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, select

from app.keys import DB
from app.models import AuditEvent, BillCard, BillCardEvent, BillCardLine, Clinic, PaymentRequest
from tests.factories import Live

# The token check's consult read; BEGIN IMMEDIATE; the consult, clinic (locked) and patient; the
# account, duplicates, card and books after the lock; card, its status event, request, line and
# audit entry; COMMIT.
FIRST_REQUEST = 10
# The same for a second request on the card: its share instead of a new card and its event.
SECOND_REQUEST = 9


@contextmanager
def sqlite_statements(live: Live) -> Iterator[list[str]]:
    """Every statement SQLite starts on a connection checked out meanwhile."""
    seen: list[str] = []
    engine = live.app[DB].engine.sync_engine

    def trace(sql: str) -> None:
        if not sql.startswith("--"):  # a trigger's own statements are the statement's, not another
            seen.append(sql)

    def checkout(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
        dbapi_conn.driver_connection._connection.set_trace_callback(trace)

    def checkin(dbapi_conn: Any, _record: Any) -> None:
        if dbapi_conn is not None and dbapi_conn.driver_connection._connection is not None:
            dbapi_conn.driver_connection._connection.set_trace_callback(None)

    event.listen(engine, "checkout", checkout)
    event.listen(engine, "checkin", checkin)
    try:
        yield seen
    finally:
        event.remove(engine, "checkout", checkout)
        event.remove(engine, "checkin", checkin)


async def test_a_request_runs_a_pinned_number_of_statements(live: Live) -> None:
    if not live.app[DB].is_sqlite:
        pytest.skip("counted on SQLite, where a statement costs CPU in this process")
    consult, clinician, patient = await live.call_pair()

    with sqlite_statements(live) as first:
        ack = await clinician.call("payment:request", {"amount": 45000, "description": "Consultation"})
    assert ack["ok"] is True, ack
    request = ack["request"]
    await patient.wait_for("payment:requested")
    assert len(first) == FIRST_REQUEST, "\n".join(first)

    with sqlite_statements(live) as second:
        ack = await clinician.call("payment:request", {"amount": 12000, "description": "Prescription"})
    assert ack["ok"] is True, ack
    assert len(second) == SECOND_REQUEST, "\n".join(second)

    # What the statements wrote: both requests on one card owing both, each with its line and audit entry.
    card = (await live.rows(select(BillCard).where(BillCard.consult_id == consult["id"])))[0][0]
    assert card.id == request["bill_card_id"] == ack["request"]["bill_card_id"]
    assert (card.patient_share, card.status) == (57000, "under_work")
    assert [r[0] for r in await live.rows(select(BillCardEvent.status_to).where(
        BillCardEvent.bill_card_id == card.id))] == ["under_work"]
    lines = await live.rows(select(BillCardLine.patient_amount, BillCardLine.payment_request_id)
                            .where(BillCardLine.bill_card_id == card.id).order_by(BillCardLine.patient_amount))
    assert [(a, r) for a, r in lines] == [(12000, ack["request"]["id"]), (45000, request["id"])]
    assert card.book_id == live.demo["medipay_book_id"]
    stored = await live.scalar(select(PaymentRequest).where(PaymentRequest.id == request["id"]))
    account = await live.scalar(select(Clinic.stripe_account_id).where(Clinic.id == live.demo["clinic_id"]))
    assert (stored.amount, stored.status, stored.stripe_account_id) == (45000, "requested", account)
    audited = await live.rows(select(AuditEvent.subject_id).where(AuditEvent.action == "payment.requested"))
    assert sorted(r[0] for r in audited) == sorted([request["id"], ack["request"]["id"]])
