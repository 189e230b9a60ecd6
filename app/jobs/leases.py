"""Periodic jobs that run once per period however many workers there are.

``job_leases`` has one row per job. A worker may run the job when nobody
finished it in the current period (the day, the hour, counted in UTC from
the epoch) and nobody else holds an unexpired lease. A worker that dies
holding the lease leaves it to run out; the next worker runs the job again,
which is safe because every job re-checks its own rows.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import IntegrityError

from app.clock import Clock
from app.db import Database
from app.models import JobLease

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def period_start(now: datetime, period: timedelta) -> datetime:
    return EPOCH + ((now - EPOCH) // period) * period


async def acquire(db: Database, name: str, owner: str, now: datetime, *, period: timedelta,
                  lease: timedelta) -> bool:
    try:
        async with db.write() as s:
            row = await s.get(JobLease, name, with_for_update=True)
            if row is None:
                row = JobLease(name=name)
                s.add(row)
            start = period_start(now, period)
            done = (
                row.last_finished_at is not None
                and row.last_finished_at >= start
                and (row.last_started_at is None or row.last_started_at <= row.last_finished_at)
            )
            if done:
                return False
            if row.owner not in (None, owner) and row.lease_until is not None and row.lease_until > now:
                return False
            row.owner, row.lease_until, row.last_started_at = owner, now + lease, now
            return True
    except IntegrityError:
        return False  # another worker created the row first and holds it


async def release(db: Database, name: str, owner: str, now: datetime) -> None:
    async with db.write() as s:
        row = await s.get(JobLease, name, with_for_update=True)
        if row is not None and row.owner == owner:
            row.owner, row.lease_until, row.last_finished_at = None, None, now


def once_per(db: Database, clock: Clock, name: str, owner: str, period: timedelta, lease: timedelta,
             run: Callable[[], Awaitable[int]]) -> Callable[[], Awaitable[int]]:
    """``run`` wrapped so that it runs at most once per ``period`` across all workers."""

    async def guarded() -> int:
        if not await acquire(db, name, owner, clock.now(), period=period, lease=lease):
            return 0
        done = await run()
        await release(db, name, owner, clock.now())
        return done

    return guarded
