"""REST fuzzed from our own OpenAPI description: no input gets a 5xx (R5).

The server runs as a real process (`python -m app`) so schemathesis' blocking
HTTP client cannot stall it. Both generation modes run: positive data within
the documented bounds, and negative data that breaks them (unknown properties
— the bodies are ``additionalProperties: false`` —, wrong types, numbers and
texts past their bounds). A hand-written set of extreme values follows, so the
worst cases are sent on every run, not only when the generator finds them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode

from app.web.openapi import REQUEST_BODIES, SPEC
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
schema = schemathesis.openapi.from_dict(SPEC)
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    work = tmp_path_factory.mktemp("fuzz")
    port = free_port()
    # The load gate off: a stalled loop on a loaded test machine would answer 503 busy (tested elsewhere).
    env = {**os.environ, "PORT": str(port), "DATA_DIR": str(work / "var"), "LOG_LEVEL": "ERROR",
           "OVERLOAD_LAG_MS": "0", "OVERLOAD_QUEUE_MS": "0",
           "DATABASE_URL": f"sqlite:///{work / 'cp.db'}", "PYTHONPATH": str(ROOT)}
    seeded = subprocess.run([sys.executable, "-m", "app", "seed-demo", "--json"], cwd=work, env=env,
                            capture_output=True, text=True, timeout=60, check=True)
    demo = json.loads(seeded.stdout)
    proc = subprocess.Popen([sys.executable, "-m", "app"], cwd=work, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=1):
                    break
            except OSError:
                time.sleep(0.1)
        yield {"base": base, "key": demo["api_key"], "clinic": demo["clinic_id"]}
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=15)
        # An unhandled exception is logged with a traceback; there must be none.
        assert b"Traceback" not in err, err.decode(errors="replace")[-3000:]


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case: schemathesis.Case, server: dict[str, str]) -> None:
    # Aim past the clinic look-up most of the time, into the validation of everything else.
    if isinstance(case.body, dict) and isinstance(case.body.get("clinic_id"), str):
        case.body["clinic_id"] = server["clinic"]
    response = case.call(base_url=server["base"], headers={"Authorization": f"Bearer {server['key']}"}, timeout=10)
    assert response.status_code < 500, (case.method, case.path, case.body, response.text[:500])
    if response.status_code >= 400:
        body = response.json()
        assert body["error"]["code"] and body["error"]["message"]


HUGE = 10**30
LONG = "x" * 100_000
EXTREME_VALUES: list[Any] = [None, True, -1, 0, -HUGE, HUGE, 1.5, 1e308, "", " ", LONG, "\u202e" * 10, "\x00",
                             [], [None], {}, {"zz": 1}, [[[[[]]]]]]
EXTREME_QUERIES = ["page=" + "9" * 20, "limit=" + "9" * 20, "offset=" + "9" * 20, "limit=-1", "offset=-1",
                   "from=0001-01-01", "to=9999-12-31", "from=9999-12-31T23:59:59%2B14:00", "to=" + "9" * 40,
                   "price_per_card=" + "9" * 20, "price_percent=999.99", "status=" + "paid," * 100,
                   "cursor=" + "A" * 399, "format=xml", "zz_unknown=1"]


def _extreme_bodies(op_id: str, clinic_id: str) -> Iterator[dict[str, Any]]:
    fields = REQUEST_BODIES[op_id].fields
    for name in fields:
        for value in EXTREME_VALUES:
            yield {"clinic_id": clinic_id, name: value}
    yield {"zz_unknown": 1, **{name: HUGE for name in fields}}


def _call(server: dict[str, str], method: str, path: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(server["base"] + path, data=data, method=method, headers={
        "Authorization": f"Bearer {server['key']}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def test_extreme_values_in_every_body_are_4xx(server: dict[str, str]) -> None:
    operations = {op["operationId"]: (method.upper(), path) for path, item in SPEC["paths"].items()
                  for method, op in item.items()}
    for op_id in REQUEST_BODIES:
        method, path = operations[op_id]
        path = path.replace("{request_id}", "pr_missing").replace("{card_id}", "bc_missing")
        for body in _extreme_bodies(op_id, server["clinic"]):
            status, answer = _call(server, method, path, body)
            assert status < 500, (op_id, body, answer)
            if status >= 400:
                assert answer["error"]["code"] and answer["error"]["message"], answer


def test_extreme_query_values_are_4xx(server: dict[str, str]) -> None:
    for path in ("/api/v1/bill-cards", "/api/v1/reports/settlement", "/api/v1/reports/medipay-earnings"):
        for query in EXTREME_QUERIES:
            status, answer = _call(server, "GET", f"{path}?{query}")
            assert status < 500, (path, query, answer)
