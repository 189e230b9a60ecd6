"""Vipps' exactly-once on PostgreSQL, where the webhooks and the poll really race."""

from __future__ import annotations

from tests.factories import Live
from tests.vipps_app import test_vipps_exactly_once as once


async def test_concurrent_signed_webhooks_and_the_poll_on_postgres(live_pg: Live) -> None:
    await once.test_signed_webhooks_concurrent_shuffled_and_late_with_the_poll_settle_once(live_pg)


async def test_sandbox_storm_on_postgres(live_pg: Live) -> None:
    await once.test_sandbox_storm_settles_once(live_pg)


async def test_webhooks_arriving_while_the_database_is_busy_on_postgres(live_pg: Live) -> None:
    await once.test_webhooks_for_many_payments_arriving_while_the_database_is_busy_each_settle_once(live_pg)
