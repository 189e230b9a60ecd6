"""P4's other half: how fast the MediPay sandbox takes claims.

Starts ``python -m integrations.medipay.sandbox`` as its own process (on a
state file, as the built-in one runs), exports N claims through the app's
MediPayHTTPClient with C requests in flight, and prints one JSON object:
claims per second, latency percentiles, and that every claim exists once
with one SMS. Usage: ``python bench/p4_medipay_sandbox.py [--claims N] [--concurrency C]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from integrations.medipay.client import MediPayHTTPClient  # noqa: E402
from integrations.medipay.protocol import Address, Claim, ClaimPatient, Credentials  # noqa: E402

CREDENTIALS = Credentials("bench-clinic", "medipay-test")
PATIENT = ClaimPatient(name="Kari Nordmann", national_id="15108695088", mobile="+4791234567",
                       address=Address("Storgata 1", "0155", "Oslo"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def main(n: int, concurrency: int) -> dict[str, object]:
    port = _free_port()
    with tempfile.TemporaryDirectory() as tmp:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "integrations.medipay.sandbox", "--port", str(port),
            "--data", str(Path(tmp) / "medipay.sqlite3"), "--callback-secret", "mpsec_bench",
            cwd=str(ROOT), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
        assert proc.stdout
        await asyncio.wait_for(proc.stdout.readline(), 15)
        base = f"http://127.0.0.1:{port}"
        client = MediPayHTTPClient(base, timeout=60, max_connections=concurrency)
        latencies: list[float] = []
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(n):
            queue.put_nowait(i)

        async def worker() -> None:
            while True:
                try:
                    i = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                started = time.perf_counter()
                await client.export_claim(CREDENTIALS, Claim(id=f"card_{i:07d}", patient=PATIENT,
                                                             amount=45000, description="Consultation"))
                latencies.append(time.perf_counter() - started)

        try:
            started = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            elapsed = time.perf_counter() - started
            async with aiohttp.ClientSession() as http:
                async with http.get(base + "/_control/sms") as resp:
                    sms = (await resp.json())["sms"]
        finally:
            await client.close()
            proc.terminate()
            await proc.wait()
    latencies.sort()

    def pct(p: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000, 2)

    return {"benchmark": "p4_medipay_sandbox", "claims": n, "concurrency": concurrency,
            "seconds": round(elapsed, 2), "claims_per_s": round(n / elapsed, 1),
            "p50_ms": pct(0.5), "p99_ms": pct(0.99),
            "sms": len(sms), "distinct_claims_with_sms": len({s["claim_id"] for s in sms}),
            "target": "100,000 cards exported in <= 60 s (P4)"}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--claims", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.claims, args.concurrency))))
