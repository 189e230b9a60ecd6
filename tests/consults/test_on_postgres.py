"""The loop, the webhook storms and the ledger guards on PostgreSQL, where concurrency is real."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from app.models import PaymentRequest
from tests.consults import test_payment_loop, test_stripe_webhooks
from tests.consults.test_stripe_webhooks import completed_event, counts, open_request, post_event
from tests.factories import Live


async def test_loop_on_postgres(live_pg: Live) -> None:
    await test_payment_loop.test_request_pay_and_settle(live_pg)


async def test_concurrent_duplicates_on_postgres(live_pg: Live) -> None:
    await test_stripe_webhooks.test_duplicates_concurrent_and_shuffled_settle_once(live_pg)


async def test_sandbox_storm_on_postgres(live_pg: Live) -> None:
    await test_stripe_webhooks.test_sandbox_storm_settles_once(live_pg)


async def test_webhooks_arriving_together_on_postgres(live_pg: Live, monkeypatch: pytest.MonkeyPatch) -> None:
    await test_stripe_webhooks.test_webhooks_arriving_together_commit_together_and_each_settles_once(
        live_pg, monkeypatch)


async def test_append_only_on_postgres(live_pg: Live) -> None:
    await test_payment_loop.test_ledger_rows_are_append_only(live_pg)


async def test_distinct_events_for_one_session_meet_at_the_row_lock(live_pg: Live) -> None:
    """Two different events for one session, in flight in the database at the same moment.

    Another connection holds the request's row lock while both webhooks
    arrive, so both handlers are provably inside their transactions and
    waiting on the same row at once; when the lock is let go, exactly one
    settles and the other finds the request paid.
    """
    import asyncpg

    request, session_id, clinician = await open_request(live_pg)
    account = await live_pg.scalar(select(PaymentRequest.stripe_account_id))
    completed = completed_event("evt_lock_1", request, session_id, account=account)
    succeeded = completed_event("evt_lock_2", request, session_id, account=account,
                                event_type="checkout.session.async_payment_succeeded")

    url = live_pg.settings.database_url.replace("postgresql+asyncpg://", "postgres://")
    holder = await asyncpg.connect(url)
    try:
        lock = holder.transaction()
        await lock.start()
        await holder.execute("SELECT id FROM payment_requests WHERE id = $1 FOR UPDATE", request["id"])
        deliveries = [asyncio.create_task(post_event(live_pg, e)) for e in (completed, succeeded)]
        waiting = 0
        for _ in range(100):
            waiting = await holder.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()")
            if waiting == 2:
                break
            await asyncio.sleep(0.05)
        assert waiting == 2, "both webhooks should be waiting on the request's row lock"
        assert not any(d.done() for d in deliveries)
        await lock.rollback()
        results = await asyncio.gather(*deliveries)
    finally:
        await holder.close()

    assert all(status == 200 for status, _ in results), results
    assert sorted(body["outcome"] for _, body in results) == ["already_settled", "settled"]
    assert await counts(live_pg) == (1, 1)
    assert await live_pg.ledger_balanced()
    await clinician.wait_for("payment:received")
    assert len(clinician.named("payment:received")) == 1
