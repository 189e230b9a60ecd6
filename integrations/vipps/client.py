"""Vipps MobilePay over HTTP (aiohttp): the real service or the sandbox, by base URL.

The client owns its ``aiohttp.ClientSession`` (made at first use, so the client
can be built outside a running loop); ``await close()`` in cleanup. Keys are
handed in per call, since every clinic is its own merchant; an access token is
kept per set of keys until ``TOKEN_MARGIN_S`` before Vipps said it expires, and
a call answered 401 with a kept token gets a fresh token and is sent once more.

No retries otherwise: the caller retries a ``ProviderUnavailable`` with the
same Idempotency-Key, which is what makes a second capture harmless. Errors
map as protocol.py draws them (``error_for``).

Webhooks are verified here too (``verify_webhook``): Vipps signs each request
with the webhook's secret over the method, path and query, the ``x-ms-date``,
the host and the body's SHA-256 (Webhooks API, "Request authentication").
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

import aiohttp

from integrations.vipps.protocol import (
    EPAYMENT_EVENTS,
    AccessRefused,
    CreatedPayment,
    NewPayment,
    Payment,
    PaymentEvent,
    ProviderError,
    ProviderUnavailable,
    ReceiptLine,
    SignatureError,
    UserFlow,
    VippsKeys,
    VippsProblem,
    Webhook,
)

SYSTEM_VERSION = "0.1.0"
TOKEN_MARGIN_S = 60.0
SIGNED_HEADERS = "x-ms-date;host;x-ms-content-sha256"


@contextmanager
def _mapped_errors() -> Iterator[None]:
    """Inside the block, a request that got no answer is an outage, its cause kept."""
    try:
        yield
    except (TimeoutError, aiohttp.ClientError) as e:
        raise ProviderUnavailable(f"Vipps could not be reached: {type(e).__name__}", "unreachable", str(e)) from e


def error_for(status: int, body: Any) -> ProviderError:
    """Vipps' error answer as ours: an outage to retry, a refusal of the keys, or a problem."""
    problem = body if isinstance(body, dict) else {}
    title = str(problem.get("title") or problem.get("error_description") or problem.get("message")
                or f"Vipps answered {status}")
    if status >= 500 or status in (423, 429):
        return ProviderUnavailable(title, f"http_{status}", title)
    if status in (401, 403):
        return AccessRefused(title, f"http_{status}", title)
    return VippsProblem(status, problem)


