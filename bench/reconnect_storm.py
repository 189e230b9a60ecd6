"""P8: a reconnect storm. N sockets of N/2 consults connect at once, then leave and all come back at once.

``python -m bench.reconnect_storm [--sockets 10000] [--rounds 2]``

What a deploy's drain does: a process closes its sockets and every client
reconnects at the same moment. The load generator opens all the sockets at
once (no concurrency limit) and counts a socket back when the app has sent
its ``consult:state`` (the app's connect: the token checked, the consult's
state and cards read, the rooms joined); one that fails, is closed by the
server first, or is not back within 300 s counts as not back. Round 1 is the first connect, the
later rounds the reconnects. Baseline, in the same run: the bare
python-socketio relay (same transport and listen backlog, no auth, no
database), back when connected.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from bench import harness

TARGET_RATIO = 1.5


# A socket not back this long after its round began is counted ``not_back_in_time`` (and the round ends).
ROUND_TIMEOUT_SECONDS = 300


def storm(tmp: Path, url: str, tokens: list[str], rounds: int, wait_event: str | None) -> list[dict[str, Any]]:
    return harness.loadgen({"mode": "storm", "url": url, "tokens": tokens, "rounds": rounds,
                            "wait_event": wait_event, "pause_seconds": 3,
                            "round_timeout_seconds": ROUND_TIMEOUT_SECONDS}, tmp, timeout=1800)["rounds"]


async def measure_app(tmp: Path, sockets: int, rounds: int) -> tuple[list[dict[str, Any]], int]:
    port = harness.free_port()
    (tmp / "app").mkdir(exist_ok=True)
    env = harness.app_env(tmp / "app", port)
    server = harness.app_server(env, tmp / "app.log")
    try:
        await server.ready()
        demo = harness.seed(env)
        pairs = await harness.create_consults(server.url, demo, max(1, sockets // 2))
        tokens = [t for p in pairs for t in (p["clinician"], p["patient"])][:sockets]
        return storm(tmp, server.url, tokens, rounds, "consult:state"), server.rss_kib()
    finally:
        server.stop()


async def measure_relay(tmp: Path, sockets: int, rounds: int) -> list[dict[str, Any]]:
    server = harness.relay_server(tmp / "relay.log", "--decline-compression", "--app-backlog")
    try:
        await server.ready()
        tokens = [f"{'c' if i % 2 == 0 else 'p'}:{i // 2}" for i in range(sockets)]
        return storm(tmp, server.url, tokens, rounds, None)
    finally:
        server.stop()


async def main() -> None:
    p = harness.parser(__doc__ or "")
    p.add_argument("--sockets", type=int, default=10_000)
    p.add_argument("--rounds", type=int, default=2)
    args = p.parse_args()
    harness.raise_open_files(args.sockets + 2000)  # each process holds one side of every socket
    with harness.workdir() as tmp:
        relay = await measure_relay(tmp, args.sockets, args.rounds)
        app, rss = await measure_app(tmp, args.sockets, args.rounds)
    last_app, last_relay = app[-1], relay[-1]
    ratio = harness.ratio(last_app["seconds"], last_relay["seconds"])
    harness.emit({
        "target": "P8", "what": "sockets reconnecting at once, one process, SQLite", "sockets": args.sockets,
        "app": app, "relay": relay,
        "reconnect_seconds": last_app["seconds"], "baseline_seconds": last_relay["seconds"],
        "ratio": ratio, "target_ratio": TARGET_RATIO,
        "met": ratio is not None and ratio <= TARGET_RATIO and last_app["back"] == args.sockets,
        "app_rss_kib": rss,
        "baseline_is": "the bare python-socketio relay, same transport, no auth, no database, in the same run",
    })


if __name__ == "__main__":
    asyncio.run(main())
