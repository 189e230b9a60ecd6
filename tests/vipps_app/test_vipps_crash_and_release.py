"""Vipps when things break: the service dying between the capture at Vipps and the settlement, a payment
approved after its request ended, webhooks failing and retried, and webhooks under overload."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from app.keys import SERVICES
from app.models import LedgerTransaction, Payment, PaymentRequest, Receipt
from app.payments import vipps_settlement
from app.payments.vipps import VippsPayments
from app.realtime.overload import LOAD_GATE
from tests.factories import Live
from tests.vipps_app.support import control, eventually, phone_answer, request_row, take_vipps
from tests.vipps_app.test_vipps_exactly_once import captures_at_vipps, chosen, settled_once


class Killed(BaseException):
    """The process dying where it stands: nothing after this point runs, the open transaction is lost."""


async def _at_vipps(live: Live, reference: str) -> dict:  # type: ignore[type-arg]
    return next(p for p in (await control(live, "GET", "/payments"))["payments"] if p["reference"] == reference)


async def test_killed_between_the_capture_and_the_settlement_the_poll_settles_it_once(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = await take_vipps(live)
    await control(live, "POST", "/webhooks", {"fail_next": 100_000})  # only the poll hears of the payment
    clinician, _, request, reference = await chosen(live)
    await phone_answer(live, "approve")
    vipps = live.app[SERVICES].vipps_payments

    # Vipps captures, but both answers are lost: the money is taken and we do not know it yet.
    await control(live, "POST", "/faults", {"kind": "error_after_commit", "next": 2,
                                            "path": f"/epayment/v1/payments/{reference}/capture"})
    assert await vipps.sync(request["id"]) == "authorized"
    assert (await _at_vipps(live, reference))["aggregate"]["captured"] == request["amount"]
    assert (await request_row(live, request["id"])).status == "checkout_open"

    # The next poll dies at the worst point: the settlement written (payment, ledger, receipt number)
    # but not committed.
    def dies(*args: object) -> None:
        raise Killed

    with monkeypatch.context() as m:
        m.setattr(vipps_settlement, "issue_receipt", dies)
        with pytest.raises(Killed):
            await vipps.poll()
    assert await live.scalar(select(func.count(Payment.id))) == 0
    assert await live.scalar(select(func.count(LedgerTransaction.id))) == 0
    assert await live.scalar(select(func.count(Receipt.id))) == 0
    assert (await request_row(live, request["id"])).status == "checkout_open"

    # After a restart (nothing kept in memory), the poll finds it captured and settles it once;
    # polls and late webhooks after that change nothing, and nothing is captured twice.
    restarted = VippsPayments(vipps.db, client=vipps.client, box=vipps.box, notifier=vipps.notifier,
                              clock=vipps.clock, public_url=vipps.public_url)
    assert await restarted.poll() == 1
    await clinician.wait_for("payment:received", timeout=10)
    await control(live, "POST", "/webhooks", {"fail_next": 0, "retry_base_s": 0.05})
    await asyncio.gather(restarted.poll(), restarted.poll(), vipps.sync(request["id"]))
    await settled_once(live, request["id"], request["amount"])
    assert await live.scalar(select(func.count(LedgerTransaction.id))) == 1
    assert await captures_at_vipps(live, keys, reference) == ["CAPTURED"]
    assert (await request_row(live, request["id"])).vipps_receipt_sent_at is not None
    assert len(clinician.named("payment:received")) == 1


async def _lost_attempt(live: Live):  # type: ignore[no-untyped-def]
    """A Vipps payment made at Vipps whose answer never reached us: the request stays ``requested``."""
    await take_vipps(live)
    consult, clinician, patient = await live.call_pair()
    ack = await clinician.call("payment:request", {"amount": 45000, "description": "Consultation"})
    await control(live, "POST", "/faults", {"kind": "error_after_commit", "next": 2,
                                            "path": "/epayment/v1/payments"})
    lost = await patient.call("payment:vipps", {"request_id": ack["request"]["id"]})
    assert lost["error"]["code"] == "vipps_unavailable", lost
    row = await request_row(live, ack["request"]["id"])
    assert (row.status, row.method) == ("requested", "vipps") and row.vipps_reference
    assert (await _at_vipps(live, row.vipps_reference))["state"] == "CREATED"
    return consult, clinician, row


async def _released_never_settled(live: Live, row: PaymentRequest, status: str) -> None:
    async def released():  # type: ignore[no-untyped-def]
        return (await _at_vipps(live, row.vipps_reference))["aggregate"]["cancelled"] == row.amount

    await eventually(released, timeout=15)
    payment = await _at_vipps(live, row.vipps_reference)
    assert payment["aggregate"]["captured"] == 0
    assert (await request_row(live, row.id)).status == status
    assert await live.scalar(select(func.count(Payment.id))) == 0
    assert await live.scalar(select(func.count(LedgerTransaction.id))) == 0
    assert await live.scalar(select(func.count(Receipt.id))) == 0
    assert await live.ledger_balanced()


async def test_approved_after_the_consult_ended_is_released_at_vipps_never_settled(live: Live) -> None:
    consult, _, row = await _lost_attempt(live)
    status, body = await live.api("POST", f"/api/v1/consults/{consult['id']}/end")
    assert status == 200, body
    assert (await request_row(live, row.id)).status == "expired"

    # The push reached the phone after all; the patient approves it once the call is over.
    await control(live, "POST", f"/payments/{row.vipps_msn}/{row.vipps_reference}/approve")
    await _released_never_settled(live, row, "expired")
    # The poll and a late AUTHORIZED after the release change nothing.
    vipps = live.app[SERVICES].vipps_payments
    await asyncio.gather(vipps.poll(), vipps.sync(row.id), vipps.handle_event({"reference": row.vipps_reference}))
    await _released_never_settled(live, row, "expired")


async def test_approved_after_the_consult_ended_with_webhooks_lost_the_poll_releases_it(live: Live) -> None:
    consult, _, row = await _lost_attempt(live)
    await control(live, "POST", "/webhooks", {"fail_next": 100_000})
    status, _ = await live.api("POST", f"/api/v1/consults/{consult['id']}/end")
    assert status == 200
    await control(live, "POST", f"/payments/{row.vipps_msn}/{row.vipps_reference}/approve")
    vipps = live.app[SERVICES].vipps_payments
    await vipps.poll()
    await _released_never_settled(live, row, "expired")
    # Released, it is not asked about again.
    assert (await request_row(live, row.id)).vipps_state == "TERMINATED"
    assert await vipps.poll() == 0


async def test_approved_as_the_clinician_cancels_is_released_never_settled(live: Live) -> None:
    await take_vipps(live)
    await control(live, "POST", "/webhooks", {"fail_next": 100_000})  # the approval's webhooks come late
    clinician, _, request, reference = await chosen(live)
    await phone_answer(live, "approve")
    ack = await clinician.call("payment:cancel", {"request_id": request["id"]})
    assert ack["ok"] and ack["request"]["status"] == "cancelled", ack
    # Now the held webhooks (AUTHORIZED, CANCELLED) arrive, and the poll runs.
    await control(live, "POST", "/webhooks", {"fail_next": 0, "retry_base_s": 0.05})

    async def delivered():  # type: ignore[no-untyped-def]
        log = (await control(live, "GET", "/webhooks"))["deliveries"]
        return log and all(d["status"] == "succeeded" for d in log)

    await eventually(delivered, timeout=15)
    await live.app[SERVICES].vipps_payments.poll()
    row = await request_row(live, request["id"])
    assert row.vipps_reference == reference
    await _released_never_settled(live, row, "cancelled")


async def test_failed_webhook_deliveries_are_retried_and_settle_once(live: Live) -> None:
    """Deliveries that fail are sent again by Vipps (the sandbox) with backoff; none is lost."""
    keys = await take_vipps(live)
    await control(live, "POST", "/webhooks", {"fail_next": 4, "retry_base_s": 0.1, "duplicate": 2})
    clinician, _, request, reference = await chosen(live)
    await phone_answer(live, "approve")
    await clinician.wait_for("payment:received", timeout=15)

    async def delivered():  # type: ignore[no-untyped-def]
        log = (await control(live, "GET", "/webhooks"))["deliveries"]
        return len(log) >= 6 and all(d["status"] == "succeeded" for d in log)

    await eventually(delivered, timeout=20)
    log = (await control(live, "GET", "/webhooks"))["deliveries"]
    assert sum(len(d["attempts"]) for d in log) >= len(log) + 4  # the failed attempts were retried
    await settled_once(live, request["id"], request["amount"])
    assert await captures_at_vipps(live, keys, reference) == ["CAPTURED"]
    assert len(clinician.named("payment:received")) == 1


async def test_past_the_load_bound_vipps_webhooks_are_still_served_and_settle_once(live: Live) -> None:
    """The load gate sheds REST calls only: Vipps' webhooks are never answered 503, so none is lost."""
    keys = await take_vipps(live)
    await control(live, "POST", "/webhooks", {"duplicate": 3})
    clinician, _, request, reference = await chosen(live)
    gate = live.app[LOAD_GATE]
    held = [gate.working() for _ in range(gate.max_in_flight)]
    for hold in held:
        hold.__enter__()
    try:
        status, body = await live.api("GET", "/api/v1/bill-cards")
        assert status == 503 and body["error"]["code"] == "busy"
        await phone_answer(live, "approve")

        async def delivered():  # type: ignore[no-untyped-def]
            log = (await control(live, "GET", "/webhooks"))["deliveries"]
            return len(log) >= 3 * 3 and all(d["status"] == "succeeded" for d in log)

        await eventually(delivered, timeout=15)
        log = (await control(live, "GET", "/webhooks"))["deliveries"]
        assert all(a["http_status"] == 200 for d in log for a in d["attempts"]), log
    finally:
        for hold in held:
            hold.__exit__(None, None, None)
    await clinician.wait_for("payment:received", timeout=10)
    await settled_once(live, request["id"], request["amount"])
    assert await captures_at_vipps(live, keys, reference) == ["CAPTURED"]