class VippsClient:
    def __init__(self, base_url: str, *, system_name: str = "consultpay", system_version: str = SYSTEM_VERSION,
                 timeout: float = 10.0, max_connections: int = 32) -> None:
        self._base = base_url.rstrip("/")
        self._system = {"Vipps-System-Name": system_name, "Vipps-System-Version": system_version,
                        "Vipps-System-Plugin-Name": system_name, "Vipps-System-Plugin-Version": system_version}
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None
        self._tokens: dict[str, tuple[str, float]] = {}
        self._token_locks: dict[str, asyncio.Lock] = {}

    @property
    def base_url(self) -> str:
        return self._base

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=self._timeout, connector=aiohttp.TCPConnector(limit=self._max_connections))
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # access tokens ---------------------------------------------------------
    async def check_keys(self, keys: VippsKeys) -> None:
        """Get a fresh access token for these keys; AccessRefused if Vipps refuses them."""
        self._tokens.pop(_cache_key(keys), None)
        await self._token(keys)

    async def _token(self, keys: VippsKeys) -> str:
        key = _cache_key(keys)
        kept = self._tokens.get(key)
        if kept and kept[1] > time.monotonic():
            return kept[0]
        async with self._token_locks.setdefault(key, asyncio.Lock()):
            kept = self._tokens.get(key)  # another call may have fetched it meanwhile
            if kept and kept[1] > time.monotonic():
                return kept[0]
            headers = {"client_id": keys.client_id, "client_secret": keys.client_secret,
                       "Ocp-Apim-Subscription-Key": keys.subscription_key,
                       "Merchant-Serial-Number": keys.merchant_serial_number, **self._system}
            status, body = await self._send("POST", "/accesstoken/get", headers, None)
            if status >= 300:
                raise error_for(status, body)
            try:
                token = str(body["access_token"])
                lifetime = float(body["expires_in"])  # a string of seconds on the wire
            except (KeyError, TypeError, ValueError) as e:
                raise ProviderError("Vipps answered with an unreadable access token", "bad_response",
                                    str(e)) from e
            self._tokens[key] = (token, time.monotonic() + max(0.0, lifetime - TOKEN_MARGIN_S))
            return token

    # transport -------------------------------------------------------------
    async def _send(self, method: str, path: str, headers: dict[str, str],
                    payload: Any) -> tuple[int, Any]:
        data = None if payload is None else json.dumps(payload, separators=(",", ":"))
        if data is not None:
            headers = {**headers, "Content-Type": "application/json"}
        with _mapped_errors():
            async with self._http().request(method, self._base + path, data=data, headers=headers) as resp:
                status = resp.status
                try:
                    body = await resp.json(content_type=None)
                except ValueError:
                    body = None
        return status, body

    async def _call(self, method: str, path: str, keys: VippsKeys, *, payload: Any = None,
                    idempotency_key: str | None = None) -> Any:
        for attempt in (1, 2):
            token = await self._token(keys)
            headers = {"Authorization": f"Bearer {token}", "Ocp-Apim-Subscription-Key": keys.subscription_key,
                       "Merchant-Serial-Number": keys.merchant_serial_number, **self._system}
            if idempotency_key is not None:
                headers["Idempotency-Key"] = idempotency_key
            status, body = await self._send(method, path, headers, payload)
            if status == 401 and attempt == 1:
                self._tokens.pop(_cache_key(keys), None)  # revoked or expired early: one fresh token
                continue
            if status >= 300:
                raise error_for(status, body)
            return body
        raise AssertionError("unreachable")

    # the ePayment API --------------------------------------------------------
    async def create_payment(self, keys: VippsKeys, new: NewPayment, *, idempotency_key: str) -> CreatedPayment:
        payload: dict[str, Any] = {
            "amount": {"currency": new.currency, "value": new.amount},
            "paymentMethod": {"type": "WALLET"},
            "reference": new.reference,
            "userFlow": str(new.user_flow),
            "paymentDescription": new.description,
        }
        if new.phone_number:
            payload["customer"] = {"phoneNumber": new.phone_number}
        if new.return_url:
            payload["returnUrl"] = new.return_url
        if new.user_flow is UserFlow.QR:
            payload["qrFormat"] = {"format": new.qr_format}
        body = await self._call("POST", "/epayment/v1/payments", keys, payload=payload,
                                idempotency_key=idempotency_key)
        try:
            return CreatedPayment(reference=str(body["reference"]), redirect_url=body.get("redirectUrl") or None)
        except (KeyError, TypeError) as e:
            raise ProviderError("Vipps answered with an unreadable payment", "bad_response", str(e)) from e

    async def get_payment(self, keys: VippsKeys, reference: str) -> Payment:
        return _payment(await self._call("GET", _payment_path(reference), keys))

    async def payment_events(self, keys: VippsKeys, reference: str) -> list[PaymentEvent]:
        body = await self._call("GET", _payment_path(reference) + "/events", keys)
        try:
            return [PaymentEvent.from_wire(e) for e in body]
        except (KeyError, TypeError, ValueError) as e:
            raise ProviderError("Vipps answered with an unreadable event log", "bad_response", str(e)) from e

    async def capture(self, keys: VippsKeys, reference: str, amount: int, currency: str, *,
                      idempotency_key: str) -> Payment:
        return _payment(await self._call(
            "POST", _payment_path(reference) + "/capture", keys,
            payload={"modificationAmount": {"currency": currency, "value": amount}}, idempotency_key=idempotency_key))

    async def cancel(self, keys: VippsKeys, reference: str, *, idempotency_key: str) -> Payment:
        return _payment(await self._call("POST", _payment_path(reference) + "/cancel", keys,
                                         idempotency_key=idempotency_key))

    async def refund(self, keys: VippsKeys, reference: str, amount: int, currency: str, *,
                     idempotency_key: str) -> Payment:
        return _payment(await self._call(
            "POST", _payment_path(reference) + "/refund", keys,
            payload={"modificationAmount": {"currency": currency, "value": amount}}, idempotency_key=idempotency_key))

    # Order Management: the receipt the patient sees in the app -------------------
    async def send_receipt(self, keys: VippsKeys, reference: str, lines: Sequence[ReceiptLine],
                           currency: str) -> None:
        payload = {"orderLines": [line.to_wire(str(i)) for i, line in enumerate(lines, 1)],
                   "bottomLine": {"currency": currency}}
        await self._call("POST", "/order-management/v2/ecom/receipts/" + quote(reference, safe=""), keys,
                         payload=payload)

    # the Webhooks API ---------------------------------------------------------
    async def register_webhook(self, keys: VippsKeys, url: str, events: Sequence[str] = EPAYMENT_EVENTS) -> Webhook:
        body = await self._call("POST", "/webhooks/v1/webhooks", keys, payload={"url": url, "events": list(events)})
        try:
            return Webhook(id=str(body["id"]), secret=str(body["secret"]))
        except (KeyError, TypeError) as e:
            raise ProviderError("Vipps answered with an unreadable webhook", "bad_response", str(e)) from e

    async def delete_webhook(self, keys: VippsKeys, webhook_id: str) -> None:
        await self._call("DELETE", "/webhooks/v1/webhooks/" + quote(webhook_id, safe=""), keys)


