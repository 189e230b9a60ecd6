"""The ePayment, Webhooks and Order Management endpoints, on the common ground of api.py."""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from aiohttp import web

from . import payments, validation
from .api import access_token, api, idempotent, json_body
from .context import Sandbox
from .errors import conflict, invalid, not_found


def _reference(request: web.Request) -> str:
    reference = request.match_info["reference"]
    if not validation.REFERENCE.match(reference):
        raise not_found(f"No payment with reference {reference!r}")
    return reference


async def create_payment(request: web.Request, sb: Sandbox, msn: str) -> tuple[int, Any]:
    raw = await json_body(request)
    body = validation.create_body(raw)

    def run(key: str) -> tuple[int, Any]:
        if sb.store.get("payment", payments.key(msn, body["reference"])) is not None:
            raise conflict(f"A payment with reference {body['reference']!r} already exists")
        payment = payments.create(sb, msn, body, key)
        answer = {"reference": payment["reference"]}
        url = payments.redirect_url(sb, payment)
        if url:
            answer["redirectUrl"] = url
        return 201, answer

    return idempotent(request, sb, msn, raw, run)


async def get_payment(request: web.Request, sb: Sandbox, msn: str) -> tuple[int, Any]:
    return 200, payments.view(sb, payments.get(sb, msn, _reference(request)))


async def get_events(request: web.Request, sb: Sandbox, msn: str) -> tuple[int, Any]:
    return 200, payments.events(payments.get(sb, msn, _reference(request)))


async def capture(request: web.Request, sb: Sandbox, msn: str) -> tuple[int, Any]:
    reference, raw = _reference(request), await json_body(request)
    amount = validation.modification_body(raw)
    return idempotent(request, sb, msn, raw, lambda key: (200, payments.modification_view(
        payments.capture(sb, msn, reference, amount, key))))


async def refund(request: web.Request, sb: Sandbox, msn: str) -> tuple[int, Any]:
    reference, raw = _reference(request), await json_body(request)
    amount = validation.modification_body(raw)
    return idempotent(request, sb, msn, raw, lambda key: (200, payments.modification_view(
        payments.refund(sb, msn, reference, amount, key))))


async def cancel(request: web.Request, sb: Sandbox, msn: str) -> tuple[int, Any]:
    reference, raw = _reference(request), await json_body(request)
    if raw is not None and not isinstance(raw, dict):
        raise invalid("body", "Must be an object")
    return idempotent(request, sb, msn, raw, lambda key: (200, payments.modification_view(
        payments.cancel(sb, msn, reference, key))))


# the Webhooks API -------------------------------------------------------------
async def register_webhook(request: web.Request, sb: Sandbox, msn: str) -> tuple[int, Any]:
    url, events = validation.webhook_body(await json_body(request))
    hook = {"id": str(uuid.uuid4()), "url": url, "events": events, "secret": secrets.token_urlsafe(48), "msn": msn}
    sb.store.put("webhook", hook["id"], hook, owner=msn)
    return 201, {"id": hook["id"], "secret": hook["secret"]}


async def list_webhooks(request: web.Request, sb: Sandbox, msn: str) -> tuple[int, Any]:
    return 200, {"webhooks": [{"id": h["id"], "url": h["url"], "events": h["events"]}
                              for h in sb.store.all("webhook", msn)]}


async def delete_webhook(request: web.Request, sb: Sandbox, msn: str) -> tuple[int, Any]:
    hook_id = request.match_info["id"]
    with sb.store.transaction():
        hook = sb.store.get("webhook", hook_id)
        if hook is None or hook["msn"] != msn:
            raise not_found("No such webhook")
        sb.store.delete("webhook", hook_id)
    return 204, None


# Order Management: receipts -----------------------------------------------------
async def add_receipt(request: web.Request, sb: Sandbox, msn: str) -> tuple[int, Any]:
    if request.match_info["payment_type"] not in ("ecom", "recurring"):
        raise invalid("paymentType", "Must be ecom or recurring")
    order_id = request.match_info["order_id"]
    receipt = validation.receipt_body(await json_body(request))
    with sb.store.transaction():
        payment = sb.store.get("payment", payments.key(msn, order_id))
        if payment is None:
            raise not_found(f"No order with id {order_id!r}")
        if payment["receipt"] is not None:
            raise conflict("The order already has a receipt")
        payment["receipt"] = receipt
        payments.save(sb, payment, due=payment.get("__due"))
    return 201, {}


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_post("/accesstoken/get", access_token)
    r.add_post("/epayment/v1/payments", api(create_payment))
    r.add_get("/epayment/v1/payments/{reference}", api(get_payment))
    r.add_get("/epayment/v1/payments/{reference}/events", api(get_events))
    r.add_post("/epayment/v1/payments/{reference}/capture", api(capture))
    r.add_post("/epayment/v1/payments/{reference}/refund", api(refund))
    r.add_post("/epayment/v1/payments/{reference}/cancel", api(cancel))
    r.add_post("/webhooks/v1/webhooks", api(register_webhook))
    r.add_get("/webhooks/v1/webhooks", api(list_webhooks))
    r.add_delete("/webhooks/v1/webhooks/{id}", api(delete_webhook))
    r.add_post("/order-management/v2/{payment_type}/receipts/{order_id}", api(add_receipt))
