"""What every part of the sandbox shares: the store, the webhook sender, where it is
reached, and Vipps' timings as the sandbox applies them."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web

from .store import Store
from .webhooks import Webhooks


@dataclass(frozen=True)
class Rules:
    open_s: float = 5 * 60      # a payment request not opened in 5 minutes expires
    approve_s: float = 5 * 60   # and, once opened, 5 more minutes to approve it
    token_s: int = 3600         # an access token lives an hour (Vipps' test environment)


@dataclass
class Sandbox:
    store: Store
    webhooks: Webhooks
    public_url: str
    rules: Rules = field(default_factory=Rules)


SANDBOX = web.AppKey("vipps_sandbox", Sandbox)
