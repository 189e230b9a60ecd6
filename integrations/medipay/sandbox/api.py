"""MediPay's ``/v1`` API: basic auth, JSON, the errors of protocol.py, and the
faults the control surface injects.

Faults (``POST /_control/faults``) are consumed one request at a time, in
the order they were added, by requests whose path starts with the fault's
``path`` (default ``/v1/``):

=====================  ============================================================
``timeout``            wait ``seconds`` (default 30), then answer 504; nothing done
``server_error``       answer 500; nothing done
``rate_limited``       answer 429; nothing done
``disconnect``         drop the connection; nothing done
``drop_after_commit``  do the request (the claim is stored, the SMS sent), then drop
                       the connection: the caller cannot know it succeeded
``error_after_commit`` do the request, then answer 503
=====================  ============================================================

aiohttp's client (and so MediPayHTTPClient) resends an idempotent request
once by itself when the connection drops, so a drop the caller should notice
takes two faults (``"next": 2``); a drop that the resend papers over is a
fine test of idempotency too.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from integrations.medipay.protocol import parse_time
from integrations.sandbox_kit import faults

from . import claims
from .context import SANDBOX, SANDBOX_PASSWORD, Sandbox
from .errors import (
    MediPayError,
    bad_request,
    invalid_credentials,
    rate_limited,
    server_error,
    unavailable,
)
from .validation import CLAIM_ID, claim_body

FAULT_KINDS = ("timeout", "server_error", "rate_limited", "disconnect", "drop_after_commit",
               "error_after_commit")
MAX_BODY = 64 * 1024

View = Callable[[web.Request, Sandbox, str], Awaitable[tuple[int, dict[str, Any]]]]


def username(request: web.Request) -> str:
    """The account the request is for: any username with the sandbox password."""
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        raise invalid_credentials()
    try:
        login, sep, password = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
    except (ValueError, binascii.Error):
        raise invalid_credentials() from None
    if not sep:
        raise invalid_credentials()
    return account_for(login, password)


def account_for(login: str, password: str) -> str:
    """The account these credentials open: any username with the sandbox password."""
    if not login or not hmac.compare_digest(password.encode(), SANDBOX_PASSWORD.encode()):
        raise invalid_credentials()
    return login


def _drop(request: web.Request) -> web.Response:
    if request.transport is not None:
        request.transport.abort()
    raise asyncio.CancelledError  # nothing more to say on a dropped connection


def api(view: View) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handler(request: web.Request) -> web.StreamResponse:
        sb = request.app[SANDBOX]
        try:
            fault = faults.take(sb.store, sb.public_url, request.path)
            if fault is not None:
                kind = fault["kind"]
                if kind == "timeout":
                    await asyncio.sleep(float(fault.get("seconds", 30)))
                    raise MediPayError(504, "timeout", "MediPay took too long")
                if kind == "server_error":
                    raise server_error()
                if kind == "rate_limited":
                    raise rate_limited()
                if kind == "disconnect":
                    return _drop(request)
            owner = username(request)
            status, body = await view(request, sb, owner)
            if fault is not None and fault["kind"] == "drop_after_commit":
                return _drop(request)
            if fault is not None and fault["kind"] == "error_after_commit":
                raise unavailable()
        except MediPayError as e:
            return e.response()
        return web.json_response(body, status=status)

    return handler


async def _json(request: web.Request) -> Any:
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise MediPayError(413, "too_large", "The body is too large")
    raw = await request.read()
    if len(raw) > MAX_BODY:
        raise MediPayError(413, "too_large", "The body is too large")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):  # nested too deep is not JSON to us
        raise bad_request("body must be JSON") from None


def _claim_id(request: web.Request) -> str:
    claim_id = request.match_info["claim_id"]
    if not CLAIM_ID.match(claim_id):
        raise bad_request("claim id must be 1-64 characters of A-Z, a-z, 0-9, _ and -")
    return claim_id


async def account(request: web.Request, sb: Sandbox, owner: str) -> tuple[int, dict[str, Any]]:
    rules = sb.rules
    return 200, {"username": owner, "status": "active", "currency": "NOK",
                 "admin_fee": {"amount": rules.admin_fee_amount, "currency": "NOK"},
                 "limits": {"checkout_invoice": rules.checkout_invoice_limit,
                            "automatic_invoice": rules.automatic_invoice_limit}}


async def put_claim(request: web.Request, sb: Sandbox, owner: str) -> tuple[int, dict[str, Any]]:
    claim_id = _claim_id(request)
    body = claim_body(await _json(request))
    # Stored in a savepoint of the claims arriving together, answered once they are committed.
    with sb.store.grouped() as committed:
        status, claim = claims.export(sb, owner, claim_id, body)
    await committed
    return status, claims.view(claim)


async def get_claim(request: web.Request, sb: Sandbox, owner: str) -> tuple[int, dict[str, Any]]:
    claims.fire_due(sb)
    return 200, claims.view(claims.get(sb, _claim_id(request), owner))


async def list_claims(request: web.Request, sb: Sandbox, owner: str) -> tuple[int, dict[str, Any]]:
    claims.fire_due(sb)
    q = request.query
    since_text = q.get("updated_since")
    try:
        since = parse_time(since_text) if since_text else datetime.fromtimestamp(0, UTC)
    except ValueError:
        raise bad_request("updated_since must be an ISO 8601 time") from None
    assert since is not None
    limit_text = q.get("limit", "100")
    if not limit_text.isdigit() or not 1 <= int(limit_text) <= 500:
        raise bad_request("limit must be a whole number from 1 to 500")
    cursor_text = q.get("cursor") or "c0"
    if not (cursor_text.startswith("c") and cursor_text[1:].isdigit()):
        raise bad_request("cursor is not one this API handed out")
    rows, nxt = claims.list_changed(sb, owner, since.timestamp(), int(cursor_text[1:]), int(limit_text))
    return 200, {"claims": rows, "has_more": nxt is not None,
                 "next_cursor": None if nxt is None else f"c{nxt}"}


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/v1/account", api(account))
    r.add_put("/v1/claims/{claim_id}", api(put_claim))
    r.add_get("/v1/claims/{claim_id}", api(get_claim))
    r.add_get("/v1/claims", api(list_claims))
