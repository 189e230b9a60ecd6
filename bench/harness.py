"""What every benchmark shares: servers as real processes, seeding, the load generator, the JSON out."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
LOADGEN = ROOT / "bench" / "loadgen.cjs"
SECRET_KEY = "bench-secret-key-that-is-long-enough-0123456789"
WEBHOOK_SECRET = "whsec_bench_secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def app_env(data_dir: Path, port: int | None, **extra: str) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", ""),
        "HOST": "127.0.0.1",
        "DATABASE_URL": f"sqlite:///{data_dir / 'consultpay.db'}",
        "DATA_DIR": str(data_dir),
        "SECRET_KEY": SECRET_KEY,
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "MEDIPAY_CALLBACK_SECRET": "mpsec_bench_secret",
        "LOG_LEVEL": "WARNING",
    }
    if port is not None:
        env["PORT"] = str(port)
    env.update(extra)
    return env


class Server:
    """One server process; ``rss_kib`` reads its resident memory."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        self._out = log.open("wb")
        self.proc = subprocess.Popen([sys.executable, *args], cwd=ROOT, env=env, stdout=self._out,
                                     stderr=subprocess.STDOUT)

    async def ready(self, timeout: float = 60) -> None:
        async with aiohttp.ClientSession() as http:
            for _ in range(int(timeout * 10)):
                if self.proc.poll() is not None:
                    raise RuntimeError(f"server exited: {self.log.read_text(errors='replace')[-2000:]}")
                try:
                    async with http.get(self.url + "/readyz") as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        raise RuntimeError(f"server not ready: {self.log.read_text(errors='replace')[-2000:]}")

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def open_sockets(self) -> int:
        """Its open network sockets (not its database files, whose pool may grow meanwhile)."""
        fds = Path(f"/proc/{self.proc.pid}/fd")
        count = 0
        for fd in fds.iterdir():
            try:
                count += os.readlink(fd).startswith("socket:")
            except OSError:
                pass  # closed while listed
        return count

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._out.close()


def app_server(env: dict[str, str], log: Path) -> Server:
    return Server(["-m", "app", "serve"], env, log, int(env["PORT"]))


def relay_server(log: Path, *args: str) -> Server:
    port = free_port()
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "")}
    return Server(["-m", "bench.relay", str(port), *args], env, log, port)


