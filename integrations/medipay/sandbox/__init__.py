"""A MediPay-compatible sandbox server: MediPay's wire protocol
(integrations/medipay/protocol.py), the Checkout page the SMS links to, signed
at-least-once callbacks, its own clock and a control surface for tests and
demos — reached through the same HTTP client as the real service, by base URL.

Any username with the password ``medipay-test`` is a valid account.
"""

from .app import create_sandbox_app
from .context import CALLBACK_SECRET, SANDBOX, SANDBOX_PASSWORD, Rules

__all__ = ["CALLBACK_SECRET", "SANDBOX", "SANDBOX_PASSWORD", "Rules", "create_sandbox_app"]
