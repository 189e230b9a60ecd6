"""REST fuzzed from our own OpenAPI description: no input gets a 5xx (R5).

The server runs as a real process (`python -m app`) so schemathesis' blocking
HTTP client cannot stall it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from app.web.openapi import SPEC
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
schema = schemathesis.openapi.from_dict(SPEC)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    work = tmp_path_factory.mktemp("fuzz")
    port = free_port()
    env = {**os.environ, "PORT": str(port), "DATA_DIR": str(work / "var"), "LOG_LEVEL": "ERROR",
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
