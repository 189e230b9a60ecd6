"""P2: authenticated idle sockets per process, their memory, and memory after churn.

``python -m bench.p2_sockets_memory [--sockets 10000] [--churn 4000] [--cycles 5]``

Resident memory (VmRSS) of the server process is read before any socket,
with ``--sockets`` connected, and after each of ``--cycles`` rounds of
``--churn`` sockets connecting and leaving, each time one second after the
step (after leaving, once the server has closed them: its open network sockets
are back where they were before); then once more ``--settle`` seconds after the last step, longer than
engine.io's ping interval, because a socket's ping timer keeps what the socket
held until it fires. The app's sockets are authenticated (consult tokens, each
gets ``consult:state``); the bare relay's are not. The relay runs twice: with
the app's WebSocket setting (permessage-deflate declined: the same transport,
the baseline) and on the libraries' defaults. One JSON object out.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from pathlib import Path
from typing import Any

from bench import harness

MAX_KIB_PER_SOCKET = 64


def _phases(server: harness.Server, url: str, tokens: list[str], count: int, cycles: int,
            tmp: Path) -> list[dict[str, int]]:
    """Connect/disconnect ``count`` sockets ``cycles`` times; RSS after each step."""
    path = tmp / f"sockets-{time.monotonic_ns()}.json"
    path.write_text(json.dumps({"mode": "sockets", "url": url, "tokens": tokens, "count": count,
                                "cycles": cycles, "connect_concurrency": 100}))
    idle_sockets = server.open_sockets()
    gen = subprocess.Popen(["node", str(harness.LOADGEN), str(path)], cwd=harness.ROOT, stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, text=True)
    assert gen.stdin and gen.stdout
    steps = []
    try:
        for _ in range(cycles * 2):
            line = gen.stdout.readline()
            if not line:
                raise RuntimeError("the load generator stopped")
            step = json.loads(line)
            if "disconnected" in step:
                step["close_seconds"] = _wait_closed(server, idle_sockets)
            time.sleep(1.0)  # let the server settle (pings, freed buffers)
            step["rss_kib"] = server.rss_kib()
            steps.append(step)
            gen.stdin.write("next\n")
            gen.stdin.flush()
        gen.wait(60)
    finally:
        if gen.poll() is None:
            gen.kill()
    return steps


def _wait_closed(server: harness.Server, idle_sockets: int, timeout: float = 120) -> float:
    """Seconds until the server has closed the sockets that left (its open sockets back to idle).

    The load generator's disconnects reach a busy server over a few seconds;
    RSS read before then would still count sockets that are being closed.
    """
    t0 = time.monotonic()
    while server.open_sockets() > idle_sockets + 16 and time.monotonic() - t0 < timeout:
        time.sleep(0.2)
    return round(time.monotonic() - t0, 2)


def _growth(rss: int | None, start: int) -> float | None:
    return None if rss is None else round((rss - start) / start * 100, 1)


def _summary(start: int, held: list[dict[str, int]], churn: list[dict[str, int]], sockets: int,
             settled: int) -> dict[str, Any]:
    connected = held[0]["rss_kib"]
    after = [s["rss_kib"] for s in churn if "disconnected" in s]
    per_socket = round((connected - start) / sockets, 1)
    final = after[-1] if after else None
    return {
        "rss_start_kib": start, "rss_connected_kib": connected, "kib_per_socket": per_socket,
        "rss_after_held_left_kib": held[-1]["rss_kib"],
        "rss_after_each_churn_kib": after, "rss_growth_after_churn_pct": _growth(final, start),
        "rss_settled_kib": settled, "rss_growth_settled_pct": _growth(settled, start),
        "close_seconds_each_churn": [s["close_seconds"] for s in churn if "disconnected" in s],
        "connect_seconds": round(held[0]["seconds"], 2),
    }


async def measure(server: harness.Server, tokens: list[str], sockets: int, churn: int, cycles: int,
                  settle: float, tmp: Path) -> dict[str, Any]:
    await asyncio.sleep(1.0)
    start = server.rss_kib()
    held = _phases(server, server.url, tokens, sockets, 1, tmp)
    churned = _phases(server, server.url, tokens, churn, cycles, tmp) if cycles else []
    await asyncio.sleep(settle)
    return _summary(start, held, churned, sockets, server.rss_kib())


async def measure_relay(args: Any, tmp: Path, *relay_args: str) -> dict[str, Any]:
    relay = harness.relay_server(tmp / f"relay{'-'.join(relay_args)}.log", *relay_args)
    try:
        await relay.ready()
        return await measure(relay, [f"p:{i}" for i in range(args.consults)], args.sockets, args.churn,
                             args.cycles, args.settle, tmp)
    finally:
        relay.stop()


async def main() -> None:
    p = harness.parser(__doc__ or "")
    p.add_argument("--sockets", type=int, default=10000)
    p.add_argument("--churn", type=int, default=4000)
    p.add_argument("--cycles", type=int, default=5)
    p.add_argument("--consults", type=int, default=500, help="consults whose tokens the sockets use")
    p.add_argument("--settle", type=float, default=30.0, help="seconds before the last RSS reading")
    args = p.parse_args()
    harness.raise_open_files(max(args.sockets, args.churn) + 1024)
    with harness.workdir() as tmp:
        base = await measure_relay(args, tmp, "--decline-compression")
        defaults = await measure_relay(args, tmp)

        port = harness.free_port()
        (tmp / "app").mkdir()
        env = harness.app_env(tmp / "app", port)
        server = harness.app_server(env, tmp / "app.log")
        try:
            await server.ready()
            demo = harness.seed(env)
            pairs = await harness.create_consults(server.url, demo, args.consults)
            tokens = [t for pair in pairs for t in (pair["clinician"], pair["patient"])]
            app = await measure(server, tokens, args.sockets, args.churn, args.cycles, args.settle, tmp)
        finally:
            server.stop()

    harness.emit({
        "target": "P2", "what": "idle authenticated sockets per process; RSS after churn",
        "sockets": args.sockets, "churn": args.churn, "cycles": args.cycles,
        "app": app, "baseline": base, "baseline_library_defaults": defaults,
        "ratio_kib_per_socket": harness.ratio(app["kib_per_socket"], base["kib_per_socket"]),
        "ratio_kib_per_socket_to_library_defaults": harness.ratio(app["kib_per_socket"],
                                                                  defaults["kib_per_socket"]),
        "met": {"kib_per_socket": app["kib_per_socket"] <= MAX_KIB_PER_SOCKET,
                "rss_back_within_10pct": app["rss_growth_after_churn_pct"] is not None
                and app["rss_growth_after_churn_pct"] <= 10,
                "rss_back_within_10pct_settled": app["rss_growth_settled_pct"] <= 10},
        "baseline_is": "bare python-socketio relay, same transport (WebSocket, permessage-deflate declined), "
                       "no auth, no database; baseline_library_defaults: the same relay on the libraries' "
                       "defaults (permessage-deflate accepted)",
    })


if __name__ == "__main__":
    asyncio.run(main())
