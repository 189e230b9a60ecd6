"""Stripe's two webhook endpoints: the account endpoint and the Connect endpoint.

Payments and refunds are direct charges on the clinics' connected accounts, so
Stripe sends their events (each naming its ``account``) only to a Connect
endpoint, signed with that endpoint's own secret. Each endpoint is verified
with its own secrets (several during a roll), neither accepts a timestamp
more than 300 s away in either direction, and an event of the other mode
(test or live) than the configured key changes nothing.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import func, select

from app.config import ConfigError, Settings
from app.factory import create_app
from app.models import Clinic, PaymentRefund, PaymentRequest, StripeAccount, StripeEvent
from tests.conftest import make_settings, start_live
from tests.consults.test_refunds import ledger, paid_request
from tests.consults.test_stripe_webhooks import completed_event, counts, open_request
from tests.factories import Live, sign

ACCOUNT_SECRET = "whsec_test_secret"
CONNECT_SECRET = "whsec_test_connect_secret"
CONNECT = "/webhooks/stripe/connect"


async def deliver(live: Live, path: str, event: dict, *, secret: str = CONNECT_SECRET,
                  header: str | None = None, timestamp: int | None = None) -> tuple[int, dict]:
    payload = json.dumps(event)
    return await live.api("POST", path, raw=payload.encode(), headers={
        "Stripe-Signature": header or sign(payload, secret, timestamp), "Content-Type": "application/json"})


def refund_created(event_id: str, refund_id: str, request: PaymentRequest, amount: int, *,
                   livemode: bool = False) -> dict:
    """``refund.created`` for a refund made in Stripe's dashboard on the clinic's account."""
    return {
        "id": event_id, "object": "event", "type": "refund.created", "api_version": "2026-10-28.endive",
        "account": request.stripe_account_id, "created": int(time.time()), "livemode": livemode,
        "data": {"object": {
            "id": refund_id, "object": "refund", "amount": amount, "currency": request.currency.lower(),
            "status": "succeeded", "payment_intent": request.payment_intent_id, "charge": None,
            "metadata": {},
        }},
    }


async def test_a_checkout_completed_at_the_connect_endpoint_settles_once(live: Live) -> None:
    request, session_id, clinician = await open_request(live)
    account = await live.scalar(select(PaymentRequest.stripe_account_id))
    event = completed_event("evt_connect_paid", request, session_id, account=account)

    first = await deliver(live, CONNECT, event)
    again = await deliver(live, CONNECT, event)
    assert first == (200, {"received": True, "outcome": "settled"}), first
    assert again == (200, {"received": True, "outcome": "duplicate"}), again

    assert await counts(live) == (1, 1)
    row = await live.scalar(select(PaymentRequest).where(PaymentRequest.id == request["id"]))
    assert row.status == "paid"
    assert await live.ledger_balanced()
    await clinician.wait_for("payment:received")


async def test_a_dashboard_refund_at_the_connect_endpoint_reconciles_once(live: Live) -> None:
    request, _, _ = await paid_request(live)
    row = await live.scalar(select(PaymentRequest).where(PaymentRequest.id == request["id"]))
    event = refund_created("evt_connect_refund", "re_dashboard_connect_1", row, 12000)

    for _ in range(2):
        status, _body = await deliver(live, CONNECT, event)
        assert status == 200
    row = await live.scalar(select(PaymentRequest).where(PaymentRequest.id == request["id"]))
    assert row.refunded_amount == 12000 and row.status == "partially_refunded"
    refunds = await live.rows(select(PaymentRefund.stripe_refund_id, PaymentRefund.source, PaymentRefund.amount))
    assert refunds == [("re_dashboard_connect_1", "stripe", 12000)]
    assert await ledger(live) == (33000, -33000)


async def test_each_endpoint_takes_only_its_own_secret(live: Live) -> None:
    request, session_id, _ = await open_request(live)
    account = await live.scalar(select(PaymentRequest.stripe_account_id))
    event = completed_event("evt_wrong_secret", request, session_id, account=account)

    # Signed for the account endpoint, sent to the Connect endpoint: refused like a forgery.
    status, body = await deliver(live, CONNECT, event, secret=ACCOUNT_SECRET)
    assert status == 400 and body["error"]["code"] == "bad_signature"
    status, body = await deliver(live, "/webhooks/stripe", event, secret=CONNECT_SECRET)
    assert status == 400 and body["error"]["code"] == "bad_signature"

    assert await counts(live) == (0, 0)
    assert await live.scalar(select(StripeEvent.id).where(StripeEvent.id == "evt_wrong_secret")) is None
    row = await live.scalar(select(PaymentRequest).where(PaymentRequest.id == request["id"]))
    assert row.status == "checkout_open"


async def test_an_event_without_account_is_not_applied_at_the_connect_endpoint(live: Live) -> None:
    request, session_id, _ = await open_request(live)
    event = completed_event("evt_platform_at_connect", request, session_id, account=None)
    del event["account"]

    status, body = await deliver(live, CONNECT, event)
    assert (status, body["outcome"]) == (200, "not_connect_event")
    assert await counts(live) == (0, 0)
    # Not recorded: were it real, its delivery to the account endpoint must still count.
    assert await live.scalar(select(StripeEvent.id).where(StripeEvent.id == "evt_platform_at_connect")) is None


async def test_secrets_in_a_roll_each_verify(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, STRIPE_CONNECT_WEBHOOK_SECRET="whsec_rolled_new, whsec_rolled_old")
    live, runner = await start_live(settings)
    try:
        request, session_id, _ = await open_request(live)
        account = await live.scalar(select(PaymentRequest.stripe_account_id))
        event = completed_event("evt_rolled", request, session_id, account=account)
        payload = json.dumps(event)

        # Not one of the endpoint's secrets.
        status, _ = await deliver(live, CONNECT, event, secret="whsec_rolled_older")
        assert status == 400
        # Signed with the old secret only (a copy that was queued before the roll).
        status, body = await deliver(live, CONNECT, event, secret="whsec_rolled_old")
        assert (status, body["outcome"]) == (200, "settled")
        # As Stripe signs during a roll: one v1 per secret, in any order, beside an unknown one.
        now = int(time.time())
        v1 = [sign(payload, secret, now).split(",")[1] for secret in
              ("whsec_someone_else", "whsec_rolled_new", "whsec_rolled_old")]
        status, body = await deliver(live, CONNECT, event, header=",".join([f"t={now}", *v1]))
        assert (status, body["outcome"]) == (200, "duplicate")
        assert await counts(live) == (1, 1)
    finally:
        await live.close()
        await runner.cleanup()


async def test_a_signature_from_the_future_is_refused(live: Live) -> None:
    request, session_id, _ = await open_request(live)
    account = await live.scalar(select(PaymentRequest.stripe_account_id))
    event = completed_event("evt_future", request, session_id, account=account)

    for path, secret in (("/webhooks/stripe", ACCOUNT_SECRET), (CONNECT, CONNECT_SECRET)):
        status, body = await deliver(live, path, event, secret=secret, timestamp=int(time.time()) + 400)
        assert status == 400 and body["error"]["code"] == "bad_signature"
    assert await counts(live) == (0, 0)
    assert await live.scalar(select(StripeEvent.id).where(StripeEvent.id == "evt_future")) is None

    # Within the tolerance a clock a little ahead of ours is fine.
    status, body = await deliver(live, CONNECT, event, timestamp=int(time.time()) + 200)
    assert (status, body["outcome"]) == (200, "settled")


async def test_a_live_event_at_a_test_key_changes_nothing(live: Live) -> None:
    request, session_id, _ = await open_request(live)
    account = await live.scalar(select(PaymentRequest.stripe_account_id))
    event = completed_event("evt_live_at_test", request, session_id, account=account)
    event["livemode"] = True

    # Checked at both endpoints (the account endpoint applies Connect events too).
    status, body = await deliver(live, "/webhooks/stripe", event, secret=ACCOUNT_SECRET)
    assert (status, body["outcome"]) == (200, "livemode_mismatch")
    status, body = await deliver(live, CONNECT, event)
    assert (status, body["outcome"]) == (200, "duplicate")
    assert await counts(live) == (0, 0)
    row = await live.scalar(select(PaymentRequest).where(PaymentRequest.id == request["id"]))
    assert row.status == "checkout_open"
    recorded = await live.rows(select(StripeEvent.outcome).where(StripeEvent.id == "evt_live_at_test"))
    assert recorded == [("livemode_mismatch",)]


def account_updated(event_id: str, account: str, *, livemode: bool) -> dict:
    """``account.updated``: Stripe now wants more details and has stopped the account's charges."""
    return {
        "id": event_id, "object": "event", "type": "account.updated", "api_version": "2026-10-28.endive",
        "account": account, "created": int(time.time()), "livemode": livemode,
        "data": {"object": {
            "id": account, "object": "account", "type": "express", "charges_enabled": False,
            "payouts_enabled": False, "details_submitted": True,
            "requirements": {"currently_due": ["individual.verification.document"],
                             "past_due": ["individual.verification.document"],
                             "disabled_reason": "requirements.past_due"},
        }},
    }


