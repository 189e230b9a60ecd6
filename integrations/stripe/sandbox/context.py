"""What every part of the sandbox shares: the store, the webhook sender, its URL."""

from __future__ import annotations

from dataclasses import dataclass

from .store import Store
from .webhooks import Webhooks


@dataclass
class Sandbox:
    store: Store
    webhooks: Webhooks
    public_url: str
    async_delay_s: float = 5.0
