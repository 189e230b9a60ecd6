"""P8 without sockets: what one reconnect's read costs inside the process.

``python -m bench.p8_connect_inprocess [--consults 300] [--rounds 3]``

Setup (not timed): ``--consults`` consults of the demo clinic, one patient each,
made through the app's services, each with one payment request (so a card), and
every token connected once (a patient's first connect marks them joined: one
write, never again). Then, ``--rounds`` times over every clinician and patient,
what the socket's connect does after its rooms: ``ConsultService.join`` (the
consult still running, its state and cards, a clinician's limits) and the
``consult:state`` JSON made of it. Timed in CPU seconds of this process, with
the statements counted where SQLite runs them (its trace hook: statements on the
driver count too). Baseline: the token check of every socket event
(``ConsultService.participant``: one ready statement) for the same tokens, so
the ratio says how many such checks one connect's read costs. One JSON object out.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench import harness


async def measure(env: dict[str, str], count: int, rounds: int) -> dict[str, Any]:

    from app.__main__ import _seed, with_services
    from app.billing.card_views import CardSummary
    from app.billing.serialisers import as_json
    from app.commands import CreateConsult, RequestPayment
    from app.config import Settings
    from app.payments.amount_limits import limits_view

    settings = replace(Settings.from_env(env, dotenv=Path("/nonexistent")), log_level="WARNING")

    async def action(services: Any) -> dict[str, Any]:
        demo = await _seed(services)
        tokens: list[str] = []
        for i in range(count):
            consult = await services.consults.create(demo["organisation_id"],
                                                     CreateConsult.parse(harness.consult_body(demo, i)))
            who = await services.consults.participant(consult.clinician.token)
            await services.payments.request(who, RequestPayment(amount=45000 + i, description=f"Consultation {i}"))
            tokens += [consult.clinician.token, consult.patients[0].token]
        claims = [services.consults.claims(token) for token in tokens]
        for c in claims:
            await services.consults.join(c)  # the first connects: the patients join

        async def connect(c: Any) -> dict[str, Any]:
            who, state, cards, limits = await services.consults.join(c)
            state = as_json(state)
            state["cards"] = [as_json(CardSummary.from_row(card)) for card in cards]
            if who.role == "clinician":
                state["limits"] = limits_view(limits)
            return state

        with harness.sqlite_statements(services.db.engine) as counted:
            await connect(claims[0])
        statements = counted["statements"]

        per_connect, per_check = [], []
        for _ in range(rounds):
            t0 = time.process_time()
            for c in claims:
                await connect(c)
            per_connect.append((time.process_time() - t0) / len(claims) * 1e6)
            t0 = time.process_time()
            for token in tokens:
                await services.consults.participant(token)
            per_check.append((time.process_time() - t0) / len(tokens) * 1e6)
        connect_us, check_us = statistics.median(per_connect), statistics.median(per_check)
        return {"cpu_us_per_connect": round(connect_us), "rounds_cpu_us_per_connect": [round(x) for x in per_connect],
                "statements_per_connect": statements, "baseline_cpu_us_per_token_check": round(check_us),
                "ratio": harness.ratio(connect_us, check_us)}

    return await with_services(settings, action)


async def main() -> None:
    p = harness.parser(__doc__ or "")
    p.add_argument("--consults", type=int, default=300)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    with harness.workdir() as tmp:
        data = tmp / "app"
        data.mkdir()
        result = await measure(harness.app_env(data, harness.free_port()), args.consults, args.rounds)
    harness.emit({"target": "P8", "what": "a reconnect's read and consult:state in process, SQLite, no sockets",
                  "consults": args.consults, "connects_per_round": 2 * args.consults, **result,
                  "baseline": "the token check of a socket event (one ready statement) for the same tokens"})


if __name__ == "__main__":
    asyncio.run(main())
