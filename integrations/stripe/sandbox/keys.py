"""Typed keys under which the sandbox app keeps what its handlers need."""

from __future__ import annotations

from aiohttp import web

from .context import Sandbox

SANDBOX = web.AppKey("stripe_sandbox", Sandbox)
SECRET_KEY = web.AppKey("stripe_sandbox_webhook_secret", str)
CONNECT_SECRET_KEY = web.AppKey("stripe_sandbox_connect_webhook_secret", str)