async def test_a_test_mode_account_update_cannot_stop_a_live_clinic(tmp_path: Path) -> None:
    # The clinic and its enabled account, made on the sandbox ...
    seeded, runner = await start_live(make_settings(tmp_path))
    acct = seeded.demo and await seeded.scalar(select(Clinic.stripe_account_id))
    await seeded.close()
    await runner.cleanup()
    # ... then the same database served with a live key.
    settings = make_settings(tmp_path, STRIPE_SECRET_KEY="sk_live_consultpay_example", SECRET_KEY="k" * 40,
                             STRIPE_API_BASE="http://127.0.0.1:9/unused", SANDBOXES="medipay")
    assert settings.stripe_livemode
    app = create_app(settings, run_jobs=False)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, settings.host, settings.port).start()
    live = Live(app=app, settings=settings, demo=seeded.demo)
    live.http = aiohttp.ClientSession()
    try:
        status, body = await deliver(live, CONNECT, account_updated("evt_test_mode", acct, livemode=False))
        assert (status, body["outcome"]) == (200, "livemode_mismatch")
        row = await live.scalar(select(StripeAccount).where(StripeAccount.stripe_account_id == acct))
        assert (row.status, row.charges_enabled) == ("enabled", True)
        assert await live.scalar(select(Clinic.stripe_charges_enabled)) is True
        assert await live.scalar(select(func.count()).select_from(StripeEvent).where(
            StripeEvent.outcome == "livemode_mismatch")) == 1

        # The same news in live mode is Stripe's word, and applies.
        status, body = await deliver(live, CONNECT, account_updated("evt_live_mode", acct, livemode=True))
        assert status == 200 and body["outcome"] != "livemode_mismatch"
        row = await live.scalar(select(StripeAccount).where(StripeAccount.stripe_account_id == acct))
        assert row.charges_enabled is False
        assert await live.scalar(select(Clinic.stripe_charges_enabled)) is False
    finally:
        await live.close()
        await runner.cleanup()


