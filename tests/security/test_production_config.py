"""Issue 11, items 1 and 3: an app configured for production runs nothing demo-only."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.config import ConfigError
from tests.security.support import PRODUCTION, REAL_MEDIPAY, serving, settings_for

ROOT = Path(__file__).resolve().parents[2]


def run_cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "DATA_DIR": str(tmp_path / "var"),
                   "DATABASE_URL": f"sqlite:///{tmp_path / 'cp.db'}", "LOG_LEVEL": "WARNING",
                   "PYTHONPATH": str(ROOT), **env}
    for name in ("MEDIPAY_URL", "SANDBOXES", "DEMO", "STRIPE_API_BASE", "VIPPS_API_BASE"):
        if name not in env:
            environment.pop(name, None)
    return subprocess.run([sys.executable, "-m", "app", *args], cwd=tmp_path, env=environment,
                          capture_output=True, text=True, timeout=60, check=False)


def test_real_stripe_without_medipay_url_refuses_to_start_naming_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="MEDIPAY_URL"):
        settings_for(tmp_path, **PRODUCTION)
    started = run_cli(tmp_path, "migrate", **PRODUCTION)
    assert started.returncode == 2
    assert started.stderr.strip().count("\n") == 0 and "MEDIPAY_URL" in started.stderr
    assert not (tmp_path / "cp.db").exists()  # refused before anything was created
    # Asking for the MediPay sandbox by name is a decision, and allowed.
    chosen = settings_for(tmp_path, **PRODUCTION, SANDBOXES="medipay")
    assert chosen.sandboxes == {"medipay"} and not chosen.demo


@pytest.mark.parametrize("env, variable", [
    ({"SANDBOXES": "stripe,medipay"}, "SANDBOXES"),  # the Stripe sandbox would sign with the real secret
    ({"DEMO": "on", **REAL_MEDIPAY}, "DEMO"),
    ({"SANDBOXES": "medipay,paypal"}, "SANDBOXES"),
])
def test_demo_only_parts_are_refused_beside_real_stripe(tmp_path: Path, env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        settings_for(tmp_path, **PRODUCTION, **env)


def test_the_embedded_default_keeps_sandboxes_and_demo(tmp_path: Path) -> None:
    embedded = settings_for(tmp_path)
    assert embedded.sandboxes == {"stripe", "medipay", "vipps"} and embedded.demo
    off = settings_for(tmp_path, DEMO="off")
    assert not off.demo
    with pytest.raises(ConfigError, match="MEDIPAY_URL"):
        settings_for(tmp_path, SANDBOXES="stripe")
    with pytest.raises(ConfigError, match="TRUSTED_PROXIES"):
        settings_for(tmp_path, TRUSTED_PROXIES="the proxy")


async def test_production_exposes_no_sandbox_demo_or_control_surface(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, **PRODUCTION, **REAL_MEDIPAY)
    async with serving(settings) as (url, http):
        for method, path in [
            ("GET", "/demo"),
            ("GET", "/_sandbox/stripe/v1/accounts"),
            ("GET", "/_sandbox/stripe/_control/events"),
            ("POST", "/_sandbox/stripe/_control/webhooks"),
            ("GET", "/_sandbox/medipay/"),
            ("GET", "/_sandbox/medipay/_control/claims"),
            ("POST", "/_sandbox/medipay/_control/claims/c_1/choose"),
        ]:
            async with http.request(method, url + path, headers={"Authorization": "Bearer sk_test_x"}) as resp:
                assert resp.status == 404, (method, path, resp.status)
        async with http.get(url + "/healthz") as resp:
            assert resp.status == 200


def test_seed_demo_is_refused_in_production(tmp_path: Path) -> None:
    refused = run_cli(tmp_path, "seed-demo", "--json", **PRODUCTION, **REAL_MEDIPAY)
    assert refused.returncode == 2 and "DEMO" in refused.stderr
    assert not (tmp_path / "cp.db").exists()
