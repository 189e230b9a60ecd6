"""P7: overload. ``payment:request`` offered at 4× the rate one process sustains.

``python -m bench.overload [--consults 1000] [--sustained N] [--factor 4] [--seconds 30] [--no-ungated]``

One app process on the embedded default (SQLite). First the rate it
sustains is found (unless ``--sustained`` gives it): short steps of rising
rates, the highest whose requests were all accepted with a p99 under
250 ms. Then, on the same process, the baseline (that rate) and 4× that rate,
each for ``--seconds``: how many were accepted, their p99 (sent → the patient's
``payment:requested``), and whether every request got its answer (the ack:
done or ``busy``) within 2 s. Then the same 4× on a process with the load gate
off (``OVERLOAD_LAG_MS=0 OVERLOAD_IN_FLIGHT=0 OVERLOAD_QUEUE_MS=0``): what the gate saves.
``python -m bench.plot_overload`` draws the latency over time.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from bench import harness

STEP_SECONDS = 3.0
SUSTAINED_P99_MS = 250.0
TARGET_ACCEPTED_P99_MS = 1000.0
TARGET_ANSWER_MS = 2000.0


async def _server(tmp: Path, name: str, consults: int, **env: str) -> tuple[harness.Server, list[dict[str, Any]]]:
    port = harness.free_port()
    (tmp / name).mkdir(exist_ok=True)
    app_env = harness.app_env(tmp / name, port, **env)
    server = harness.app_server(app_env, tmp / f"{name}.log")
    await server.ready()
    demo = harness.seed(app_env)
    pairs = await harness.create_consults(server.url, demo, consults)
    return server, [{"clinician_url": server.url, "clinician_token": p["clinician"],
                     "patient_url": server.url, "patient_token": p["patient"]} for p in pairs]


def _run(tmp: Path, pairs: list[dict[str, Any]], rates: list[int], seconds: float, *, series: bool = False,
         grace: float = 5.0) -> list[dict[str, Any]]:
    result = harness.loadgen({"mode": "overload", "pairs": pairs, "rates": rates, "seconds": seconds,
                              "series": series, "grace_seconds": grace, "pause_seconds": 2}, tmp)
    return result["phases"]


def _sustains(phase: dict[str, Any]) -> bool:
    p99 = phase["accepted_p99_ms"]
    return phase["kinds"].get("ok", 0) == phase["sent"] and p99 is not None and p99 <= SUSTAINED_P99_MS


def find_sustained(tmp: Path, pairs: list[dict[str, Any]], start: int, limit: int) -> tuple[int, list[Any]]:
    """The highest rate of start, 1.5×start, … whose requests were all accepted with p99 ≤ 250 ms."""
    steps = []
    best = 0
    rate = start
    while rate <= limit:
        [phase] = _run(tmp, pairs, [rate], STEP_SECONDS)
        steps.append({k: phase[k] for k in ("rate", "sent", "accepted", "accepted_p99_ms", "kinds")})
        if not _sustains(phase):
            break
        best = rate
        rate = int(rate * 1.5)
    return max(best, start), steps


def _row(phase: dict[str, Any], baseline: dict[str, Any] | None) -> dict[str, Any]:
    row = {k: v for k, v in phase.items() if k != "series"}
    row["series"] = phase.get("series")
    row["every_answer_within_2s"] = phase["unanswered"] == 0 and phase["answered_within_2s"] == phase["sent"]
    if baseline is not None:
        row["ratio_accepted_p99"] = harness.ratio(phase["accepted_p99_ms"], baseline["accepted_p99_ms"])
    return row


async def main() -> None:
    p = harness.parser(__doc__ or "")
    p.add_argument("--consults", type=int, default=1000)
    p.add_argument("--sustained", type=int, default=0, help="skip the search: the rate one process sustains")
    p.add_argument("--start", type=int, default=50, help="the search's first rate")
    p.add_argument("--factor", type=float, default=4.0)
    p.add_argument("--seconds", type=float, default=30)
    p.add_argument("--no-ungated", action="store_true", help="leave out the run with the load gate off")
    args = p.parse_args()
    # Each socket may send about 2 events a second: spread the offered rate over enough consults.
    limit = int(args.consults * 1.5 / args.factor)
    with harness.workdir() as tmp:
        server, pairs = await _server(tmp, "app", args.consults)
        try:
            steps: list[Any] = []
            sustained = args.sustained
            if not sustained:
                sustained, steps = find_sustained(tmp, pairs, min(args.start, limit), limit)
            offered = int(sustained * args.factor)
            base, over = _run(tmp, pairs, [sustained, offered], args.seconds, series=True)
            rss = server.rss_kib()
        finally:
            server.stop()
        ungated = None
        if not args.no_ungated:
            server, pairs = await _server(tmp, "ungated", args.consults, OVERLOAD_LAG_MS="0",
                                          OVERLOAD_IN_FLIGHT="0", OVERLOAD_QUEUE_MS="0")
            try:
                [ungated] = _run(tmp, pairs, [offered], args.seconds, series=True, grace=10.0)
            finally:
                server.stop()
    over_row = _row(over, base)
    harness.emit({
        "target": "P7", "what": "payment:request at a multiple of the rate one process sustains, SQLite",
        "consults": args.consults, "sockets": args.consults * 2, "seconds_per_rate": args.seconds,
        "sustained_per_s": sustained, "search": steps, "factor": args.factor, "offered_per_s": offered,
        "baseline": _row(base, None), "overload": over_row,
        "ungated": _row(ungated, base) if ungated else None,
        "met": {"accepted_p99_under_1s": over_row["accepted_p99_ms"] is not None
                and over_row["accepted_p99_ms"] <= TARGET_ACCEPTED_P99_MS,
                "every_answer_within_2s": over_row["every_answer_within_2s"]},
        "app_rss_kib": rss,
        "baseline_is": "the same process at the rate it sustains, in the same run",
    })


if __name__ == "__main__":
    asyncio.run(main())
