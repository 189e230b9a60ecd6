"""A Vipps MobilePay-compatible sandbox server: the ePayment, Access Token,
Webhooks and Order Management APIs as Vipps publishes them, the phone that
gets the push, the landing page and the QR code, signed at-least-once
webhooks, its own clock and a control surface for tests and demos — reached
through the same client (integrations/vipps/client.py) as the real service,
by base URL.

The demo merchant's keys are ``DEMO_KEYS``; ``POST /_control/merchants`` makes more.
"""

from .app import create_sandbox_app
from .context import SANDBOX, Rules
from .keys import DEMO_KEYS

__all__ = ["DEMO_KEYS", "SANDBOX", "Rules", "create_sandbox_app"]