def test_real_stripe_needs_the_connect_secret(tmp_path: Path) -> None:
    env = {"DATA_DIR": str(tmp_path / "var"), "DATABASE_URL": f"sqlite:///{tmp_path / 'cp.db'}",
           "STRIPE_SECRET_KEY": "sk_test_abc", "SECRET_KEY": "k" * 40, "STRIPE_WEBHOOK_SECRET": "whsec_a",
           "MEDIPAY_URL": "https://medipay.invalid", "MEDIPAY_CALLBACK_SECRET": "mpsec_a"}
    with pytest.raises(ConfigError, match="STRIPE_CONNECT_WEBHOOK_SECRET must be set"):
        Settings.from_env(env, dotenv=tmp_path / ".env")
    for bad in ("we_123", "whsec_a,,whsec_b", "whsec_"):
        with pytest.raises(ConfigError, match="STRIPE_CONNECT_WEBHOOK_SECRET"):
            Settings.from_env({**env, "STRIPE_CONNECT_WEBHOOK_SECRET": bad}, dotenv=tmp_path / ".env")
    ok = Settings.from_env({**env, "STRIPE_CONNECT_WEBHOOK_SECRET": "whsec_new , whsec_old"},
                           dotenv=tmp_path / ".env")
    assert ok.stripe_connect_webhook_secret == "whsec_new,whsec_old" and not ok.stripe_livemode


def test_the_embedded_default_generates_both_secrets(tmp_path: Path) -> None:
    env = {"DATA_DIR": str(tmp_path / "var"), "DATABASE_URL": f"sqlite:///{tmp_path / 'cp.db'}"}
    first = Settings.from_env(env, dotenv=tmp_path / ".env")
    again = Settings.from_env(env, dotenv=tmp_path / ".env")
    assert first.stripe_connect_webhook_secret and first.stripe_connect_webhook_secret.startswith("whsec_")
    assert first.stripe_connect_webhook_secret != first.stripe_webhook_secret
    assert again.stripe_connect_webhook_secret == first.stripe_connect_webhook_secret
