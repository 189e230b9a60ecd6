"""The P3 baseline: a plain aiohttp handler that verifies Stripe's signature and answers 200.

``python -m bench.webhook_baseline PORT SECRET``; the same verification code as the app's.
"""

from __future__ import annotations

import json
import sys

from aiohttp import web

from integrations.stripe.protocol import SignatureError


def create_baseline(secret: str) -> web.Application:
    import stripe

    async def webhook(request: web.Request) -> web.Response:
        payload = await request.read()
        try:
            stripe.WebhookSignature.verify_header(payload.decode(), request.headers.get("Stripe-Signature"),
                                                  secret, 300)
            json.loads(payload)
        except (stripe.SignatureVerificationError, ValueError) as e:
            raise web.HTTPBadRequest() from SignatureError(str(e), "bad_signature")
        return web.json_response({"received": True})

    async def ready(_request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/webhooks/stripe", webhook)
    app.router.add_get("/readyz", ready)
    return app


if __name__ == "__main__":
    web.run_app(create_baseline(sys.argv[2]), host="127.0.0.1", port=int(sys.argv[1]), print=None)
