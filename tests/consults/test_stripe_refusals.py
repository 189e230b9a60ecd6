"""Stripe's permanent refusals, told apart from outages, and its minimum charge per currency.

A refusal needs someone to change something, so each is shown with what to do,
in the reader's language; only a real outage says "try again". Nothing is
written when Stripe refuses: no request under the minimum, no payment, no
ledger rows.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select, update

from app.keys import DB
from app.models import Clinic, LedgerTransaction, Payment, PaymentRefund, PaymentRequest
from tests.consults.test_refunds import ledger, paid_request
from tests.factories import Live


async def _fail_next(live: Live, path: str, mode: str, **extra: Any) -> None:
    await live.sandbox_control("POST", "/fail", {"path_prefix": path, "method": "POST", "mode": mode, **extra})


@pytest.mark.parametrize(("currency", "amount", "language", "message"), [
    ("NOK", 299, "nb", "Stripes minste betaling i NOK er 3,00\xa0kr."),
    ("NOK", 1, "sv", "Stripes minsta betalning i NOK är 3,00\xa0Nkr."),
    ("NOK", 299, "en", "Stripe's smallest payment in NOK is NOK\xa03.00."),
    ("EUR", 49, "en", "Stripe's smallest payment in EUR is €0.50."),
    ("GBP", 29, "en", "Stripe's smallest payment in GBP is £0.30."),
])
async def test_under_stripes_minimum_is_refused_when_requested(live: Live, currency: str, amount: int,
                                                               language: str, message: str) -> None:
    if currency != "NOK":
        # A clinic takes its own currency only: the demo clinic is turned into one of this currency.
        async with live.app[DB].write() as s:
            await s.execute(update(Clinic).values(currency=currency))
    _, clinician, _ = await live.call_pair(language=language, currency=currency)
    ack = await clinician.call("payment:request", {"amount": amount, "description": "Prescription"})
    assert ack == {"ok": False, "error": {"code": "amount_too_small", "message": message, "field": "amount"}}
    assert await live.scalar(select(func.count()).select_from(PaymentRequest)) == 0
    assert await live.scalar(select(func.count()).select_from(LedgerTransaction)) == 0


async def test_exactly_the_minimum_is_requested_and_paid(live: Live) -> None:
    _, clinician, patient = await live.call_pair(language="nb")
    ack = await clinician.call("payment:request", {"amount": 300, "description": "Prescription"})
    assert ack["ok"], ack
    url = (await patient.call("payment:checkout", {"request_id": ack["request"]["id"]}))["url"]
    await live.pay_on_hosted_page(url)
    await clinician.wait_for("payment:received")
    assert await live.rows(select(Payment.amount)) == [(300,)]
    assert await live.ledger_balanced()


@pytest.mark.parametrize(("script", "code", "patient_nb", "clinician_nb"), [
    ("charges_disabled", "clinic_cannot_take_payments",
     "Klinikken kan ikke ta imot kortbetaling akkurat nå; behandleren din har fått beskjed.",
     "klinikkens Stripe-konto kan ikke ta imot kortbetaling"),
    ("account_invalid", "clinic_cannot_take_payments",
     "Klinikken kan ikke ta imot kortbetaling akkurat nå; behandleren din har fått beskjed.",
     "klinikkens Stripe-konto kan ikke ta imot kortbetaling"),
    ("platform_account_required", "clinic_cannot_take_payments",
     "Klinikken kan ikke ta imot kortbetaling akkurat nå; behandleren din har fått beskjed.",
     "klinikkens Stripe-konto kan ikke ta imot kortbetaling"),
    ("permission", "clinic_cannot_take_payments",
     "Klinikken kan ikke ta imot kortbetaling akkurat nå; behandleren din har fått beskjed.",
     "klinikkens Stripe-konto kan ikke ta imot kortbetaling"),
    ("invalid_request", "checkout_refused",
     "Stripe avviste dette betalingskravet; behandleren din har fått beskjed.",
     "Stripe avviste betalingskravet (parameter_invalid_string)"),
])
async def test_permanent_refusals_at_checkout_say_what_to_do(live: Live, script: str, code: str,
                                                             patient_nb: str, clinician_nb: str) -> None:
    _, clinician, patient = await live.call_pair(language="nb")
    request = (await clinician.call("payment:request", {"amount": 45000, "description": "Time"}))["request"]
    await _fail_next(live, "/v1/checkout/sessions", "error", error=script)
    ack = await patient.call("payment:checkout", {"request_id": request["id"]})
    assert ack == {"ok": False, "error": {"code": code, "message": patient_nb}}
    problem = await clinician.wait_for("payment:problem")
    assert problem["request_id"] == request["id"] and clinician_nb in problem["message"]
    assert "Prøv igjen" not in problem["message"]
    # Nothing changed: the request is still open and unpaid, and nothing is in the ledger.
    assert await live.scalar(select(PaymentRequest.status)) == "requested"
    assert await live.scalar(select(func.count()).select_from(Payment)) == 0
    assert await live.ledger_balanced()
    # Once the clinic's account is put right, the same request can be paid.
    ack = await patient.call("payment:checkout", {"request_id": request["id"]})
    assert ack["ok"], ack
    await live.pay_on_hosted_page(ack["url"])
    await clinician.wait_for("payment:received")
    assert await live.rows(select(Payment.amount)) == [(45000,)]
    assert await live.ledger_balanced()


@pytest.mark.parametrize("mode", ["server_error", "rate_limit"])
async def test_only_an_outage_says_try_again(live: Live, mode: str) -> None:
    _, clinician, patient = await live.call_pair(language="nb")
    request = (await clinician.call("payment:request", {"amount": 45000, "description": "Time"}))["request"]
    await _fail_next(live, "/v1/checkout/sessions", mode, count=3)
    ack = await patient.call("payment:checkout", {"request_id": request["id"]})
    assert ack == {"ok": False, "error": {"code": "checkout_failed",
                                          "message": "Betalingen kunne ikke startes. Prøv igjen."}}
    assert not clinician.named("payment:problem")


async def test_a_refund_the_clinics_account_cannot_make(live: Live) -> None:
    request, clinician, _ = await paid_request(live)
    await _fail_next(live, "/v1/refunds", "error", error="balance_insufficient")
    ack = await clinician.call("payment:refund", {"request_id": request["id"], "amount": 10000,
                                                  "idempotency_key": "r-1"})
    assert ack["ok"] is False and ack["error"]["code"] == "refund_refused"
    assert ack["error"]["message"] == (
        "The clinic's Stripe account cannot make this refund now (balance_insufficient). "
        "Ask the clinic's administrator to check the account's balance and status in Stripe.")
    assert await ledger(live) == (45000, -45000)
    assert await live.scalar(select(PaymentRefund.status)) == "failed"

    # Over REST the same words, with the reason filled in.
    await _fail_next(live, "/v1/refunds", "error", error="invalid_request")
    status, body = await live.api("POST", f"/api/v1/payment-requests/{request['id']}/refunds", {"amount": 10000})
    assert status == 409 and body["error"] == {
        "code": "refund_refused", "message": "Stripe refused the refund (parameter_invalid_string)."}
    assert await ledger(live) == (45000, -45000)


async def test_a_refund_during_an_outage_says_try_again(live: Live) -> None:
    request, clinician, _ = await paid_request(live)
    await _fail_next(live, "/v1/refunds", "server_error", count=3)
    ack = await clinician.call("payment:refund", {"request_id": request["id"], "idempotency_key": "r-2"})
    assert ack["error"] == {"code": "refund_failed", "message": "The refund could not be made. Please try again."}
    assert await ledger(live) == (45000, -45000)
