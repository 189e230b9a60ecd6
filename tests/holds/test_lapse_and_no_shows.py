"""A hold near Stripe's deadline, a hold Stripe let lapse, and no-shows charged once (docs/rules.md, H3, H4)."""

from __future__ import annotations

from sqlalchemy import func, select

from app.clock import ManualClock
from app.keys import SERVICES
from app.models import AuditEvent, BillCard, BillCardLine, ConsultPatient, MediPayExport, Payment
from tests.factories import Live
from tests.holds.support import (
    authorised_hold,
    intent_at_stripe,
    nothing_posted,
    posted_once,
    request_row,
    webhook_applied,
)


async def test_hold_near_expiry_is_warned_once_then_released(clocked: tuple[Live, ManualClock]) -> None:
    live, clock = clocked
    consult, clinician, patient, r = await authorised_hold(live)
    job = live.app[SERVICES].job("watch-holds")
    assert await job() == 0  # seven days left: nothing to do
    # 23 hours before Stripe's deadline: the clinician is told, and the audit log says so, once.
    clock.advance(seconds=(r.capture_before - clock.now()).total_seconds() - 23 * 3600)
    assert await job() == 1
    told = await clinician.wait_for("payment:updated", lambda d: (d["request"]["problem"] or {}).get("code")
                                    == "hold_lapsing")
    assert told["request"]["status"] == "authorised"
    assert await job() == 0
    warnings = await live.scalar(select(func.count()).select_from(AuditEvent)
                                 .where(AuditEvent.action == "payment.hold_lapsing", AuditEvent.subject_id == r.id))
    assert warnings == 1
    # 30 minutes before: released at Stripe, so it never lapses silently.
    clock.advance(hours=22, minutes=30)
    assert await job() == 1
    after = await request_row(live, r.id)
    assert (after.status, after.problem) == ("released", "hold_lapsed")
    pi = await intent_at_stripe(live, after)
    assert pi["status"] == "canceled" and pi["cancellation_reason"] is None
    await patient.wait_for("payment:updated", lambda d: d["request"]["status"] == "released")
    assert await webhook_applied(live, "payment_intent.canceled") == ["stale"]
    assert await job() == 0
    await nothing_posted(live)


async def test_hold_lapsed_at_stripe_ends_expired(live: Live) -> None:
    consult, clinician, patient, r = await authorised_hold(live)
    await live.sandbox_control("POST", f"/payment_intents/{r.payment_intent_id}/lapse")
    assert await webhook_applied(live, "payment_intent.canceled") == ["expired"]
    told = await clinician.wait_for("payment:updated", lambda d: d["request"]["status"] == "expired")
    assert told["request"]["problem"]["code"] == "expired"
    ack = await clinician.call("payment:capture", {"request_id": r.id, "amount": 20000})
    assert ack["error"]["code"] == "not_capturable"
    await nothing_posted(live)


async def test_no_show_fee_is_captured_from_the_hold_once(live: Live) -> None:
    consult, clinician, patient, r = await authorised_hold(live, no_show_fee=30000)
    # The patient authorised their card in Stripe's tab from the waiting room, then closed everything
    # without coming back: connected only while the gate was closed, so never joined.
    await patient.close()
    assert await live.scalar(select(ConsultPatient.joined_at)) is None
    assert clinician.named("patient:joined") == []
    status, ended = await live.api("POST", f"/api/v1/consults/{consult['id']}/end")
    assert status == 200, ended
    no_show = ended["patients"][0]["no_show"]
    assert (no_show["fee"], no_show["how"], no_show["request_id"]) == (30000, "hold", r.id) and no_show["at"]
    after = await request_row(live, r.id)
    assert (after.status, after.amount, after.hold_amount, after.description) == ("paid", 30000, 80000,
                                                                                  "No-show fee")
    pi = await intent_at_stripe(live, after)
    assert (pi["status"], pi["amount_received"], pi["amount_capturable"]) == ("succeeded", 30000, 0)
    await posted_once(live, after, 30000)
    # Never twice: ending again, the job, and Stripe's webhook change nothing.
    status, _ = await live.api("POST", f"/api/v1/consults/{consult['id']}/end")
    assert status == 200
    assert await live.app[SERVICES].job("no-shows")() == 0
    assert await live.app[SERVICES].no_shows.decide(consult["id"], "p-1") == 0
    assert await webhook_applied(live, "payment_intent.succeeded") == ["already_settled"]
    await posted_once(live, after, 30000)
    decided = await live.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action
                                                                                  == "consult.no_show"))
    assert decided == 1
    # The patient's link now says it in words, in the consult's language, with the receipt.
    assert live.http
    async with live.http.get(consult["patients"][0]["join_url"]) as resp:
        page = await resp.text()
    assert 'data-how="hold"' in page and "A no-show fee of" in page and "300.00" in page
    assert after.receipt_reference in page