def raise_open_files(needed: int) -> int:
    """Raise this process's open-files limit (servers and the load generator inherit it).

    Many systems start shells at 1,024, far below the sockets a socket bench
    holds; the soft limit may go up to the hard one without privileges.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        soft = wanted
    if soft != resource.RLIM_INFINITY and soft < needed:
        raise RuntimeError(f"open files limited to {soft}, {needed} needed (raise the hard limit: ulimit -Hn)")
    return soft


# The PostgreSQL server the benches create their databases on (any database of it).
PG_ADMIN = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


@asynccontextmanager
async def pg_database(prefix: str, admin_url: str = PG_ADMIN) -> AsyncIterator[str]:
    """A fresh PostgreSQL database for one bench, dropped afterwards: its async driver URL."""
    import asyncpg

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = "postgres://" + admin_url.partition("://")[2]
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    try:
        yield "postgresql+asyncpg://" + admin_url.partition("://")[2].rsplit("/", 1)[0] + f"/{name}"
    finally:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


@contextmanager
def workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="consultpay-bench-") as tmp:
        yield Path(tmp)


def seed(env: dict[str, str]) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-m", "app", "seed-demo", "--json"], cwd=ROOT, env=env,
                         capture_output=True, timeout=120)
    if out.returncode != 0:
        raise RuntimeError(out.stderr.decode(errors="replace"))
    return json.loads(out.stdout)


def consult_body(demo: dict[str, Any], i: int) -> dict[str, Any]:
    """The ``i``-th bench consult of the demo clinic: one clinician, one patient with everything MediPay needs."""
    return {
        "clinic_id": demo["clinic_id"], "external_id": f"bench-{i}",
        "clinician": {"id": f"u-{i}", "name": "Dr. Bench"},
        "patients": [{"id": f"p-{i}", "name": "Kari Nordmann", "email": "kari@example.no",
                      "national_id": "15076500565", "mobile": "+4791234567",
                      "address": {"line1": "Storgata 1", "postal_code": "0150", "city": "Oslo", "country": "NO"}}],
        "currency": "NOK", "language": "en",
    }


async def create_consults(url: str, demo: dict[str, Any], count: int, *, concurrency: int = 8) -> list[dict[str, str]]:
    """``count`` consults with one patient each, through the REST API: their two tokens."""
    headers = {"Authorization": f"Bearer {demo['api_key']}"}
    out: list[dict[str, str]] = []
    queue = list(range(count))

    async def worker(http: aiohttp.ClientSession) -> None:
        while queue:
            body = consult_body(demo, queue.pop())
            while True:
                async with http.post(url + "/api/v1/consults", json=body, headers=headers) as resp:
                    data = await resp.json()
                    if resp.status == 503 and "Retry-After" in resp.headers:
                        # Busy (a loaded machine): wait as told, like any well-behaved client.
                        await asyncio.sleep(float(resp.headers["Retry-After"]))
                        continue
                    if resp.status != 201:
                        raise RuntimeError(f"creating a consult: {resp.status} {data}")
                break
            out.append({"clinician": data["clinician"]["token"], "patient": data["patients"][0]["token"]})

    async with aiohttp.ClientSession() as http:
        await asyncio.gather(*(worker(http) for _ in range(concurrency)))
    return out


@contextmanager
def sqlite_statements(engine: Any) -> Iterator[dict[str, int]]:
    """Counts the statements SQLite runs on the connections ``engine`` (an ``AsyncEngine``) hands out
    meanwhile, through ``sqlite3``'s trace hook, so those sent straight to the driver count too
    (``BEGIN`` and ``COMMIT`` among them; a trigger's own statements belong to the one that fired it)."""
    from sqlalchemy import event

    counted = {"statements": 0, "commits": 0}

    def statement(sql: str) -> None:
        if not sql.startswith("--"):
            counted["statements"] += 1
            counted["commits"] += sql == "COMMIT"

    def checkout(dbapi_conn: Any, *_args: Any) -> None:
        dbapi_conn.driver_connection._connection.set_trace_callback(statement)

    def checkin(dbapi_conn: Any, *_args: Any) -> None:
        if dbapi_conn is not None and dbapi_conn.driver_connection._connection is not None:
            dbapi_conn.driver_connection._connection.set_trace_callback(None)

    sync = engine.sync_engine
    event.listen(sync, "checkout", checkout)
    event.listen(sync, "checkin", checkin)
    try:
        yield counted
    finally:
        event.remove(sync, "checkout", checkout)
        event.remove(sync, "checkin", checkin)


def loadgen(config: dict[str, Any], tmp: Path, timeout: float = 900) -> dict[str, Any]:
    path = tmp / f"loadgen-{time.monotonic_ns()}.json"
    path.write_text(json.dumps(config))
    out = subprocess.run(["node", str(LOADGEN), str(path)], cwd=ROOT, capture_output=True, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(out.stderr.decode(errors="replace")[-2000:])
    return json.loads(out.stdout.decode().strip().splitlines()[-1])


GC_PAUSE = re.compile(r"garbage collection of generation (\d) took ([\d.]+) ms")


def long_gc_pauses(log: Path) -> dict[str, Any]:
    """The app's long garbage-collection pauses, from the lines it logs for them."""
    pauses = [(int(m.group(1)), float(m.group(2))) for m in GC_PAUSE.finditer(log.read_text(errors="replace"))]
    return {"count": len(pauses), "full": sum(1 for g, _ in pauses if g == 2),
            "max_ms": max((ms for _, ms in pauses), default=None)}


def ratio(figure: float | None, baseline: float | None) -> float | None:
    if figure is None or not baseline:
        return None
    return round(figure / baseline, 2)


def machine() -> dict[str, Any]:
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}


def emit(result: dict[str, Any]) -> None:
    result.setdefault("machine", machine())
    result.setdefault("measured_at", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    print(json.dumps(result), flush=True)


def parser(description: str) -> argparse.ArgumentParser:
    return argparse.ArgumentParser(description=description)
