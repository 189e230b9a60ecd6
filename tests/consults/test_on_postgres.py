"""The loop, the webhook storms and the ledger guards on PostgreSQL, where concurrency is real."""

from __future__ import annotations

from tests.consults import test_payment_loop, test_stripe_webhooks
from tests.factories import Live


async def test_loop_on_postgres(live_pg: Live) -> None:
    await test_payment_loop.test_request_pay_and_settle(live_pg)


async def test_concurrent_duplicates_on_postgres(live_pg: Live) -> None:
    await test_stripe_webhooks.test_duplicates_concurrent_and_shuffled_settle_once(live_pg)


async def test_sandbox_storm_on_postgres(live_pg: Live) -> None:
    await test_stripe_webhooks.test_sandbox_storm_settles_once(live_pg)


async def test_append_only_on_postgres(live_pg: Live) -> None:
    await test_payment_loop.test_ledger_rows_are_append_only(live_pg)
