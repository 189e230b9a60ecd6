"""Configuration from the environment, and the command line of the contract."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.config import ConfigError, Settings

ROOT = Path(__file__).resolve().parent.parent


def env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"DATA_DIR": str(tmp_path / "var"), "DATABASE_URL": f"sqlite:///{tmp_path / 'cp.db'}", **extra}


def test_defaults_are_the_embedded_default(tmp_path: Path) -> None:
    s = Settings.from_env(env(tmp_path), dotenv=tmp_path / ".env")
    assert (s.host, s.port, s.public_url) == ("127.0.0.1", 8080, "http://127.0.0.1:8080")
    assert s.stripe_sandbox and s.medipay_sandbox and s.redis_url is None and s.is_sqlite
    assert s.stripe_base == "http://127.0.0.1:8080/_sandbox/stripe"
    assert len(s.secret_key) >= 32
    # The generated secret is kept, so tokens survive a restart.
    assert Settings.from_env(env(tmp_path), dotenv=tmp_path / ".env").secret_key == s.secret_key


def test_dotenv_adds_to_the_environment(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("PORT=9001\n# comment\nLOG_LEVEL=debug\n")
    s = Settings.from_env(env(tmp_path, PORT="9002"), dotenv=tmp_path / ".env")
    assert s.port == 9002 and s.log_level == "DEBUG"


@pytest.mark.parametrize(
    "name, value",
    [
        ("PORT", "eighty"),
        ("PORT", "70000"),
        ("PUBLIC_URL", "ftp://x"),
        ("DATABASE_URL", "mysql://x"),
        ("DATABASE_URL", "nothing"),
        ("LOG_LEVEL", "LOUD"),
        ("REDIS_URL", "http://x"),
        ("STRIPE_SECRET_KEY", "pk_test_123"),
        ("STRIPE_API_BASE", "not a url"),
        ("MEDIPAY_URL", "x"),
        ("SECRET_KEY", "short"),
    ],
)
def test_bad_values_name_the_variable(tmp_path: Path, name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env(env(tmp_path, **{name: value}), dotenv=tmp_path / ".env")


def test_real_stripe_needs_its_secrets(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        Settings.from_env(env(tmp_path, STRIPE_SECRET_KEY="sk_test_abc"), dotenv=tmp_path / ".env")
    with pytest.raises(ConfigError, match="STRIPE_WEBHOOK_SECRET"):
        Settings.from_env(env(tmp_path, STRIPE_SECRET_KEY="sk_test_abc", SECRET_KEY="k" * 40),
                          dotenv=tmp_path / ".env")


def run_cli(tmp_path: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, **env(tmp_path, **extra), "LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "app", *args], cwd=tmp_path, env=environment,
                          capture_output=True, text=True, timeout=60, check=False)


def test_seed_demo_is_idempotent_and_prints_one_object(tmp_path: Path) -> None:
    first = run_cli(tmp_path, "seed-demo", "--json")
    assert first.returncode == 0, first.stderr
    data = json.loads(first.stdout)
    assert set(data) >= {"api_key", "organisation_id", "clinic_id", "admin", "clinician"}
    assert set(data["admin"]) == {"email", "password"} and set(data["clinician"]) == {"id", "name"}
    second = json.loads(run_cli(tmp_path, "seed-demo", "--json").stdout)
    assert second == data


def test_run_job_and_bad_configuration(tmp_path: Path) -> None:
    done = run_cli(tmp_path, "run-job", "expire-requests")
    assert done.returncode == 0 and json.loads(done.stdout) == {"job": "expire-requests", "handled": 0}
    bad = run_cli(tmp_path, "run-job", "expire-requests", PORT="x")
    assert bad.returncode == 2
    assert bad.stderr.strip().count("\n") == 0 and "PORT" in bad.stderr


def test_real_medipay_needs_its_callback_secret(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="MEDIPAY_CALLBACK_SECRET"):
        Settings.from_env(env(tmp_path, MEDIPAY_URL="https://medipay.example"), dotenv=tmp_path / ".env")
    s = Settings.from_env(
        env(tmp_path, MEDIPAY_URL="https://medipay.example", MEDIPAY_CALLBACK_SECRET="mpsec_configured"),
        dotenv=tmp_path / ".env",
    )
    assert s.medipay_base == "https://medipay.example" and s.medipay_callback_secret == "mpsec_configured"
    embedded = Settings.from_env(env(tmp_path), dotenv=tmp_path / ".env")
    assert embedded.medipay_base == "http://127.0.0.1:8080/_sandbox/medipay"
    # Generated once and kept, so the sandbox and the app agree across restarts.
    again = Settings.from_env(env(tmp_path), dotenv=tmp_path / ".env")
    assert embedded.medipay_callback_secret == again.medipay_callback_secret


def test_serve_listens_with_room_for_a_reconnect_storm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # aiohttp's default backlog of 128 overflows when a drained process's sockets all come back at
    # once; the kernel then drops their SYNs and each client waits seconds for its retransmission.
    from aiohttp import web

    from app.__main__ import serve
    from app.realtime.server import LISTEN_BACKLOG

    served: dict[str, object] = {}
    monkeypatch.setattr(web, "run_app", lambda app, **kw: served.update(kw))
    assert serve(Settings.from_env(env(tmp_path), dotenv=tmp_path / ".env")) == 0
    assert served["backlog"] == LISTEN_BACKLOG >= 4096
