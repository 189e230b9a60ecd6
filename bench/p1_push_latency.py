"""P1: clinician ``payment:request`` sent → patient receives ``payment:requested``, one process.

``python -m bench.p1_push_latency [--consults 2000] [--rates 50,500] [--seconds 10]``

The app (SQLite, the request stored before it is pushed) and the bare relay
each get the same load from the same generator; one JSON object out.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from bench import harness

TARGETS_P99_MS = {50: 10.0, 500: 50.0}


async def measure_app(tmp: Path, consults: int, rates: list[int], seconds: float,
                      **env: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    port = harness.free_port()
    app_env = harness.app_env(tmp / "app", port, **env)
    (tmp / "app").mkdir(exist_ok=True)
    server = harness.app_server(app_env, tmp / "app.log")
    try:
        await server.ready()
        demo = harness.seed(app_env)
        pairs = await harness.create_consults(server.url, demo, consults)
        config_pairs = [{"clinician_url": server.url, "clinician_token": p["clinician"],
                         "patient_url": server.url, "patient_token": p["patient"]} for p in pairs]
        results = []
        for rate in rates:
            results.append(harness.loadgen({"mode": "push", "pairs": config_pairs, "rate": rate,
                                            "seconds": seconds, "warmup_seconds": 1, "series": True}, tmp))
        rss_kib = server.rss_kib()
    finally:
        server.stop()
    return results, {"rss_kib": rss_kib, "long_gc_pauses": harness.long_gc_pauses(tmp / "app.log")}


async def measure_relay(tmp: Path, consults: int, rates: list[int], seconds: float) -> list[dict[str, Any]]:
    server = harness.relay_server(tmp / "relay.log")
    try:
        await server.ready()
        pairs = [{"clinician_url": server.url, "clinician_token": f"c:{i}",
                  "patient_url": server.url, "patient_token": f"p:{i}"} for i in range(consults)]
        return [harness.loadgen({"mode": "push", "pairs": pairs, "rate": rate, "seconds": seconds,
                                 "warmup_seconds": 1, "series": True}, tmp) for rate in rates]
    finally:
        server.stop()


def compare(rates: list[int], app: list[dict[str, Any]], relay: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for rate, a, b in zip(rates, app, relay, strict=True):
        target = TARGETS_P99_MS.get(rate)
        rows.append({
            "rate_per_s": rate, "p99_ms": a["p99_ms"], "p50_ms": a["p50_ms"], "max_ms": a["max_ms"],
            "baseline_p99_ms": b["p99_ms"], "baseline_p50_ms": b["p50_ms"],
            "ratio_p99": harness.ratio(a["p99_ms"], b["p99_ms"]),
            "target_p99_ms": target, "met": None if target is None or a["p99_ms"] is None else a["p99_ms"] <= target,
            "sent": a["sent"], "received": a["received"], "lost": a["lost"], "errors": a["errors"],
            "error_codes": a.get("error_codes"),
            "baseline_lost": b["lost"],
            # [ms into the run when sent, latency ms] per request, for the plot in docs/performance.md.
            "series": a.get("series"), "baseline_series": b.get("series"),
        })
    return rows


async def main() -> None:
    p = harness.parser(__doc__ or "")
    p.add_argument("--consults", type=int, default=2000)
    p.add_argument("--rates", default="50,500")
    p.add_argument("--seconds", type=float, default=10)
    args = p.parse_args()
    rates = [int(r) for r in args.rates.split(",")]
    with harness.workdir() as tmp:
        relay = await measure_relay(tmp, args.consults, rates, args.seconds)
        app, memory = await measure_app(tmp, args.consults, rates, args.seconds)
    harness.emit({"target": "P1", "what": "push latency, one process, SQLite", "consults": args.consults,
                  "sockets": args.consults * 2, "seconds_per_rate": args.seconds,
                  "results": compare(rates, app, relay), "app_rss_kib": memory["rss_kib"],
                  "app_long_gc_pauses": memory["long_gc_pauses"],
                  "baseline": "bare python-socketio relay, same transport, no auth, no database"})


if __name__ == "__main__":
    asyncio.run(main())
