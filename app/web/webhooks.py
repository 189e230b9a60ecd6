"""Webhooks in. The signature is verified on the raw body before anything is parsed.

Stripe has two endpoints, each registered in its Dashboard with its own
signing secret: ``/webhooks/stripe`` for events of the platform's own account
(``STRIPE_WEBHOOK_SECRET``) and ``/webhooks/stripe/connect`` for those of the
clinics' connected accounts (``STRIPE_CONNECT_WEBHOOK_SECRET``). A body signed
with the other endpoint's secret is refused like a forged one.

Each gateway verifies its own: ``verify_webhook`` for Stripe's events,
``verify_callback`` for MediPay's callbacks (with ``MEDIPAY_CALLBACK_SECRET``).

Vipps MobilePay signs each ePayment webhook with the secret of the webhook
registered for that merchant (``vipps_merchants.webhook_secret_encrypted``):
the body's ``msn`` names the merchant, and nothing else in the body is read
before ``verify_webhook`` has checked the HMAC over the method, the registered
URL's path and host, the date and the raw body's hash.
"""

from __future__ import annotations

import json
import logging
from urllib.parse import urlsplit

from aiohttp import web

from app.keys import CLOCK, MEDIPAY, MEDIPAY_CALLBACKS, SERVICES, SETTINGS, STRIPE, STRIPE_EVENTS
from app.web.middleware import json_error
from integrations.errors import SignatureError
from integrations.medipay.protocol import SIGNATURE_HEADER as MEDIPAY_SIGNATURE
from integrations.vipps.client import verify_webhook

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
MAX_BODY = 512 * 1024


@routes.post("/webhooks/stripe")
async def stripe_webhook(request: web.Request) -> web.Response:
    return await _stripe_event(request, "account")


@routes.post("/webhooks/stripe/connect")
async def stripe_connect_webhook(request: web.Request) -> web.Response:
    return await _stripe_event(request, "connect")


async def _stripe_event(request: web.Request, endpoint: str) -> web.Response:
    if request.content_length is not None and request.content_length > MAX_BODY:
        return json_error(413, "too_large", "The body is too large.")
    payload = await request.read()
    try:
        event = request.app[STRIPE].verify_webhook(
            payload, request.headers.get("Stripe-Signature"), endpoint=endpoint
        )
    except SignatureError as e:
        log.warning("refused a Stripe webhook at the %s endpoint: %s", endpoint, e.message)
        return json_error(400, e.code, "The webhook signature could not be verified.")
    outcome = await request.app[STRIPE_EVENTS].handle(event, endpoint=endpoint)
    return web.json_response({"received": True, "outcome": outcome})


@routes.post("/webhooks/medipay")
async def medipay_webhook(request: web.Request) -> web.Response:
    if request.content_length is not None and request.content_length > MAX_BODY:
        return json_error(413, "too_large", "The body is too large.")
    payload = await request.read()
    try:
        event = request.app[MEDIPAY].verify_callback(payload, request.headers.get(MEDIPAY_SIGNATURE))
    except SignatureError as e:
        log.warning("refused a MediPay callback: %s", e.message)
        return json_error(400, e.code, "The callback signature could not be verified.")
    outcome = await request.app[MEDIPAY_CALLBACKS].handle(event)
    return web.json_response({"received": True, "outcome": outcome})


VIPPS_PATH = "/webhooks/vipps"


@routes.post(VIPPS_PATH)
async def vipps_webhook(request: web.Request) -> web.Response:
    if request.content_length is not None and request.content_length > MAX_BODY:
        return json_error(413, "too_large", "The body is too large.")
    payload = await request.read()
    try:
        msn = json.loads(payload).get("msn")
    except (ValueError, AttributeError):
        msn = None
    if not isinstance(msn, str) or not 0 < len(msn) <= 16:
        return json_error(400, "invalid_signature", "The webhook signature could not be verified.")
    vipps = request.app[SERVICES].vipps_payments
    secret = await vipps.webhook_secret(msn)
    # What Vipps signed: the URL registered for the merchant, under this service's public address.
    public = urlsplit(request.app[SETTINGS].public_url)
    try:
        event = verify_webhook(
            secret or "", method=request.method, path_and_query=public.path.rstrip("/") + request.path_qs,
            host=public.netloc, headers=request.headers, body=payload, now=request.app[CLOCK].now(),
        )
    except SignatureError as e:
        log.warning("refused a Vipps webhook for merchant %s: %s", msn, e.message)
        return json_error(401, "invalid_signature", "The webhook signature could not be verified.")
    outcome = await vipps.handle_event(event)
    return web.json_response({"received": True, "outcome": outcome})
