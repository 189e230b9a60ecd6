"""Payments before and after the call under webhook storms, racing the API: each settled once.

The waiting room's gate paid before joining, a card hold authorised then
captured or released while Stripe's events arrive again and again, and a hold
cancelled at Stripe whose cancellation arrives before the news of its
authorisation (docs/rules.md, rules H1 and H2). Each test checks the ledger,
the request's final status, Stripe's own state, and that no webhook and no
call was answered with a 500.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select, update

from app.keys import DB, SERVICES
from app.models import AuditEvent, ConsultPatient, PaymentRequest, StripeEvent
from tests.factories import Live
from tests.holds.storm import STORM, at_stripe, deliveries_taken, logged, one_entry, outcomes, storm
from tests.holds.support import HOLD, intent_at_stripe, nothing_posted, posted_once, request_row
from tests.polling import eventually

BEFORE_JOIN = {"kind": "before_join", "amount": 45000, "description": "Consultation"}


async def _checkout(live: Live, policy: dict) -> tuple[dict, object, object, PaymentRequest]:  # type: ignore[type-arg]
    """A consult with a gate, its patient in the waiting room with Stripe's Checkout open."""
    consult = await live.consult(payment_policy=policy)
    gate = consult["patients"][0]["gate"]
    clinician = await live.peer(consult["clinician"]["token"])
    await clinician.wait_for("consult:state")
    patient = await live.peer(consult["patients"][0]["token"])
    await patient.wait_for("consult:state")
    ack = await patient.call("payment:checkout", {"request_id": gate["request_id"]})
    assert ack["ok"], ack
    return consult, clinician, patient, await request_row(live, gate["request_id"])


async def _pay(live: Live, r: PaymentRequest) -> dict:  # type: ignore[type-arg]
    """The patient pays (or authorises) on Stripe's page; Stripe's webhooks are on their way."""
    assert live.http
    paid = await live.sandbox_control("POST", f"/checkout/sessions/{r.checkout_session_id}/pay", {})
    assert paid["status"] == "complete", paid
    return paid  # type: ignore[no-any-return]


async def _return_page(live: Live, r: PaymentRequest) -> str:
    """The patient's browser back from Stripe: our own look-up of the session."""
    assert live.http
    async with live.http.get(f"{live.url}/checkout/return",
                             params={"request_id": r.id, "session_id": r.checkout_session_id or ""}) as resp:
        assert resp.status == 200
        return await resp.text()


async def test_gate_paid_before_joining_in_a_storm_settles_once(live: Live) -> None:
    await live.sandbox_control("POST", "/webhooks", {**STORM, "delay_ms": 100})
    consult, clinician, patient, r = await _checkout(live, BEFORE_JOIN)
    paid = await _pay(live, r)
    completed = await logged(live, "checkout.session.completed", r.checkout_session_id)
    succeeded = await logged(live, "payment_intent.succeeded", paid["payment_intent"])
    assert len(completed) == len(succeeded) == 1
    # Every copy at once, racing the sandbox's own deliveries, two return pages, the patient
    # asking to pay again and the host reading the consult.
    pages = await storm(live, completed + succeeded, _return_page(live, r), _return_page(live, r),
                        patient.call("payment:checkout", {"request_id": r.id}),  # type: ignore[attr-defined]
                        live.api("GET", f"/api/v1/consults/{consult['id']}"), copies=5)
    assert all('data-outcome="paid"' in page for page in pages[:2] if "data-outcome" in page)
    # Asked before the payment was settled here, the same (now paid) session; after, refused. Never a new one.
    again = pages[2]
    assert (again["ok"] is False and again["error"]["code"] == "already_paid"
            or again["url"].endswith("/" + (r.checkout_session_id or "-"))), again
    assert pages[3][0] == 200
    await deliveries_taken(live)

    after = await request_row(live, r.id)
    assert (after.status, after.amount, after.kind) == ("paid", 45000, "before_join")
    await one_entry(live)
    settled = await outcomes(live, "checkout.session.completed")
    assert settled.count("settled") <= 1 and set(settled) <= {"settled", "already_settled"}, settled
    assert set(await outcomes(live, "payment_intent.succeeded")) <= {"ignored", "not_ours"}
    _, got = await live.api("GET", f"/api/v1/consults/{consult['id']}")
    assert got["patients"][0]["gate"]["status"] == "paid"
    await clinician.wait_for("patient:gate", lambda d: d["gate"]["status"] == "paid")  # type: ignore[attr-defined]
    session = await at_stripe(live, f"checkout/sessions/{r.checkout_session_id}", r.stripe_account_id)
    assert (session["status"], session["payment_status"], session["amount_total"]) == ("complete", "paid", 45000)
    pi = await at_stripe(live, f"payment_intents/{paid['payment_intent']}", r.stripe_account_id)
    assert (pi["status"], pi["amount_received"]) == ("succeeded", 45000)


