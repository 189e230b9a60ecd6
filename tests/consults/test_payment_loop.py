"""The in-call loop end to end: REST → Socket.IO → Stripe sandbox over HTTP → signed webhook → ledger."""

from __future__ import annotations

from sqlalchemy import select

from app.keys import DB
from app.ledger import journal
from app.models import BillCard, LedgerAccount, LedgerLeg, LedgerTransaction, Payment
from tests.factories import Live


async def test_request_pay_and_settle(live: Live) -> None:
    consult, clinician, patient = await live.call_pair()

    ack = await clinician.call("payment:request", {"amount": 45000, "currency": "NOK", "description": "Consultation"})
    assert ack["ok"], ack
    request = ack["request"]
    assert request["status"] == "requested" and request["amount"] == 45000 and request["patient_id"] == "p-1"

    pushed = await patient.wait_for("payment:requested")
    assert pushed["request"]["id"] == request["id"]
    await clinician.wait_for("payment:updated", lambda d: d["request"]["id"] == request["id"])

    ack = await patient.call("payment:checkout", {"request_id": request["id"]})
    assert ack["ok"], ack
    assert ack["url"].startswith(live.sandbox + "/checkout/cs_")
    await clinician.wait_for("payment:updated", lambda d: d["request"]["status"] == "checkout_open")
    # Pressing Pay now again gives the same checkout, not a second session.
    again = await patient.call("payment:checkout", {"request_id": request["id"]})
    assert again["url"] == ack["url"]

    status, final_url, html = await live.pay_on_hosted_page(ack["url"])
    assert status == 200 and final_url.startswith(live.url + "/checkout/return")

    received = await clinician.wait_for("payment:received")
    assert received["request"]["status"] == "paid"
    done = await patient.wait_for("payment:updated", lambda d: d["request"]["status"] == "paid")
    assert done["request"]["paid_at"]

    status, body = await live.api("GET", f"/api/v1/payment-requests/{request['id']}")
    assert status == 200 and body["status"] == "paid"
    assert body["stripe"]["checkout_session_id"].startswith("cs_") and body["stripe"]["payment_intent_id"]

    # The ledger: one payment on the card, the card settled, the money at Stripe.
    card = await live.scalar(select(BillCard).where(BillCard.id == body["bill_card_id"]))
    assert card.status == "paid" and card.patient_share == 45000
    payments = await live.rows(select(Payment.amount, Payment.method).where(Payment.bill_card_id == card.id))
    assert payments == [(45000, "stripe")]
    async with live.app[DB].read() as s:
        balances = await journal.balances(s, live.demo["clinic_id"])
    assert balances[("stripe_clearing", "NOK")] == 45000
    assert balances[("patient_revenue", "NOK")] == -45000
    assert balances[("patient_receivable", "NOK")] == 0
    assert await live.ledger_balanced()

    status, card_view = await live.api("GET", f"/api/v1/consults/{consult['id']}")
    assert card_view["payment_requests"][0]["status"] == "paid"

    # The return page tells the outcome from our records.
    assert "paid" in html.lower() or "betalt" in html.lower()


async def test_declined_card_leaves_request_open(live: Live) -> None:
    _, clinician, patient = await live.call_pair()
    ack = await clinician.call("payment:request", {"amount": 30000, "description": "Follow-up"})
    url = (await patient.call("payment:checkout", {"request_id": ack["request"]["id"]}))["url"]

    status, final_url, html = await live.pay_on_hosted_page(url, card="4000 0000 0000 0002")
    assert final_url.startswith(live.sandbox)
    assert "Your card was declined." in html

    _, body = await live.api("GET", f"/api/v1/payment-requests/{ack['request']['id']}")
    assert body["status"] == "checkout_open"
    assert await live.scalar(select(Payment.id)) is None

    # The patient tries another card and it works.
    await live.pay_on_hosted_page(url)
    await clinician.wait_for("payment:received")


async def test_cancel_closes_checkout(live: Live) -> None:
    _, clinician, patient = await live.call_pair()
    request = (await clinician.call("payment:request", {"amount": 20000, "description": "Note"}))["request"]
    url = (await patient.call("payment:checkout", {"request_id": request["id"]}))["url"]

    ack = await clinician.call("payment:cancel", {"request_id": request["id"]})
    assert ack["ok"] and ack["request"]["status"] == "cancelled"
    await patient.wait_for("payment:updated", lambda d: d["request"]["status"] == "cancelled")

    # The session was expired at Stripe: the patient can no longer pay it.
    status, _, html = await live.pay_on_hosted_page(url)
    assert "4242" not in html or status >= 400 or "expired" in html.lower()
    assert await live.scalar(select(Payment.id)) is None
    card = await live.scalar(select(BillCard))
    assert card.patient_share == 0

    again = await clinician.call("payment:cancel", {"request_id": request["id"]})
    assert again == {"ok": False, "error": {"code": "not_cancellable", "message": again["error"]["message"]}}
    checkout = await patient.call("payment:checkout", {"request_id": request["id"]})
    assert checkout["error"]["code"] == "not_payable"


async def test_expired_session_is_shown_live(live: Live) -> None:
    _, clinician, patient = await live.call_pair()
    request = (await clinician.call("payment:request", {"amount": 15000, "description": "Short"}))["request"]
    await patient.call("payment:checkout", {"request_id": request["id"]})
    # Stripe's clock moves past the session's expires_at; Stripe sends checkout.session.expired.
    await live.sandbox_control("POST", "/clock/advance", {"seconds": 3600})
    update = await clinician.wait_for("payment:updated", lambda d: d["request"]["status"] == "expired")
    assert update["request"]["id"] == request["id"]
    await patient.wait_for("payment:updated", lambda d: d["request"]["status"] == "expired")


async def test_ledger_rows_are_append_only(live: Live) -> None:
    _, clinician, patient = await live.call_pair()
    request = (await clinician.call("payment:request", {"amount": 45000, "description": "Consultation"}))["request"]
    url = (await patient.call("payment:checkout", {"request_id": request["id"]}))["url"]
    await live.pay_on_hosted_page(url)
    await clinician.wait_for("payment:received")

    from sqlalchemy import delete, update
    from sqlalchemy.exc import DBAPIError

    for statement in (
        update(LedgerLeg).values(amount=1),
        delete(LedgerLeg),
        update(LedgerTransaction).values(description="changed"),
        delete(Payment),
    ):
        try:
            async with live.app[DB].write() as s:
                await s.execute(statement)
        except DBAPIError as e:
            assert "append-only" in str(e)
        else:
            raise AssertionError(f"{statement} was allowed")
    assert await live.ledger_balanced()
    accounts = await live.rows(select(LedgerAccount.code, LedgerAccount.kind))
    assert ("stripe_clearing", "asset") in accounts


async def test_requests_and_cancellations_are_in_the_audit_trail(live: Live) -> None:
    from app.models import AuditEvent

    _, clinician, _ = await live.call_pair()
    request = (await clinician.call("payment:request", {"amount": 45000, "description": "Consultation"}))["request"]
    await clinician.call("payment:cancel", {"request_id": request["id"]})
    rows = await live.rows(
        select(AuditEvent.action, AuditEvent.actor_type, AuditEvent.actor_id)
        .where(AuditEvent.subject_id == request["id"])
        .order_by(AuditEvent.id)
    )
    assert rows == [("payment.requested", "clinician", "u-1"), ("payment.cancelled", "clinician", "u-1")]