def verify_webhook(secret: str, *, method: str, path_and_query: str, host: str, headers: Mapping[str, str],
                   body: bytes, now: datetime, tolerance: timedelta = timedelta(minutes=5)) -> dict[str, Any]:
    """The webhook's JSON body if Vipps signed exactly this request with ``secret``; SignatureError if not.

    ``host`` and ``path_and_query`` are the webhook URL's as it was registered
    (what Vipps signed), not what a proxy in between may have rewritten. A
    ``x-ms-date`` further than ``tolerance`` from ``now`` is refused: a replay.
    """
    lower = {k.lower(): v for k, v in headers.items()}
    date, content_hash, authorization = (lower.get("x-ms-date"), lower.get("x-ms-content-sha256"),
                                         lower.get("authorization"))
    if not secret:
        raise SignatureError("no webhook secret to verify with", "no_secret")
    if not date or not content_hash or not authorization:
        raise SignatureError("the webhook is not signed", "missing_signature")
    if not hmac.compare_digest(content_hash, content_sha256(body)):
        raise SignatureError("the webhook's body does not match its hash", "content_mismatch")
    try:
        sent = parsedate_to_datetime(date)
    except (TypeError, ValueError) as e:
        raise SignatureError("the webhook's x-ms-date is not a date", "bad_date") from e
    if sent.tzinfo is None or abs(now - sent) > tolerance:
        raise SignatureError("the webhook's x-ms-date is too far from now", "stale")
    expected = authorization_header(secret, method=method, path_and_query=path_and_query, date=date, host=host,
                                    content_hash=content_hash)
    if not hmac.compare_digest(authorization.encode(), expected.encode()):
        raise SignatureError("the webhook's signature does not verify", "bad_signature")
    try:
        event = json.loads(body)
    except ValueError as e:
        raise SignatureError("the webhook's body is not JSON", "bad_body") from e
    if not isinstance(event, dict):
        raise SignatureError("the webhook's body is not an object", "bad_body")
    return event


def content_sha256(body: bytes) -> str:
    return base64.b64encode(hashlib.sha256(body).digest()).decode()


def authorization_header(secret: str, *, method: str, path_and_query: str, date: str, host: str,
                         content_hash: str) -> str:
    """``HMAC-SHA256 SignedHeaders=…&Signature=…`` as Vipps sends it (the sandbox signs with this too)."""
    signed = f"{method.upper()}\n{path_and_query}\n{date};{host};{content_hash}"
    signature = base64.b64encode(hmac.new(secret.encode(), signed.encode(), hashlib.sha256).digest()).decode()
    return f"HMAC-SHA256 SignedHeaders={SIGNED_HEADERS}&Signature={signature}"


def _cache_key(keys: VippsKeys) -> str:
    material = "\0".join((keys.client_id, keys.client_secret, keys.subscription_key, keys.merchant_serial_number))
    return hashlib.sha256(material.encode()).hexdigest()


def _payment_path(reference: str) -> str:
    return "/epayment/v1/payments/" + quote(reference, safe="")


def _payment(body: Any) -> Payment:
    try:
        return Payment.from_wire(body)
    except (KeyError, TypeError, ValueError) as e:
        raise ProviderError("Vipps answered with an unreadable payment", "bad_response", str(e)) from e
