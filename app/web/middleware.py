"""Cross-cutting HTTP behaviour: JSON errors for the API, and security headers on every response."""

from __future__ import annotations

import ipaddress
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from app.config import Settings
from app.errors import BadInput, DomainError
from app.i18n import error_message, negotiate
from app.keys import SETTINGS
from app.realtime.overload import LOAD_GATE, retry_after_seconds
from app.web.access_log import redact
from app.web.pages import context

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    error.update({k: v for k, v in extra.items() if v is not None})
    return {"error": error}


def json_error(status: int, code: str, message: str, **extra: Any) -> web.Response:
    return web.json_response(error_body(code, message, **extra), status=status)


def _is_api(request: web.Request) -> bool:
    return request.path.startswith(("/api/", "/webhooks/"))


def _undecodable_header(request: web.Request) -> str | None:
    """The first header that was not valid UTF-8 (aiohttp keeps such bytes as lone surrogates).

    No code downstream can encode such a value, or compare it with ``hmac``;
    refusing it here keeps every header reader (keys, CSRF, signatures) simple.
    """
    for name, value in request.headers.items():
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return name
    return None


def _error_page(request: web.Request, error: DomainError) -> web.StreamResponse:
    """The error page, with the error's own status, for a domain error that a page let through.

    Pages catch the errors they expect and render them in context; this is the
    rest, told in the reader's language instead of an English msgid.
    """
    lang = negotiate(request.headers.get("Accept-Language"))
    message = error_message(error.message, error.params, lang)
    response = aiohttp_jinja2.render_template(
        "error.html", request, context(lang, status=error.status, title=None, message=message), status=error.status
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    bad = _undecodable_header(request)
    if bad is not None:
        if _is_api(request) and bad.lower() == "authorization":
            return json_error(401, "unauthenticated", "The API key is not valid.")
        if _is_api(request):
            return json_error(400, "bad_header", "A header is not valid UTF-8.", field=bad[:50])
        raise web.HTTPBadRequest(text="A header is not valid UTF-8.")
    try:
        return await handler(request)
    except DomainError as e:
        if _is_api(request):
            # The API speaks English: the msgid with its %(name)s filled in.
            message = error_message(e.message, e.params, "en")
            return json_error(e.status, e.code, message, field=e.params.get("field"))
        return _error_page(request, e)
    except web.HTTPException as e:
        if _is_api(request) and e.status >= 400:
            code = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(e.status, "http_error")
            return json_error(e.status, code, e.reason)
        raise
    except Exception:
        log.exception("unhandled error on %s %s", request.method, redact(request.path))
        if _is_api(request):
            return json_error(500, "internal_error", "Something went wrong on our side.")
        raise


def _sheddable(request: web.Request) -> bool:
    """REST calls may be refused as busy; webhooks, health, pages and the Socket.IO transport never are."""
    return request.path.startswith("/api/")


@web.middleware
async def load_gate(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Past the load bound a new REST call gets ``503`` with ``Retry-After`` at once (app/realtime/overload.py)."""
    gate = request.config_dict.get(LOAD_GATE)
    if gate is None or request.path.startswith("/socket.io/"):
        # A WebSocket is one long request: its events are counted one by one in the namespace.
        return await handler(request)
    if _sheddable(request):
        retry_ms = gate.refuse()
        if retry_ms is not None:
            seconds = retry_after_seconds(retry_ms)
            response = json_error(503, "busy", "The service is busy. Please try again in a moment.",
                                  retry_after=seconds)
            response.headers["Retry-After"] = str(seconds)
            return response
    with gate.working():
        return await handler(request)


# The policy of a page that sets none of its own (the demo, error pages): the
# panels' own, framed by the host platform (FRAME_ANCESTORS) like them.
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' ws: wss:; frame-ancestors {ancestors}; base-uri 'none'; form-action 'self'"
)
# The sandboxes' hosted pages carry their styles inline and post to pages
# that redirect to the app; like Stripe's own pages they are not framed by others.
SANDBOX_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "frame-ancestors 'self'; base-uri 'none'"
)
HSTS = "max-age=31536000"


def over_https(request: web.Request, settings: Settings) -> bool:
    """Whether the browser reached us over TLS.

    Yes when we terminate TLS ourselves or PUBLIC_URL is https; behind a proxy
    that terminates it, when the proxy says so in ``X-Forwarded-Proto`` and
    the connection comes from one of TRUSTED_PROXIES (anyone else could write
    that header).
    """
    if request.secure or settings.https:
        return True
    if not settings.trusted_proxies:
        return False
    peer = request.transport.get_extra_info("peername") if request.transport is not None else None
    try:
        address = ipaddress.ip_address(peer[0])  # type: ignore[index]
    except (TypeError, IndexError, ValueError):
        return False
    if not any(address in network for network in settings.trusted_proxies):
        return False
    proto = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    return proto == "https"


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Headers every response gets (``on_response_prepare``), errors and sandbox pages included.

    A page that set its own Content-Security-Policy (the panels, the admin)
    keeps it; every other response gets one with ``frame-ancestors``.
    """
    settings = request.config_dict[SETTINGS]
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "no-referrer")
    if "Content-Security-Policy" not in headers:
        if request.path.startswith("/_sandbox/"):
            headers["Content-Security-Policy"] = SANDBOX_CSP
        else:
            headers["Content-Security-Policy"] = PAGE_CSP.format(ancestors=settings.frame_ancestors)
    if over_https(request, settings):
        headers.setdefault("Strict-Transport-Security", HSTS)


async def read_json(request: web.Request) -> Any:
    """The body as JSON, or a 400 that says why not."""
    if request.content_length is not None and request.content_length > 256 * 1024:
        raise BadInput("too_large", "The body is too large.")
    try:
        raw = await request.read()
        return json.loads(raw) if raw else None
    except (ValueError, UnicodeDecodeError) as e:
        raise BadInput("invalid_json", "The body is not valid JSON.") from e
    except RecursionError as e:
        # json.loads recurses per nesting level; a body nested thousands deep is not ours.
        raise BadInput("invalid_json", "The body is nested too deeply.") from e
