"""Webhook storms for the payments before and after the call: Stripe's own events, again and again, at once.

The sandbox delivers every event several times, shuffled and side by side; on
top of that a test re-sends copies of what the sandbox logged (the same event,
and the same news under a new event id, as Stripe does when it retries with a
fresh event), concurrently with the API calls that race them. Nothing may be
answered with a 500: neither our copies nor any of the sandbox's deliveries.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from sqlalchemy import func, select

from app.models import LedgerTransaction, Payment, Receipt, StripeEvent
from tests.consults.test_stripe_webhooks import post_event
from tests.factories import Live
from tests.polling import eventually

STORM = {"duplicate": 3, "shuffle": True, "concurrent": True}


async def logged(live: Live, event_type: str, object_id: str | None = None) -> list[dict[str, Any]]:
    """The events of a type the sandbox emitted (for one object), oldest first."""
    log = await live.sandbox_control("GET", "/events")
    found = [e["event"] for e in log["events"] if e["event"]["type"] == event_type
             and (object_id is None or e["event"]["data"]["object"]["id"] == object_id)]
    return sorted(found, key=lambda e: e["created"])


def renamed(event: dict[str, Any], suffix: str) -> dict[str, Any]:
    """The same news under another event id: applied on its own merits, not as a duplicate."""
    return {**event, "id": f"{event['id']}_{suffix}"}


async def storm(live: Live, events: list[dict[str, Any]], *others: Awaitable[Any], copies: int = 3) -> list[Any]:
    """Post ``copies`` of each event (and one renamed copy) all at once, with ``others``; their results.

    Every webhook post must be taken (200): a handler that fails would be retried by Stripe for days.
    """
    posts = [post_event(live, e) for e in events for _ in range(copies)]
    posts += [post_event(live, renamed(e, "again")) for e in events]
    answers = await asyncio.gather(*posts, *others)
    statuses = [status for status, _ in answers[:len(posts)]]
    assert statuses == [200] * len(posts), answers[:len(posts)]
    return list(answers[len(posts):])


async def deliveries_taken(live: Live, timeout: float = 15) -> None:
    """Every delivery the sandbox made was answered 200, and none is left pending or failed."""
    async def settled() -> list[dict[str, Any]] | None:
        log = (await live.sandbox_control("GET", "/events"))["events"]
        return None if any(e["delivery_status"] == "pending" for e in log) else log

    log = await eventually(settled, timeout=timeout)
    answered = [a["http_status"] for e in log for d in e["deliveries"] for a in d["attempts"]]
    assert answered and set(answered) == {200}, [(e["event"]["type"], e["deliveries"]) for e in log
                                                 if any(a["http_status"] != 200 for d in e["deliveries"]
                                                        for a in d["attempts"])]
    assert {e["delivery_status"] for e in log} == {"delivered"}


async def at_stripe(live: Live, path: str, account: str | None) -> dict[str, Any]:
    """An object as Stripe's API gives it on the clinic's account."""
    assert live.http
    headers = {"Authorization": f"Bearer {live.settings.stripe_key}", "Stripe-Account": account or ""}
    async with live.http.get(f"{live.sandbox}/v1/{path}", headers=headers) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()  # type: ignore[no-any-return]


async def outcomes(live: Live, event_type: str) -> list[str]:
    return sorted(o for (o,) in await live.rows(select(StripeEvent.outcome).where(StripeEvent.type == event_type)))


async def one_entry(live: Live) -> None:
    """One payment, one journal entry, one receipt in the whole ledger; every entry balanced."""
    assert await live.scalar(select(func.count()).select_from(Payment)) == 1
    assert await live.scalar(select(func.count()).select_from(LedgerTransaction)) == 1
    assert await live.scalar(select(func.count()).select_from(Receipt)) == 1
    assert await live.ledger_balanced()
