"""P1 without sockets: what one ``payment:request`` costs inside the process.

``python -m bench.p1_request_inprocess [--requests 600]``

Setup (not timed): ``--requests`` consults of the demo clinic, made through
the app's services. Then, one after another, what the Socket.IO handler does
for each ``payment:request``: check the clinician's join token against the
consult (``ConsultService.participant``) and store the request
(``PaymentService.request``, its bill card and line, the audit entry), the
first request of each consult, as in ``bench.p1_push_latency``. Each token is
first checked once, untimed, as the socket's connect does (``ConsultService.claims``),
unless ``--cold-tokens``. Timed in CPU seconds of this process (steadier than
wall time on a shared machine), with the statements counted where SQLite runs
them (its trace hook: statements on the driver count too, and ``BEGIN`` and
``COMMIT`` are statements) and the commits. The push itself is not included.
Baseline: the same number of bare primary-key ``SELECT``s of a consult
through the same async session, so the ratio says how many "simple reads"
one request costs. One JSON object out.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench import harness


async def measure(env: dict[str, str], count: int, cold_tokens: bool = False) -> dict[str, Any]:
    from sqlalchemy import bindparam, select

    from app.__main__ import _seed, with_services
    from app.commands import CreateConsult, RequestPayment
    from app.config import Settings
    from app.models import Consult

    settings = replace(Settings.from_env(env, dotenv=Path("/nonexistent")), log_level="WARNING")

    async def action(services: Any) -> dict[str, Any]:
        demo = await _seed(services)
        tokens, ids = [], []
        for i in range(count):
            body = CreateConsult.parse(harness.consult_body(demo, i))
            consult = await services.consults.create(demo["organisation_id"], body)
            tokens.append(consult.clinician.token)
            ids.append(consult.id)
            if not cold_tokens:
                services.consults.claims(consult.clinician.token)  # the socket's connect
        with harness.sqlite_statements(services.db.engine) as counted:
            t0 = time.process_time()
            for i, token in enumerate(tokens):
                who = await services.consults.participant(token)
                await services.payments.request(who, RequestPayment(amount=45000 + i, description=f"Consultation {i}"))
            request_s = time.process_time() - t0

        table = Consult.__table__
        ready = select(table.c.id).where(table.c.id == bindparam("id"))
        async with services.db.read() as s:
            t0 = time.process_time()
            for consult_id in ids:
                await s.scalar(ready, {"id": consult_id})
            select_s = time.process_time() - t0
        per_request_ms = request_s / count * 1000
        return {"cpu_ms_per_request": round(per_request_ms, 2),
                "requests_per_cpu_second": round(count / request_s),
                "statements_per_request": round(counted["statements"] / count, 1),
                "commits_per_request": round(counted["commits"] / count, 2),
                "baseline_cpu_ms_per_select": round(select_s / count * 1000, 3),
                "ratio": harness.ratio(per_request_ms, select_s / count * 1000)}

    return await with_services(settings, action)


async def main() -> None:
    p = harness.parser(__doc__ or "")
    p.add_argument("--requests", type=int, default=600)
    p.add_argument("--cold-tokens", action="store_true",
                   help="check each token for the first time inside the timed part (PyJWT's decode included)")
    args = p.parse_args()
    with harness.workdir() as tmp:
        data = tmp / "app"
        data.mkdir()
        result = await measure(harness.app_env(data, harness.free_port()), args.requests, args.cold_tokens)
    harness.emit({"target": "P1", "what": "payment:request in process (token check and storing), SQLite, no sockets",
                  "requests": args.requests, "tokens": "cold" if args.cold_tokens else "checked at connect", **result,
                  "baseline": "a ready-built primary-key SELECT of a consult through the same async session"})


if __name__ == "__main__":
    asyncio.run(main())
