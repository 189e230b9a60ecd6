"""A pytest plugin: record every request the app sends to Stripe and check it.

The app reaches Stripe only through ``integrations/stripe/client.py`` (and its saved-card calls,
``saved_cards_client.py``), which
sends through the SDK's ``AIOHTTPClient``. Each test gets a ``Recorder`` wrapped
around its ``request_async``, so each attempt on the wire (the SDK's own
retries included) is seen: a request whose call stack passes through the app's
gateway is recorded (method, path, parameters, ``Stripe-Version``,
``Idempotency-Key``) and checked against the SDK's own parameter definitions
for the version it pins. Requests tests send to the sandbox directly (many are
wrong on purpose) are not the app's and are left alone.

Besides the parameter definitions, one rule of Stripe's own: an
``Idempotency-Key`` is bound to the parameters first sent with it, and Stripe
answers ``idempotency_error`` to the same key with other parameters. A retry
must send the very same request.

A violation fails the test at teardown, listing every bad parameter, unless
``allowlist.py`` names it with a reason.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import stripe

from .allowlist import allowed
from .checker import Violation, check_request, decode_query
from .sdk_params import endpoint_for, pinned_api_version

GATEWAY_FILES = (str(Path("integrations") / "stripe" / "client.py"),
                 str(Path("integrations") / "stripe" / "saved_cards_client.py"))
# Across the session: how many of the app's requests were checked, per endpoint.
CHECKED = pytest.StashKey[dict[str, int]]()


@dataclass
class Recorded:
    method: str
    path: str
    query: str
    body: str | None
    stripe_version: str | None
    idempotency_key: str | None
    stripe_account: str | None
    gateway_method: str  # the gateway method that sent it, e.g. "create_checkout_session"
    violations: list[Violation] = field(default_factory=list)
    tolerated: list[tuple[Violation, str]] = field(default_factory=list)

    @property
    def endpoint(self) -> str:
        ep = endpoint_for(self.method, self.path)
        return f"{self.method} {ep.template if ep else self.path}"


def _gateway_caller() -> str | None:
    """The gateway method on the call stack, or None when the app did not send this."""
    frame: Any = sys._getframe(2)
    while frame is not None:
        if frame.f_code.co_filename.endswith(GATEWAY_FILES):
            return str(frame.f_code.co_name)
        frame = frame.f_back
    return None


class Recorder:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []

    def record(self, method: str, url: str, headers: Any, post_data: Any, caller: str) -> Recorded:
        parts = urlsplit(url)
        body = post_data.decode() if isinstance(post_data, bytes) else post_data
        # The sandbox may be mounted under a prefix; Stripe's paths start at /v1/.
        path = parts.path[parts.path.find("/v1/"):] if "/v1/" in parts.path else parts.path
        sent = dict(headers or {})
        rec = Recorded(method.upper(), path, parts.query, body, sent.get("Stripe-Version"),
                       sent.get("Idempotency-Key"), sent.get("Stripe-Account"), caller)
        self._check(rec)
        self.requests.append(rec)
        return rec

    def _check(self, rec: Recorded) -> None:
        found = check_request(rec.method, rec.path, rec.query, rec.body)
        if rec.stripe_version != pinned_api_version():
            found.append(Violation("invalid", "Stripe-Version", f"sent {rec.stripe_version!r}, the stripe package "
                                   f"{stripe.VERSION} pins {pinned_api_version()!r}"))
        found.extend(self._idempotency(rec))
        ep = endpoint_for(rec.method, rec.path)
        for v in found:
            entry = allowed(rec.method, ep.template, v.param) if ep else None
            if entry is not None:
                rec.tolerated.append((v, entry.reason))
            else:
                rec.violations.append(v)

    def _idempotency(self, rec: Recorded) -> list[Violation]:
        if not rec.idempotency_key:
            return []
        first = next((r for r in self.requests if r.idempotency_key == rec.idempotency_key
                      and r.stripe_account == rec.stripe_account), None)
        if first is None or (first.method, first.path, first.body) == (rec.method, rec.path, rec.body):
            return []
        before, now = decode_query(first.body or ""), decode_query(rec.body or "")
        changed = sorted(k for k in before.keys() | now.keys() if before.get(k) != now.get(k))
        return [Violation("invalid", "Idempotency-Key", f"{rec.idempotency_key!r} reused with other parameters "
                          f"(changed: {', '.join(changed) or first.path + ' -> ' + rec.path}); "
                          "Stripe answers idempotency_error")]

    def take_violations(self) -> list[tuple[Recorded, Violation]]:
        """Hand over (and forget) what was refused: for tests that send a bad request on purpose."""
        out = [(r, v) for r in self.requests for v in r.violations]
        for r in self.requests:
            r.violations = []
        return out

    def report(self) -> str:
        lines = []
        for r in self.requests:
            for v in r.violations:
                lines.append(f"  {r.endpoint} (from {r.gateway_method}): {v}")
        return "\n".join(lines)


@pytest.fixture(autouse=True)
def stripe_requests(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator[Recorder]:
    """Every request the app sent to Stripe during this test, each checked."""
    recorder = Recorder()
    original = stripe.AIOHTTPClient.request_async

    async def recording(self: Any, method: str, url: str, headers: Any, post_data: Any = None) -> Any:
        caller = _gateway_caller()
        if caller is not None:
            recorder.record(method, url, headers, post_data, caller)
        return await original(self, method, url, headers, post_data)

    monkeypatch.setattr(stripe.AIOHTTPClient, "request_async", recording)
    yield recorder
    checked = request.config.stash.setdefault(CHECKED, {})
    for r in recorder.requests:
        checked[r.endpoint] = checked.get(r.endpoint, 0) + 1
    report = recorder.report()
    if report:
        pytest.fail("requests real Stripe would refuse (checked against the stripe package "
                    f"{stripe.VERSION}, API version {pinned_api_version()}):\n{report}", pytrace=False)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    checked = config.stash.get(CHECKED, {})
    if checked:
        terminalreporter.write_line(
            f"stripe contract: {sum(checked.values())} requests the app sent to Stripe checked against the "
            f"stripe package {stripe.VERSION} (API version {pinned_api_version()}) on {len(checked)} endpoints")
