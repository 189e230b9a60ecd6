"""The APIs' common ground: access tokens, who a request is for, JSON bodies,
idempotent answers, and the faults the control surface injects.

Faults (``POST /_control/faults``) are taken one request at a time, in the
order they were added, by API requests whose path starts with the fault's
``path`` (default ``/``, relative to the sandbox):

=======================  ==========================================================
``timeout``              wait ``seconds`` (default 30), then answer 504; nothing done
``server_error``         answer 500; nothing done
``rate_limited``         answer 429; nothing done
``disconnect``           drop the connection; nothing done
``error_after_commit``   do the request, then answer 500: the caller cannot know it
                         succeeded, and must ask again with the same Idempotency-Key
=======================  ==========================================================
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from integrations.sandbox_kit import faults

from .context import SANDBOX, Sandbox
from .errors import VippsError, conflict, invalid, unauthorized
from .keys import merchant_by_client, merchant_by_msn, same

FAULT_KINDS = ("timeout", "server_error", "rate_limited", "disconnect", "error_after_commit")
MAX_BODY = 64 * 1024
View = Callable[[web.Request, Sandbox, str], Awaitable[tuple[int, Any]]]


async def _before(request: web.Request, sb: Sandbox) -> dict[str, Any] | None:
    fault = faults.take(sb.store, sb.public_url, request.path)
    kind = fault["kind"] if fault else None
    if kind == "timeout":
        await asyncio.sleep(float(fault.get("seconds", 30)))  # type: ignore[union-attr]
        raise VippsError(504, "gateway-timeout", "Gateway Timeout")
    if kind == "server_error":
        raise VippsError(500, "internal-error", "Internal Server Error", "An internal Vipps MobilePay problem.")
    if kind == "rate_limited":
        raise VippsError(429, "too-many-requests", "Too Many Requests")
    if kind == "disconnect" and request.transport is not None:
        request.transport.abort()
        raise asyncio.CancelledError  # nothing more to say on a dropped connection
    return fault


def merchant_msn(request: web.Request, sb: Sandbox) -> str:
    """The MSN a request is for: its bearer token, the token's subscription key and MSN."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    row = sb.store.get("token", token.strip()) if scheme == "Bearer" and token.strip() else None
    if row is None or row["expires"] <= sb.store.now():
        raise unauthorized("The access token is missing, invalid or expired")
    merchant = merchant_by_msn(sb.store, row["msn"])
    if merchant is None or not same(request.headers.get("Ocp-Apim-Subscription-Key"), merchant["subscription_key"]):
        raise unauthorized("Access denied due to invalid subscription key")
    if request.headers.get("Merchant-Serial-Number", row["msn"]) != row["msn"]:
        raise VippsError(403, "forbidden", "Forbidden", "The access token is not for this Merchant-Serial-Number")
    return str(row["msn"])


def api(view: View) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handler(request: web.Request) -> web.StreamResponse:
        sb = request.app[SANDBOX]
        try:
            fault = await _before(request, sb)
            status, body = await view(request, sb, merchant_msn(request, sb))
            if fault is not None and fault["kind"] == "error_after_commit":
                raise VippsError(500, "internal-error", "Internal Server Error", "An internal Vipps MobilePay problem.")
        except VippsError as e:
            return e.response()
        if body is None:
            return web.Response(status=status)
        return web.json_response(body, status=status)

    return handler


async def json_body(request: web.Request) -> Any:
    raw = await request.read()
    if len(raw) > MAX_BODY:
        raise VippsError(413, "payload-too-large", "Payload Too Large")
    if not raw:
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise invalid("body", "Must be JSON") from None


def idempotent(request: web.Request, sb: Sandbox, msn: str, body: Any,
               run: Callable[[str], tuple[int, Any]]) -> tuple[int, Any]:
    """The first answer to this Idempotency-Key again; the key with another request is a conflict."""
    key = request.headers.get("Idempotency-Key", "")
    if not key or len(key) > 50:
        raise invalid("Idempotency-Key", "Required, at most 50 characters")
    prefix = urlsplit(sb.public_url).path.rstrip("/")
    path = request.path[len(prefix):] if prefix and request.path.startswith(prefix) else request.path
    fingerprint = hashlib.sha256(json.dumps([path, body], sort_keys=True).encode()).hexdigest()
    row_id = f"{msn}:{key}"
    with sb.store.transaction():
        seen = sb.store.get("idem", row_id)
        if seen is not None:
            if seen["fingerprint"] != fingerprint:
                raise conflict("The Idempotency-Key has already been used with a different request")
            return seen["status"], seen["body"]
        status, answer = run(key)
        sb.store.put("idem", row_id, {"fingerprint": fingerprint, "status": status, "body": answer}, owner=msn)
    return status, answer


async def access_token(request: web.Request) -> web.StreamResponse:
    """``POST /accesstoken/get``: a bearer token for a sales unit's keys, or 401."""
    sb = request.app[SANDBOX]
    try:
        await _before(request, sb)
    except VippsError as e:
        return e.response()
    h = request.headers
    merchant = merchant_by_client(sb.store, h.get("client_id", ""))
    if (merchant is None or not same(h.get("client_secret"), merchant["client_secret"])
            or not same(h.get("Ocp-Apim-Subscription-Key"), merchant["subscription_key"])
            or h.get("Merchant-Serial-Number", merchant["msn"]) != merchant["msn"]):
        return web.json_response({"error": "unauthorized_client",
                                  "error_description": "The client id, secret, subscription key or "
                                                       "merchant serial number is wrong"}, status=401)
    now = sb.store.now()
    token = "eyJ" + secrets.token_urlsafe(40)
    lifetime = sb.rules.token_s
    sb.store.put("token", token, {"msn": merchant["msn"], "expires": now + lifetime}, owner=merchant["msn"])
    return web.json_response({"token_type": "Bearer", "expires_in": str(lifetime), "ext_expires_in": str(lifetime),
                              "expires_on": str(int(now + lifetime)), "not_before": str(int(now)),
                              "resource": "00000002-0000-0000-c000-000000000000", "access_token": token})
