"""When Stripe's webhooks are late, the server's own look-ups keep the truth."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.clock import ManualClock
from app.keys import PAYMENTS
from app.models import Payment, PaymentRequest
from tests.conftest import make_settings, start_live
from tests.factories import Live


@pytest.fixture
async def slow_hooks(tmp_path: Path) -> AsyncIterator[tuple[Live, ManualClock]]:
    clock = ManualClock()
    live, runner = await start_live(make_settings(tmp_path), clock=clock)
    # Webhooks arrive a minute late: long after this test is over.
    await live.sandbox_control("POST", "/webhooks", {"delay_ms": 60_000})
    try:
        yield live, clock
    finally:
        await live.close()
        await runner.cleanup()


async def test_return_page_settles_from_a_server_side_lookup(slow_hooks: tuple[Live, ManualClock]) -> None:
    live, _ = slow_hooks
    _, clinician, patient = await live.call_pair()
    request = (await clinician.call("payment:request", {"amount": 45000, "description": "Consultation"}))["request"]
    url = (await patient.call("payment:checkout", {"request_id": request["id"]}))["url"]

    # A forged return URL proves nothing: the request is still open.
    async with live.http.get(f"{live.url}/checkout/return?request_id={request['id']}&session_id=cs_fake") as resp:  # type: ignore[union-attr]
        assert resp.status == 200
    assert await live.scalar(select(PaymentRequest.status)) == "checkout_open"

    status, final_url, html = await live.pay_on_hosted_page(url)
    assert final_url.startswith(f"{live.url}/checkout/return")
    assert await live.scalar(select(PaymentRequest.status)) == "paid"
    await clinician.wait_for("payment:received")
    assert await live.scalar(select(func.count()).select_from(Payment)) == 1
    assert await live.ledger_balanced()


async def test_expire_job_catches_up_with_stripe(slow_hooks: tuple[Live, ManualClock]) -> None:
    live, clock = slow_hooks
    _, clinician, patient = await live.call_pair()
    request = (await clinician.call("payment:request", {"amount": 45000, "description": "Consultation"}))["request"]
    await patient.call("payment:checkout", {"request_id": request["id"]})
    assert await live.app[PAYMENTS].expire_due() == 0

    await live.sandbox_control("POST", "/clock/advance", {"seconds": 3600})
    clock.advance(hours=1)
    assert await live.app[PAYMENTS].expire_due() == 1
    await clinician.wait_for("payment:updated", lambda d: d["request"]["status"] == "expired")
    # Run again (a restart, a second worker): nothing more happens.
    assert await live.app[PAYMENTS].expire_due() == 0
    assert await live.scalar(select(PaymentRequest.status)) == "expired"
