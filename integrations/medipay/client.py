"""The MediPay gateway over HTTP (aiohttp): real MediPay or the sandbox, by base URL.

The client owns its ``aiohttp.ClientSession``; create it in the app's startup
and ``await close()`` in cleanup (a session is bound to one event loop).

Callbacks are verified here too (``verify_callback``), with the secret
shared with MediPay, as the Stripe gateway verifies Stripe's webhooks.

No retries here: the caller (the export outbox) retries with backoff under the
same claim id. One exception is aiohttp's own: an idempotent request (the PUT)
whose kept-alive connection drops is resent once at once, which the PUT's
idempotency makes safe. Errors map as protocol.py draws them: network,
timeout, 5xx and 429 → ProviderUnavailable; 401 → InvalidCredentials; any
other 4xx → ClaimRefused with ``status`` and ``reason_code``. The transport's
errors are mapped in one place, ``_mapped_errors``; the answer's in ``error_for``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from json import loads as json_loads
from typing import Any
from urllib.parse import quote

import aiohttp

from integrations.medipay.protocol import (
    Account,
    Claim,
    ClaimRefused,
    ClaimState,
    Credentials,
    InvalidCredentials,
    ProviderError,
    ProviderUnavailable,
    SignatureError,
    format_time,
    verify_callback,
)

USER_AGENT = "ConsultPay-MediPay/1.0"
PAGE_SIZE = 200


@contextmanager
def _mapped_errors() -> Iterator[None]:
    """Inside the block, a request that got no answer is an outage, its cause kept.

    A cancellation is not an error and passes through untouched.
    """
    try:
        yield
    except (TimeoutError, aiohttp.ClientError) as e:
        raise ProviderUnavailable(f"MediPay could not be reached: {type(e).__name__}",
                                  "unreachable", str(e)) from e


def error_for(status: int, body: dict[str, Any]) -> ProviderError:
    """MediPay's error answer as ours: an outage to retry, or a refusal."""
    err = body.get("error") if isinstance(body.get("error"), dict) else {}
    code = str(err.get("code") or f"http_{status}")
    message = str(err.get("message") or f"MediPay answered {status}")
    if status >= 500 or status == 429:
        return ProviderUnavailable(message, code, message)
    if status == 401:
        return InvalidCredentials(message, code, message)
    return ClaimRefused(message, code, status=status, reason_code=err.get("reason_code"),
                        provider_message=message)


class MediPayHTTPClient:
    def __init__(self, base_url: str, timeout: float = 15.0, max_connections: int = 32, *,
                 callback_secret: str | None = None) -> None:
        self._base = base_url.rstrip("/")
        self._callback_secret = callback_secret or ""
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    @property
    def base_url(self) -> str:
        return self._base

    def _http(self) -> aiohttp.ClientSession:
        # Made on first use, so the client can be built outside a running loop.
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=self._timeout, headers={"User-Agent": USER_AGENT},
                connector=aiohttp.TCPConnector(limit=self._max_connections))
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _call(self, method: str, path: str, credentials: Credentials, *,
                    json: dict[str, Any] | None = None, params: dict[str, str] | None = None,
                    ) -> tuple[int, dict[str, Any]]:
        try:
            auth = aiohttp.encode_basic_auth(credentials.username, credentials.password)
        except ValueError as e:  # a ":" in the username cannot be sent in basic auth
            raise InvalidCredentials("The MediPay username may not contain ':'", "invalid_username") from e
        with _mapped_errors():
            async with self._http().request(method, self._base + path, json=json, params=params,
                                            headers={"Authorization": auth}) as resp:
                status = resp.status
                try:
                    # JSON is UTF-8 by the protocol: no charset to look for in the headers.
                    body = json_loads(await resp.read())
                except ValueError:
                    body = None
        if not isinstance(body, dict):
            body = {}
        if status < 300:
            return status, body
        raise error_for(status, body)

    def verify_callback(self, body: bytes, signature: str | None) -> dict[str, Any]:
        """Check ``MediPay-Signature`` against the raw body; return the callback as a dict.

        A gateway made without a callback secret verifies nothing: every
        callback is refused, as a forged one would be.
        """
        if not self._callback_secret:
            raise SignatureError("no MediPay callback secret is configured", "no_secret")
        return verify_callback(body, signature, self._callback_secret)

    async def verify_account(self, credentials: Credentials) -> Account:
        """The account behind these credentials; InvalidCredentials when they are wrong."""
        _, body = await self._call("GET", "/v1/account", credentials)
        return Account.from_wire(body)

    account = verify_account

    async def export_claim(self, credentials: Credentials, claim: Claim) -> ClaimState:
        _, body = await self._call("PUT", "/v1/claims/" + quote(claim.id, safe=""), credentials,
                                   json=claim.to_wire())
        return _claim(body)

    async def get_claim(self, credentials: Credentials, claim_id: str) -> ClaimState:
        _, body = await self._call("GET", "/v1/claims/" + quote(claim_id, safe=""), credentials)
        return _claim(body)

    async def list_claims(self, credentials: Credentials, updated_since: datetime) -> list[ClaimState]:
        params = {"updated_since": format_time(updated_since), "limit": str(PAGE_SIZE)}
        out: list[ClaimState] = []
        while True:
            _, body = await self._call("GET", "/v1/claims", credentials, params=params)
            out.extend(_claim(c) for c in body.get("claims") or [])
            cursor = body.get("next_cursor")
            if not body.get("has_more") or not cursor:
                return out
            params = dict(params, cursor=str(cursor))


def _claim(body: dict[str, Any]) -> ClaimState:
    try:
        return ClaimState.from_wire(body)
    except (KeyError, TypeError, ValueError) as e:
        raise ProviderError("MediPay answered with an unreadable claim", "bad_response", str(e)) from e
