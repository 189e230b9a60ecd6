"""What every part of the sandbox shares: the store, the callback sender, its
URL and MediPay's rules (fee, limits, the 48-hour window)."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web

from .callbacks import Callbacks
from .store import Store

# The password the sandbox accepts for any username (see the README).
SANDBOX_PASSWORD = "medipay-test"


@dataclass(frozen=True)
class Rules:
    """MediPay's terms as the sandbox applies them; every amount in øre (NOK minor units)."""

    admin_fee_amount: int = 3900            # ekspedisjonsgebyr, NOK 39.00
    checkout_invoice_limit: int = 5_000_000  # full credit check in Checkout: NOK 50,000
    automatic_invoice_limit: int = 300_000  # PayEx's internal assessment: NOK 3,000
    choice_window_s: float = 48 * 3600      # no choice in 48 h: an invoice is sent
    reminder_before_s: float = 8 * 3600     # the reminder SMS goes 8 h before that
    invoice_due_days: int = 14


@dataclass
class Sandbox:
    store: Store
    callbacks: Callbacks
    public_url: str
    rules: Rules = field(default_factory=Rules)


SANDBOX = web.AppKey("medipay_sandbox", Sandbox)
CALLBACK_SECRET = web.AppKey("medipay_callback_secret", str)
