"""A paid session settled in ready statements at the driver: the rows the session's way writes, in fewer statements."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event, select

from app.keys import DB, PAYMENTS
from app.models import (
    BillCard,
    BillCardEvent,
    LedgerAccount,
    LedgerLeg,
    LedgerTransaction,
    Payment,
    PaymentRequest,
    Receipt,
)
from app.payments import settle_ready, stripe_events
from integrations.stripe.protocol import CheckoutSession
from tests.consults.test_stripe_webhooks import completed_event, open_request, post_event
from tests.factories import Live

# What one webhook settling a paid session sends, BEGIN and COMMIT aside: the read, the payment,
# the legs, the transaction, the card's event and status, the receipt's number and the receipt,
# the request, the event's row; on SQLite inside a savepoint and its release (the webhooks
# that arrive together share one transaction). Only ever lower these.
SETTLEMENT_STATEMENTS = {"sqlite": 12, "postgresql": 10}


def spy_on_ready_path(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The outcomes ``settle_ready`` gave (``fallback`` when it left the event to the session's way)."""
    seen: list[str] = []

    async def spy(*args: Any, **kwargs: Any) -> Any:
        try:
            outcome, view = await settle_ready.settle_paid(*args, **kwargs)
        except settle_ready.Fallback:
            seen.append("fallback")
            raise
        seen.append(outcome)
        return outcome, view

    monkeypatch.setattr(stripe_events, "settle_paid", spy)
    return seen


