"""Stripe: the protocol the app depends on, the real SDK client, and the sandbox."""
