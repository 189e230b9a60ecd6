"""P3 without HTTP: what one settlement costs inside the process, and what one statement costs.

``python -m bench.p3_settle_inprocess [--webhooks 400] [--concurrency 32] [--profile]``

Setup (not timed): ``--webhooks`` open payment requests, as in ``bench.p3_webhooks``.
Then the same signed events go straight to ``StripeEvents.handle``,
``--concurrency`` at a time, in one process: no HTTP, no load generator. It
counts the SQL statements sent (``before_cursor_execute``, which statements
sent to the driver directly report too) and the write transactions committed. Beside
it, on a fresh database, one primary-key ``SELECT`` timed three ways: raw
``sqlite3``, a ready statement at the driver (``app/ready.py``), a
ready-built Core statement through the app's async session, and
``AsyncSession.get``; that is where a settlement's time goes. Each ``COMMIT``
of the settling is timed (median, p99, slowest), and the WAL's size and the
checkpoints run (``app/wal.py``) are reported after it. ``--profile`` prints
the cProfile of the settling (it slows it down). One JSON object out.
"""

from __future__ import annotations

import asyncio
import cProfile
import io
import json
import pstats
import sqlite3
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench import harness
from bench.p3_webhooks import make_requests, signed_bodies

STATEMENT_SAMPLES = 3000


async def settle_all(env: dict[str, str], events: list[dict[str, Any]], concurrency: int,
                     profile: cProfile.Profile | None) -> dict[str, Any]:
    """Hand every event to the app's handler, ``concurrency`` at a time; time, statements, commits."""
    from sqlalchemy import event

    from app.__main__ import with_services
    from app.config import Settings

    settings = replace(Settings.from_env(env, dotenv=Path("/nonexistent")), log_level="WARNING")

    async def action(services: Any) -> dict[str, Any]:
        engine = services.db.engine.sync_engine
        counted = {"statements": 0, "commits": 0}

        def statement(*_args: Any) -> None:
            counted["statements"] += 1

        def commit(*_args: Any) -> None:
            counted["commits"] += 1

        event.listen(engine, "before_cursor_execute", statement)
        event.listen(engine, "commit", commit)
        # Each COMMIT timed at the dialect (on SQLite it runs in this thread): a checkpoint
        # that SQLite runs inside a commit shows as its slowest ones.
        commit_ms: list[float] = []
        dialect = engine.dialect
        do_commit = dialect.do_commit

        def timed_commit(dbapi_connection: Any) -> None:
            t = time.perf_counter()
            try:
                do_commit(dbapi_connection)
            finally:
                commit_ms.append((time.perf_counter() - t) * 1000)

        dialect.do_commit = timed_commit  # type: ignore[method-assign]
        queue = list(reversed(events))
        outcomes: dict[str, int] = {}

        async def worker() -> None:
            while queue:
                outcome = await services.stripe_events.handle(queue.pop())
                outcomes[outcome] = outcomes.get(outcome, 0) + 1

        if profile:
            profile.enable()
        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = time.perf_counter() - t0
        if profile:
            profile.disable()
        dialect.do_commit = do_commit  # type: ignore[method-assign]
        n = len(events)
        return {"seconds": round(seconds, 3), "per_second": round(n / seconds),
                "ms_per_settlement": round(seconds / n * 1000, 2),
                "statements_per_webhook": round(counted["statements"] / n, 1),
                "webhooks_per_commit": round(n / max(counted["commits"], 1), 1), "outcomes": outcomes,
                "commits": commit_times(commit_ms), "wal": wal_state(services.db)}

    return await with_services(settings, action)


def commit_times(ms: list[float]) -> dict[str, Any]:
    """The settling's commits: how many, their median, p99 and slowest, and how many took over 5 ms."""
    if not ms:
        return {"count": 0}
    ordered = sorted(ms)
    return {"count": len(ordered), "median_ms": round(ordered[len(ordered) // 2], 3),
            "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 3),
            "max_ms": round(ordered[-1], 3), "over_5_ms": sum(1 for m in ordered if m > 5)}


def wal_state(db: Any) -> dict[str, Any]:
    """The WAL file's size after the settling, and what the checkpoint thread did (when there is one)."""
    path = Path(str(db.engine.url.database) + "-wal")
    state: dict[str, Any] = {"bytes": path.stat().st_size if path.exists() else 0}
    checkpoints = getattr(db, "checkpoints", None)
    if checkpoints is not None:
        c = checkpoints.counts
        state.update(checkpoints=c.runs, locked=c.locked, locked_ms=round(c.locked_ms, 1),
                     locked_ms_max=round(c.locked_ms_max, 2), busy=c.busy, truncations=c.truncations,
                     last=list(c.last))
    return state


async def statement_costs(data: Path) -> dict[str, float]:
    """Microseconds for one primary-key SELECT: raw sqlite3, a ``Ready`` statement at the driver
    (``app/ready.py``), Core through the session, ORM get."""
    from sqlalchemy import bindparam, select

    from app.db import Database, make_engine, migrate
    from app.models import StripeEvent
    from app.ready import Ready, in_session

    path = data / "statements.db"
    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    await migrate(engine)
    db = Database(engine)
    ids = [f"evt_{i}" for i in range(STATEMENT_SAMPLES)]
    raw = sqlite3.connect(path)
    t0 = time.perf_counter()
    for i in ids:
        raw.execute("SELECT id FROM stripe_events WHERE id = ?", (i,)).fetchone()
    raw_s = time.perf_counter() - t0
    raw.close()
    table = StripeEvent.__table__
    ready = select(table.c.id).where(table.c.id == bindparam("id"))
    async with db.read() as s:
        t0 = time.perf_counter()
        for i in ids:
            await s.scalar(ready, {"id": i})
        core_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        for i in ids:
            await s.get(StripeEvent, i)
        orm_s = time.perf_counter() - t0
        at_driver = Ready(ready)
        t0 = time.perf_counter()
        for i in ids:
            await in_session(s, at_driver.first, {"id": i})
        driver_s = time.perf_counter() - t0
    await db.dispose()
    per = 1e6 / STATEMENT_SAMPLES
    return {"raw_sqlite3_us": round(raw_s * per, 1), "ready_at_driver_us": round(driver_s * per, 1),
            "core_via_session_us": round(core_s * per, 1),
            "orm_session_get_us": round(orm_s * per, 1)}


async def main() -> None:
    p = harness.parser(__doc__ or "")
    p.add_argument("--webhooks", type=int, default=400)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--profile", action="store_true")
    args = p.parse_args()
    profile = cProfile.Profile() if args.profile else None
    with harness.workdir() as tmp:
        data = tmp / "app"
        data.mkdir()
        env = harness.app_env(data, harness.free_port())
        requests = await make_requests(env, args.webhooks)
        events = [json.loads(b["body"]) for b in signed_bodies(requests)]
        settled = await settle_all(env, events, args.concurrency, profile)
        costs = await statement_costs(tmp)
    if profile:
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(40)
        print(out.getvalue())
    harness.emit({
        "target": "P3", "what": "signed events settled in process through StripeEvents.handle, SQLite, no HTTP",
        "webhooks": args.webhooks, "concurrency": args.concurrency, **settled,
        "one_primary_key_select": costs,
    })


if __name__ == "__main__":
    asyncio.run(main())