async def _authorised_in_a_storm(live: Live, **policy: object) -> tuple[dict, object, object, PaymentRequest]:  # type: ignore[type-arg]
    """A hold authorised while its completion and ``amount_capturable_updated`` arrive again and again."""
    await live.sandbox_control("POST", "/webhooks", {**STORM, "delay_ms": 100})
    consult, clinician, patient, r = await _checkout(live, {**HOLD, **policy})
    paid = await _pay(live, r)
    events = (await logged(live, "checkout.session.completed", r.checkout_session_id)
              + await logged(live, "payment_intent.amount_capturable_updated", paid["payment_intent"]))
    assert len(events) == 2
    pages = await storm(live, events, _return_page(live, r), _return_page(live, r))
    assert all('data-outcome="authorised"' in page for page in pages)
    r = await request_row(live, r.id)
    assert (r.status, r.hold_amount, r.payment_intent_id) == ("authorised", 80000, paid["payment_intent"])
    authorised = await outcomes(live, "checkout.session.completed")
    assert authorised.count("authorised") <= 1 and set(authorised) <= {"authorised", "already_authorised"}
    await nothing_posted(live)
    return consult, clinician, patient, r


async def test_hold_authorised_in_a_storm_then_captured_while_the_events_repeat(live: Live) -> None:
    consult, clinician, patient, r = await _authorised_in_a_storm(live)
    completed = await logged(live, "checkout.session.completed", r.checkout_session_id)
    # The capture and a second press of it, with the authorisation's events still arriving.
    answers = await storm(live, completed, clinician.call("payment:capture", {  # type: ignore[attr-defined]
        "request_id": r.id, "amount": 50000}), clinician.call("payment:capture", {  # type: ignore[attr-defined]
        "request_id": r.id, "amount": 50000}))
    assert all(a["ok"] or a["error"]["code"] == "capture_in_progress" for a in answers), answers
    assert any(a["ok"] for a in answers)
    # Then Stripe's word on the capture, again and again.
    captured = await logged(live, "payment_intent.succeeded", r.payment_intent_id)
    await storm(live, captured + await logged(live, "charge.captured"), copies=4)
    await deliveries_taken(live)
    after = await request_row(live, r.id)
    assert (after.status, after.amount, after.problem) == ("paid", 50000, None)
    await posted_once(live, after, 50000)
    await one_entry(live)
    assert "captured" not in await outcomes(live, "checkout.session.completed")
    pi = await intent_at_stripe(live, after)
    assert (pi["status"], pi["amount_received"], pi["amount_capturable"]) == ("succeeded", 50000, 0)
    assert len(await logged(live, "payment_intent.succeeded", r.payment_intent_id)) == 1


@pytest.mark.parametrize("first", ["together", "capture"])
async def test_capture_and_release_racing_the_webhooks_one_wins(live: Live, first: str) -> None:
    """The clinician captures while the host releases over REST, the authorisation's events repeating:
    both sent at once, or the release sent once the capture is stored (and perhaps at Stripe)."""
    consult, clinician, patient, r = await _authorised_in_a_storm(live)
    completed = await logged(live, "checkout.session.completed", r.checkout_session_id)

    async def release() -> tuple[int, dict]:  # type: ignore[type-arg]
        if first == "capture":
            await eventually(lambda: _capture_stored(live, r.id), timeout=5)
        return await live.api("POST", f"/api/v1/payment-requests/{r.id}/release")

    capture, (status, released) = await storm(
        live, completed,
        clinician.call("payment:capture", {"request_id": r.id, "amount": 30000}),  # type: ignore[attr-defined]
        release())
    for event_type in ("payment_intent.succeeded", "payment_intent.canceled"):
        await storm(live, await logged(live, event_type, r.payment_intent_id))
    await deliveries_taken(live)
    after = await request_row(live, r.id)
    pi = await intent_at_stripe(live, after)
    # Whichever Stripe took first wins; the other is told so in words (409), never a 500 nor a false "ok".
    if pi["status"] == "succeeded":
        assert (after.status, after.amount, pi["amount_received"]) == ("paid", 30000, 30000)
        assert capture["ok"] and capture["request"]["status"] == "paid", capture
        assert status == 409 and released["error"]["code"] in ("capture_in_progress", "not_releasable"), released
        await posted_once(live, after, 30000)
        await one_entry(live)
    else:
        assert first == "together" and (pi["status"], pi["amount_received"]) == ("canceled", 0)
        assert (after.status, after.problem) == ("released", None)
        assert status == 200 and released["status"] == "released", released
        assert capture["ok"] is False and capture["error"]["code"] == "not_capturable", capture
        await nothing_posted(live)
    actions = [a for (a,) in await live.rows(select(AuditEvent.action).where(AuditEvent.subject_id == r.id))]
    assert actions.count("payment.hold_captured") + actions.count("payment.hold_released") == 1, actions


async def _capture_stored(live: Live, request_id: str) -> bool:
    r = await request_row(live, request_id)
    return r.problem == "capturing" or r.status == "paid"


