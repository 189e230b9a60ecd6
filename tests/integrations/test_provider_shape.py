"""Both providers behind one shape: one error tree, outages told apart the same
way, each gateway verifying its own webhooks, and integrations/ standing on
its own below the app."""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import socket
import time
from pathlib import Path

import pytest

from integrations import errors
from integrations.medipay.client import MediPayHTTPClient
from integrations.medipay.protocol import Credentials, sign
from integrations.stripe.client import StripeSDKGateway

ROOT = Path(__file__).resolve().parents[2]
INTEGRATIONS = ROOT / "integrations"
# The modules the app reads provider errors from.
PROVIDER_MODULES = ("integrations.stripe.protocol", "integrations.stripe.client",
                    "integrations.medipay.protocol", "integrations.medipay.client",
                    "integrations.vipps.protocol", "integrations.vipps.client")
SECRET = "mpsec_shape_secret"


def _imported_modules(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


def test_no_module_under_integrations_imports_the_app() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in sorted(INTEGRATIONS.rglob("*.py"))
        for name in _imported_modules(path)
        if name == "app" or name.startswith("app.")
    ]
    assert offenders == []


def test_every_provider_error_is_a_provider_error() -> None:
    found = []
    for name in PROVIDER_MODULES:
        module = importlib.import_module(name)
        for attr, value in vars(module).items():
            if inspect.isclass(value) and issubclass(value, Exception) and value.__module__.startswith("integrations"):
                found.append(f"{name}.{attr}")
                assert issubclass(value, errors.ProviderError), f"{name}.{attr} is not a ProviderError"
    # Both trees were looked at, and the names the app imports are still there.
    assert {"integrations.stripe.protocol.CardRefused", "integrations.medipay.protocol.ClaimRefused",
            "integrations.medipay.protocol.InvalidCredentials"} <= set(found)


def test_the_kinds_are_the_same_classes_for_both_providers() -> None:
    stripe_protocol = importlib.import_module("integrations.stripe.protocol")
    medipay_protocol = importlib.import_module("integrations.medipay.protocol")
    for kind in ("ProviderError", "ProviderUnavailable", "SignatureError"):
        assert getattr(stripe_protocol, kind) is getattr(errors, kind)
        assert getattr(medipay_protocol, kind) is getattr(errors, kind)
    # A wrong PayEx password is an access refusal, a refused claim a request refusal.
    assert issubclass(medipay_protocol.InvalidCredentials, errors.AccessRefused)
    assert issubclass(medipay_protocol.ClaimRefused, errors.RequestRefused)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_an_outage_is_provider_unavailable_for_both_providers() -> None:
    base = f"http://127.0.0.1:{_closed_port()}"
    stripe_gateway = StripeSDKGateway(api_key="sk_test_shape", webhook_secret="whsec_shape", api_base=base)
    medipay_gateway = MediPayHTTPClient(base, timeout=2, callback_secret=SECRET)
    try:
        with pytest.raises(errors.ProviderUnavailable) as stripe_down:
            await stripe_gateway.retrieve_account("acct_nowhere")
        with pytest.raises(errors.ProviderUnavailable) as medipay_down:
            await medipay_gateway.verify_account(Credentials("clinic-oslo", "medipay-test"))
    finally:
        await stripe_gateway.close()
        await medipay_gateway.close()
    for outage in (stripe_down.value, medipay_down.value):
        assert not isinstance(outage, errors.ProviderRefused)
        assert outage.__cause__ is not None  # the transport's own error is kept


def _callback() -> bytes:
    return json.dumps({"id": "evt_1", "type": "claim.paid", "created": "2030-01-01T00:00:00Z",
                       "claim": {"id": "card_1", "state": "paid"}}).encode()


def test_the_medipay_gateway_verifies_its_own_callbacks() -> None:
    gateway = MediPayHTTPClient("http://127.0.0.1:9", callback_secret=SECRET)
    body = _callback()
    event = gateway.verify_callback(body, sign(body, SECRET, int(time.time())))
    assert event["id"] == "evt_1"
    for header in (None, sign(body, "mpsec_someone_else", int(time.time())),
                   sign(body, SECRET, int(time.time()) - 3600)):
        with pytest.raises(errors.SignatureError):
            gateway.verify_callback(body, header)


def test_a_medipay_gateway_without_a_callback_secret_verifies_nothing() -> None:
    gateway = MediPayHTTPClient("http://127.0.0.1:9")
    body = _callback()
    with pytest.raises(errors.SignatureError):
        gateway.verify_callback(body, sign(body, "", int(time.time())))