async def test_no_show_is_never_charged_after_joining(live: Live) -> None:
    consult, clinician, patient, r = await authorised_hold(live, no_show_fee=30000)
    # The patient authorised in Stripe's tab, closed the waiting room, and came back by their link:
    # connected with the gate open, they are in the call.
    await patient.close()
    assert await live.scalar(select(ConsultPatient.joined_at)) is None
    back = await live.peer(consult["patients"][0]["token"])
    await back.wait_for("consult:state")
    joined = await clinician.wait_for("patient:joined")
    assert joined["patient_id"] == "p-1" and joined["joined_at"]
    status, ended = await live.api("POST", f"/api/v1/consults/{consult['id']}/end")
    assert status == 200 and ended["patients"][0]["no_show"] is None
    assert await live.app[SERVICES].job("no-shows")() == 0
    after = await request_row(live, r.id)
    assert after.status == "authorised"
    assert await live.scalar(select(ConsultPatient.no_show_at)) is None
    await nothing_posted(live)
    # The host captures the consultation from the hold after the call, as usual; the rest is released.
    status, captured = await live.api("POST", f"/api/v1/payment-requests/{r.id}/capture", {"amount": 45000})
    assert status == 200 and (captured["status"], captured["amount"]) == ("paid", 45000)
    after = await request_row(live, r.id)
    assert after.description == "Consultation, up to"
    pi = await intent_at_stripe(live, after)
    assert (pi["status"], pi["amount_received"], pi["amount_capturable"]) == ("succeeded", 45000, 0)
    await posted_once(live, after, 45000)


async def test_present_in_the_call_when_the_hold_is_authorised(live: Live) -> None:
    """The panel stayed connected while Stripe's tab authorised the card: it says it is present."""
    consult, clinician, patient, r = await authorised_hold(live, no_show_fee=30000)
    await patient.wait_for("patient:gate", lambda d: d["gate"]["status"] == "authorised")
    ack = await patient.call("patient:present", {})
    assert ack["ok"] and ack["joined_at"]
    assert (await clinician.wait_for("patient:joined"))["joined_at"] == ack["joined_at"]
    # The clinician releases the hold in the call: nothing charged, no no-show after.
    released = await clinician.call("payment:release", {"request_id": r.id})
    assert released["ok"] and released["request"]["status"] == "released"
    status, ended = await live.api("POST", f"/api/v1/consults/{consult['id']}/end")
    assert status == 200 and ended["patients"][0]["no_show"] is None
    assert (await intent_at_stripe(live, await request_row(live, r.id)))["status"] == "canceled"
    await nothing_posted(live)


async def test_no_show_without_a_hold_goes_on_the_medipay_bill_card(live: Live) -> None:
    # In the call as always, with a no-show fee; the demo clinic collects through its MediPay book.
    consult = await live.consult(payment_policy={"kind": "in_call", "no_show_fee": 25000})
    status, ended = await live.api("POST", f"/api/v1/consults/{consult['id']}/end")
    assert status == 200, ended
    no_show = ended["patients"][0]["no_show"]
    assert (no_show["fee"], no_show["how"], no_show["request_id"]) == (25000, "bill_card", None)
    card = await live.scalar(select(BillCard).where(BillCard.consult_id == consult["id"]))
    assert card.book_id and card.patient_share == 25000 and card.status == "open"
    lines = await live.rows(select(BillCardLine.code, BillCardLine.description, BillCardLine.patient_amount)
                            .where(BillCardLine.bill_card_id == card.id))
    assert lines == [("NOSHOW", "No-show fee", 25000)]
    # The hourly transfer sends it; nothing was paid, nothing posted as a payment.
    queued = await live.rows(select(MediPayExport.trigger).where(MediPayExport.bill_card_id == card.id))
    assert queued == [("hourly",)]
    assert await live.rows(select(Payment.id)) == []
    # Once: the job finds nothing more to decide.
    assert await live.app[SERVICES].job("no-shows")() == 0
    assert await live.scalar(select(func.count()).select_from(BillCardLine)) == 1


async def test_no_show_of_a_consult_that_ran_out(clocked: tuple[Live, ManualClock]) -> None:
    """Never ended by the host: the no-shows job decides once the consult has expired."""
    live, clock = clocked
    consult = await live.consult(payment_policy={"kind": "in_call", "no_show_fee": 25000})
    job = live.app[SERVICES].job("no-shows")
    assert await job() == 0  # still running
    clock.advance(seconds=live.settings.consult_ttl_seconds + 60)
    assert await job() == 1
    assert await job() == 0
    _, got = await live.api("GET", f"/api/v1/consults/{consult['id']}")
    assert got["patients"][0]["no_show"]["how"] == "bill_card"
    card = await live.scalar(select(BillCard).where(BillCard.consult_id == consult["id"]))
    assert (card.patient_share, card.status) == (25000, "open")