@pytest.mark.parametrize("how", ["cancelled", "lapsed"])
async def test_cancellation_arriving_before_the_authorisation(live: Live, how: str) -> None:
    """The hold is cancelled at Stripe (by the clinic, or lapsed) before we heard it was authorised; then
    the news arrives backwards, again and again, with the patient's return page."""
    await live.sandbox_control("POST", "/webhooks", {"delay_ms": 100_000})  # held back: we post them ourselves
    consult, clinician, patient, r = await _checkout(live, HOLD)
    paid = await _pay(live, r)
    intent = paid["payment_intent"]
    if how == "lapsed":
        await live.sandbox_control("POST", f"/payment_intents/{intent}/lapse")
    else:
        assert live.http
        async with live.http.post(f"{live.sandbox}/v1/payment_intents/{intent}/cancel",
                                  headers={"Authorization": f"Bearer {live.settings.stripe_key}",
                                           "Stripe-Account": r.stripe_account_id or ""}) as resp:
            assert resp.status == 200, await resp.text()
    canceled = await logged(live, "payment_intent.canceled", intent)
    completed = await logged(live, "checkout.session.completed", r.checkout_session_id)
    await storm(live, canceled)
    await storm(live, completed, _return_page(live, r))
    await asyncio.gather(*(storm(live, events) for events in (completed, canceled)))

    # It ends as it would have in order (authorised, then cancelled at Stripe): released (expired if it
    # lapsed, rule H3), nothing posted, never left waiting on a session that can no longer be paid.
    ended = "released" if how == "cancelled" else "expired"
    after = await request_row(live, r.id)
    got = sorted(o for (o,) in await live.rows(select(StripeEvent.outcome).where(StripeEvent.type.in_(
        ("payment_intent.canceled", "checkout.session.completed")))))
    assert (after.status, after.payment_intent_id) == (ended, intent), got
    assert got.count(ended) == 1 and set(got) <= {ended, "stale", "already_authorised"}, got
    await nothing_posted(live)
    pi = await intent_at_stripe(live, after)
    assert (pi["status"], pi["amount_received"]) == ("canceled", 0)
    assert f'data-outcome="{"cancelled" if how == "cancelled" else "expired"}"' in await _return_page(live, r)
    _, view = await live.api("GET", f"/api/v1/consults/{consult['id']}")
    assert view["patients"][0]["gate"]["status"] == ("released" if how == "cancelled" else "expired")
    await clinician.wait_for("payment:updated",  # type: ignore[attr-defined]
                             lambda d: d["request"]["status"] == ended)
    again = await patient.call("payment:checkout", {"request_id": r.id})  # type: ignore[attr-defined]
    assert again["ok"] is False and again["error"]["code"] == "not_payable", again


async def test_no_show_decided_by_the_job_and_the_hosts_end_at_once_charges_once(live: Live) -> None:
    """The host ends the consult while the ``no-shows`` job runs again and again and Stripe's events repeat."""
    consult, clinician, patient, r = await _authorised_in_a_storm(live, no_show_fee=30000)
    async with live.app[DB].write() as s:  # authorised in the waiting room, never let into the call
        await s.execute(update(ConsultPatient).where(ConsultPatient.consult_id == consult["id"])
                        .values(joined_at=None))
    services = live.app[SERVICES]
    ended = asyncio.Event()

    async def end() -> tuple[int, dict]:  # type: ignore[type-arg]
        try:
            return await live.api("POST", f"/api/v1/consults/{consult['id']}/end")
        finally:
            ended.set()

    async def job() -> int:
        decided = 0
        while not ended.is_set():
            decided += await services.job("no-shows")()
            await asyncio.sleep(0)
        return decided + await services.job("no-shows")()

    (status, body), by_job, by_hand = await asyncio.gather(
        end(), job(), asyncio.gather(*(services.no_shows.after_end(consult["id"]) for _ in range(3))))
    assert status == 200, body
    assert by_job + sum(by_hand) <= 1  # decided once, by whichever got the row first
    # The host's answer says what was decided, whoever decided it: the fee, from the hold.
    no_show = body["patients"][0]["no_show"]
    assert (no_show["fee"], no_show["how"], no_show["request_id"]) == (30000, "hold", r.id), body
    # Stripe's word on the capture, again and again, with the job and the end once more.
    captured = await eventually(lambda: logged(live, "payment_intent.succeeded", r.payment_intent_id))
    await storm(live, captured, services.job("no-shows")(), live.api("POST", f"/api/v1/consults/{consult['id']}/end"))
    await deliveries_taken(live)

    after = await request_row(live, r.id)
    assert (after.status, after.amount, after.description) == ("paid", 30000, "No-show fee")
    await posted_once(live, after, 30000)
    await one_entry(live)
    pi = await intent_at_stripe(live, after)
    assert (pi["status"], pi["amount_received"], pi["amount_capturable"]) == ("succeeded", 30000, 0)
    assert len(await logged(live, "payment_intent.succeeded", r.payment_intent_id)) == 1
    decided = await live.rows(select(AuditEvent.details).where(AuditEvent.action == "consult.no_show"))
    assert len(decided) == 1 and decided[0][0]["how"] == "hold", decided
    _, got = await live.api("GET", f"/api/v1/consults/{consult['id']}")
    assert (got["patients"][0]["no_show"]["fee"], got["patients"][0]["no_show"]["how"]) == (30000, "hold")
