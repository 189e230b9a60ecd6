"""P5: the settlement report over 1,000,000 bill cards (target: ≤ 1 s on SQLite and on PostgreSQL).

``python -m bench.p5_settlement_report [--cards 1000000]``

The report (``GET /api/v1/reports/settlement``) belongs to the reports work.
This command asks the app for it; while the app answers 404 it measures
nothing and says so in its one JSON object (``"status": "not_measurable"``).
"""

from __future__ import annotations

import asyncio

import aiohttp

from bench import harness


async def main() -> None:
    p = harness.parser(__doc__ or "")
    p.add_argument("--cards", type=int, default=1000000)
    args = p.parse_args()
    with harness.workdir() as tmp:
        port = harness.free_port()
        (tmp / "app").mkdir()
        env = harness.app_env(tmp / "app", port)
        server = harness.app_server(env, tmp / "app.log")
        try:
            await server.ready()
            demo = harness.seed(env)
            async with aiohttp.ClientSession() as http, http.get(
                server.url + "/api/v1/reports/settlement",
                headers={"Authorization": f"Bearer {demo['api_key']}"},
            ) as resp:
                status = resp.status
        finally:
            server.stop()
    if status == 404:
        harness.emit({"target": "P5", "status": "not_measurable", "cards": args.cards, "figure": None,
                      "reason": "GET /api/v1/reports/settlement is not in this build (404)"})
        return
    raise SystemExit(f"the report answers {status}: write the P5 measurement against it (see docs/performance.md)")


if __name__ == "__main__":
    asyncio.run(main())
