"""A Stripe-compatible sandbox server: Stripe's wire protocol, hosted checkout
and onboarding pages, and signed webhooks — reached through the official SDK
by changing only its base address."""

from .app import create_sandbox_app
from .keys import CONNECT_SECRET_KEY, SANDBOX, SECRET_KEY
from .webhooks import sign

__all__ = ["CONNECT_SECRET_KEY", "SANDBOX", "SECRET_KEY", "create_sandbox_app", "sign"]