async def test_a_webhook_settles_in_a_pinned_number_of_statements(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    ready = spy_on_ready_path(monkeypatch)
    account = await live.scalar(select(PaymentRequest.stripe_account_id))
    # The clinic's first settlement makes its ledger accounts, the session's way; count the next one.
    first, first_session, _ = await open_request(live)
    account = await live.scalar(select(PaymentRequest.stripe_account_id))
    assert (await post_event(live, completed_event("evt_count_0", first, first_session, account=account)))[0] == 200
    request, session_id, clinician = await open_request(live)

    engine = live.app[DB].engine
    sent: list[str] = []

    def statement(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        sent.append(sql)

    event.listen(engine.sync_engine, "before_cursor_execute", statement)
    try:
        status, body = await post_event(live, completed_event("evt_count_1", request, session_id, account=account))
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", statement)
    assert (status, body["outcome"]) == (200, "settled")
    assert ready == ["fallback", "settled"]
    statements = [sql for sql in sent if not sql.startswith("BEGIN")]
    assert len(statements) == SETTLEMENT_STATEMENTS[engine.dialect.name], statements
    assert await live.ledger_balanced()
    received = (await clinician.wait_for("payment:received"))["request"]
    assert received["id"] == request["id"] and received["status"] == "paid"
    assert received["receipt"]["url"].startswith("http")


async def written(live: Live, request_id: str) -> dict[str, Any]:
    """What settling a request wrote, without ids, numbers and times."""
    r = await live.scalar(select(PaymentRequest).where(PaymentRequest.id == request_id))
    card = await live.scalar(select(BillCard).where(BillCard.id == r.bill_card_id))
    payment = await live.scalar(select(Payment).where(Payment.payment_request_id == request_id))
    txn = await live.scalar(select(LedgerTransaction).where(LedgerTransaction.bill_card_id == card.id))
    legs = await live.rows(select(LedgerAccount.code, LedgerLeg.amount, LedgerLeg.currency)
                           .join(LedgerAccount, LedgerAccount.id == LedgerLeg.account_id)
                           .where(LedgerLeg.transaction_id == txn.id))
    events = await live.rows(select(BillCardEvent.status_from, BillCardEvent.status_to, BillCardEvent.reason)
                             .where(BillCardEvent.bill_card_id == card.id).order_by(BillCardEvent.id))
    receipt = await live.scalar(select(Receipt).where(Receipt.payment_request_id == request_id))
    assert r.paid_at is not None and r.paid_at == r.updated_at == payment.registered_at == txn.created_at
    assert receipt.issued_at == r.paid_at and card.updated_at == r.paid_at
    assert (r.receipt_reference, r.receipt_token) == (receipt.reference, receipt.token)
    assert payment.organisation_id == card.organisation_id == receipt.organisation_id
    assert receipt.reference.endswith(f"-{receipt.number:06d}")
    return {
        # The events' intents are named after their sessions (completed_event).
        "request": (r.status, r.payment_intent_id == f"pi_test_{r.checkout_session_id[-8:]}", r.amount, r.currency),
        "card": (card.status, card.patient_share),
        "payment": (payment.bill_card_id == card.id, payment.method, payment.amount, payment.currency,
                    payment.reference == r.checkout_session_id),
        "transaction": (txn.kind, txn.reference == f"stripe:settle:{r.checkout_session_id}", txn.description,
                        txn.clinic_id == card.clinic_id),
        "legs": sorted(tuple(leg) for leg in legs),
        "card_events": [tuple(e) for e in events],
        "receipt": (receipt.kind, receipt.amount, receipt.currency, receipt.description, receipt.method,
                    receipt.clinic_id == r.clinic_id, receipt.seller_name, receipt.seller_registration_number,
                    receipt.seller_country, receipt.language, receipt.refund_id, receipt.original_receipt_id),
    }


async def test_the_driver_writes_what_the_session_writes(live: Live, monkeypatch: pytest.MonkeyPatch) -> None:
    """One request settled by webhook at the driver, one by a look-up through the session: the same rows."""
    ready = spy_on_ready_path(monkeypatch)
    opened = [await open_request(live) for _ in range(3)]
    account = await live.scalar(select(PaymentRequest.stripe_account_id))
    (first, first_session, _), (by_webhook, webhook_session, told), (by_lookup, lookup_session, also_told) = opened
    for n, (request, session_id) in enumerate([(first, first_session), (by_webhook, webhook_session)]):
        status, body = await post_event(live, completed_event(f"evt_same_{n}", request, session_id, account=account))
        assert (status, body["outcome"]) == (200, "settled")
    assert ready == ["fallback", "settled"]
    session = CheckoutSession.from_stripe(
        completed_event("evt_unused", by_lookup, lookup_session, account=account)["data"]["object"])
    assert await live.app[PAYMENTS].settle(session, account=account) == "settled"

    assert await written(live, by_webhook["id"]) == await written(live, by_lookup["id"])
    numbers = [await live.scalar(select(Receipt.number).where(Receipt.payment_request_id == r["id"]))
               for r in (first, by_webhook, by_lookup)]
    assert numbers == [1, 2, 3]
    assert await live.ledger_balanced()
    # The clinicians are told the same, after the commit.
    views = [told_view((await clinician.wait_for("payment:received"))["request"]) for clinician in (told, also_told)]
    assert views[0] == views[1]


def told_view(view: dict[str, Any]) -> dict[str, Any]:
    """A request as the panels are told it, without what differs from one request to the next."""
    assert view["paid_at"] and view["paid_at"] == view["updated_at"] and view["stripe"]["checkout_session_id"]
    assert view["receipt"]["url"].startswith("http")
    return {**{k: v for k, v in view.items() if k not in ("id", "consult_id", "patient_id", "bill_card_id",
                                                           "created_at", "updated_at", "paid_at", "stripe",
                                                           "receipt", "checkout_expires_at")},
            "stripe": sorted(view["stripe"]), "receipt": sorted(view["receipt"])}


async def test_a_settlement_failing_half_way_at_the_driver_leaves_nothing_and_is_retried(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The payment, legs and transaction are written, then it fails: the webhook gets a 500 and its
    savepoint takes them back (the others in its transaction would commit); Stripe's retry settles it."""
    ready = spy_on_ready_path(monkeypatch)
    first, first_session, _ = await open_request(live)
    account = await live.scalar(select(PaymentRequest.stripe_account_id))
    assert (await post_event(live, completed_event("evt_half_0", first, first_session, account=account)))[0] == 200
    assert ready == ["fallback"]  # the clinic's first payment makes its ledger accounts, the session's way
    request, session_id, _ = await open_request(live)

    def fails(*_args: Any) -> str:
        raise RuntimeError("failed after the ledger's rows were written")

    monkeypatch.setattr(settle_ready.cards, "derived_status", fails)
    delivery = completed_event("evt_half_1", request, session_id, account=account)
    status, _ = await post_event(live, delivery)
    assert status == 500
    assert await live.rows(select(Payment.id).where(Payment.payment_request_id == request["id"])) == []
    assert await live.rows(select(LedgerTransaction.id).where(
        LedgerTransaction.reference == f"stripe:settle:{session_id}")) == []
    assert await live.scalar(select(PaymentRequest.status).where(PaymentRequest.id == request["id"])) \
        == "checkout_open"

    monkeypatch.undo()
    ready = spy_on_ready_path(monkeypatch)
    status, body = await post_event(live, delivery)
    assert (status, body["outcome"]) == (200, "settled") and ready == ["settled"]
    assert len(await live.rows(select(Payment.id).where(Payment.payment_request_id == request["id"]))) == 1
    assert await live.ledger_balanced()
