"""A saved card's charge exactly once: lost answers retried with the same key, Stripe's webhook first,
duplicate and late webhooks; and a no-show fee charged to the saved card (docs/rules.md, H4 and H6)."""

from __future__ import annotations

from sqlalchemy import func, select, update

from app.keys import DB, SERVICES
from app.models import AuditEvent, BillCard, ConsultPatient, StripeEvent
from tests.cards_on_file.support import NEEDS_AUTHENTICATION, charged_once, nothing_posted, saved_card
from tests.consults.test_stripe_webhooks import post_event
from tests.factories import Live
from tests.holds.support import request_row, webhook_applied

LOSE_CHARGE_ANSWERS = {"path_prefix": "/v1/payment_intents", "method": "POST", "mode": "drop_answer", "count": 3}


async def test_a_lost_answer_is_charged_once_with_the_same_key(live: Live) -> None:
    consult, clinician, patient, r = await saved_card(live)
    await live.sandbox_control("POST", "/webhooks", {"delay_ms": 1500})
    await live.sandbox_control("POST", "/fail", LOSE_CHARGE_ANSWERS)
    lost = await clinician.call("payment:charge_saved", {"request_id": r.id, "amount": 50000})
    assert lost["ok"] is False and lost["error"]["code"] == "stripe_unavailable"
    pending = await request_row(live, r.id)
    # Stored before Stripe was called: the amount and the attempt (the key).
    assert (pending.status, pending.problem, pending.problem_detail) == ("card_saved", "charging", "50000")
    await nothing_posted(live)
    # Pressed again: the stored charge is sent again as it was (same amount, same key), once.
    again = await clinician.call("payment:charge_saved", {"request_id": r.id, "amount": 50000})
    assert again["ok"], again
    after = await request_row(live, r.id)
    assert (after.status, after.amount, after.checkout_attempt) == ("paid", 50000, pending.checkout_attempt)
    await charged_once(live, after, 50000)
    assert await webhook_applied(live, "payment_intent.succeeded") == ["already_settled"]
    await charged_once(live, after, 50000)


async def test_the_webhook_settles_first_and_duplicates_and_late_copies_change_nothing(live: Live) -> None:
    consult, clinician, patient, r = await saved_card(live)
    await live.sandbox_control("POST", "/webhooks", {"duplicate": 3, "shuffle": True, "concurrent": True})
    await live.sandbox_control("POST", "/fail", LOSE_CHARGE_ANSWERS)
    status, body = await live.api("POST", f"/api/v1/payment-requests/{r.id}/charge", {"amount": 42000})
    assert status == 503 and body["error"]["code"] == "stripe_unavailable"
    outcomes = await webhook_applied(live, "payment_intent.succeeded")
    assert outcomes == ["charged"]
    await charged_once(live, await request_row(live, r.id), 42000)
    # A late copy under a new id, and the old one again: settled already, nothing more posted.
    log = await live.sandbox_control("GET", "/events")
    succeeded = next(e["event"] for e in log["events"] if e["event"]["type"] == "payment_intent.succeeded")
    for event in ({**succeeded, "id": succeeded["id"] + "_late"}, succeeded):
        status, _ = await post_event(live, event)
        assert status == 200
    assert await live.scalar(select(StripeEvent.outcome).where(StripeEvent.id == succeeded["id"] + "_late")) \
        == "already_settled"
    # The host's retry answers what was charged; the watch-holds job finds nothing left to send.
    status, body = await live.api("POST", f"/api/v1/payment-requests/{r.id}/charge", {"amount": 42000})
    assert status == 200 and body["status"] == "paid"
    assert await live.app[SERVICES].job("watch-holds")() == 0
    await charged_once(live, await request_row(live, r.id), 42000)


async def test_a_charge_left_unanswered_is_finished_by_the_watch_holds_job(live: Live) -> None:
    consult, clinician, patient, r = await saved_card(live)
    await live.sandbox_control("POST", "/webhooks", {"delay_ms": 1500})
    await live.sandbox_control("POST", "/fail", LOSE_CHARGE_ANSWERS)
    status, _ = await live.api("POST", f"/api/v1/payment-requests/{r.id}/charge", {"amount": 40000})
    assert status == 503
    assert await live.app[SERVICES].job("watch-holds")() == 1
    after = await request_row(live, r.id)
    assert (after.status, after.amount) == ("paid", 40000)
    await charged_once(live, after, 40000)
    assert await live.app[SERVICES].job("watch-holds")() == 0


async def _never_joined(live: Live, consult_id: str) -> None:
    async with live.app[DB].write() as s:
        await s.execute(update(ConsultPatient).where(ConsultPatient.consult_id == consult_id).values(joined_at=None))


async def test_no_show_fee_is_charged_to_the_saved_card_once(live: Live) -> None:
    consult, clinician, patient, r = await saved_card(live, no_show_fee=30000)
    await _never_joined(live, consult["id"])
    status, ended = await live.api("POST", f"/api/v1/consults/{consult['id']}/end")
    assert status == 200, ended
    no_show = ended["patients"][0]["no_show"]
    assert (no_show["fee"], no_show["how"], no_show["request_id"]) == (30000, "card_on_file", r.id)
    after = await request_row(live, r.id)
    assert (after.status, after.amount, after.description) == ("paid", 30000, "No-show fee")
    await charged_once(live, after, 30000)
    # Never twice: ending again, the job, the decision again and Stripe's webhook change nothing.
    status, _ = await live.api("POST", f"/api/v1/consults/{consult['id']}/end")
    assert status == 200
    assert await live.app[SERVICES].job("no-shows")() == 0
    assert await live.app[SERVICES].no_shows.decide(consult["id"], "p-1") == 0
    assert await webhook_applied(live, "payment_intent.succeeded") == ["already_settled"]
    await charged_once(live, after, 30000)
    assert live.http
    async with live.http.get(consult["patients"][0]["join_url"]) as resp:
        page = await resp.text()
    assert 'data-how="card_on_file"' in page and "300.00" in page


async def test_a_declined_no_show_fee_is_owed_on_the_bill_card(live: Live) -> None:
    consult, clinician, patient, r = await saved_card(live, NEEDS_AUTHENTICATION, no_show_fee=25000)
    await _never_joined(live, consult["id"])
    status, ended = await live.api("POST", f"/api/v1/consults/{consult['id']}/end")
    assert status == 200, ended
    no_show = ended["patients"][0]["no_show"]
    assert (no_show["fee"], no_show["how"]) == (25000, "bill_card")
    card = await live.scalar(select(BillCard).where(BillCard.id == r.bill_card_id))
    assert (card.patient_share, card.status) == (25000, "open")
    await nothing_posted(live)
    decided = await live.scalar(select(func.count()).select_from(AuditEvent)
                                .where(AuditEvent.action == "consult.no_show"))
    assert decided == 1
