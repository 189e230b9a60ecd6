"""P6: P1 across two web processes through Redis, on PostgreSQL.

``python -m bench.p6_push_two_processes [--consults 2000] [--rates 50,500] [--seconds 10]``

Each clinician is connected to web process A and their patient to web
process B; the push crosses Redis. The baseline, measured in the same run, is
P1 on one process on the same PostgreSQL without Redis. Needs PostgreSQL
(``BENCH_POSTGRES_URL``, default postgresql://postgres@127.0.0.1:5432/test) and
Redis (``BENCH_REDIS_URL``, default redis://127.0.0.1:6379/0). One JSON object out.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path
from typing import Any

from bench import harness
from bench.p1_push_latency import measure_app

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
TARGET_P99_MS = 40.0


async def measure_two(tmp: Path, database_url: str, consults: int, rates: list[int],
                      seconds: float) -> list[dict[str, Any]]:
    port_a, port_b = harness.free_port(), harness.free_port()
    common = {"DATABASE_URL": database_url, "REDIS_URL": REDIS_URL, "REDIS_CHANNEL": f"cp-bench-{uuid.uuid4().hex[:8]}"}
    for d in ("a", "b"):
        (tmp / d).mkdir(exist_ok=True)
    env_a = harness.app_env(tmp / "a", port_a, **common)
    sandbox = f"http://127.0.0.1:{port_a}/_sandbox/stripe"
    env_b = harness.app_env(tmp / "b", port_b, STRIPE_API_BASE=sandbox, **common)
    a = harness.app_server(env_a, tmp / "a.log")
    b = None
    try:
        await a.ready()
        b = harness.app_server(env_b, tmp / "b.log")
        await b.ready()
        demo = harness.seed(env_b)
        pairs = await harness.create_consults(a.url, demo, consults)
        config_pairs = [{"clinician_url": a.url, "clinician_token": p["clinician"],
                         "patient_url": b.url, "patient_token": p["patient"]} for p in pairs]
        return [harness.loadgen({"mode": "push", "pairs": config_pairs, "rate": rate, "seconds": seconds,
                                 "warmup_seconds": 1}, tmp) for rate in rates]
    finally:
        if b is not None:
            b.stop()
        a.stop()


async def main() -> None:
    p = harness.parser(__doc__ or "")
    p.add_argument("--consults", type=int, default=2000)
    p.add_argument("--rates", default="50,500")
    p.add_argument("--seconds", type=float, default=10)
    args = p.parse_args()
    rates = [int(r) for r in args.rates.split(",")]
    with harness.workdir() as tmp:
        (tmp / "one").mkdir()
        (tmp / "two").mkdir()
        async with harness.pg_database("cp_bench_p6") as url:
            one, _ = await measure_app(tmp / "one", args.consults, rates, args.seconds, DATABASE_URL=url)
        async with harness.pg_database("cp_bench_p6") as url:
            two = await measure_two(tmp / "two", url, args.consults, rates, args.seconds)
    rows = []
    for rate, t, o in zip(rates, two, one, strict=True):
        rows.append({"rate_per_s": rate, "p99_ms": t["p99_ms"], "p50_ms": t["p50_ms"], "max_ms": t["max_ms"],
                     "baseline_p99_ms": o["p99_ms"], "baseline_p50_ms": o["p50_ms"],
                     "ratio_p99": harness.ratio(t["p99_ms"], o["p99_ms"]),
                     "met": t["p99_ms"] is not None and t["p99_ms"] <= TARGET_P99_MS,
                     "sent": t["sent"], "received": t["received"], "lost": t["lost"], "errors": t["errors"]})
    harness.emit({"target": "P6", "what": "push latency across two web processes through Redis, PostgreSQL",
                  "consults": args.consults, "sockets": args.consults * 2, "seconds_per_rate": args.seconds,
                  "target_p99_ms": TARGET_P99_MS, "results": rows,
                  "baseline": "P1 on one web process, same PostgreSQL, no Redis"})


if __name__ == "__main__":
    asyncio.run(main())
