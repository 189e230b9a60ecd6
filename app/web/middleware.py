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

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

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


# A person who mistypes an address gets a page in their language (error.html words
# these statuses itself), not aiohttp's "404: Not Found". Machines' paths keep their
# own answers: the sandboxes speak their provider's errors.
_PAGE_ERRORS = (404, 405)
_MACHINE_PREFIXES = ("/_sandbox/", "/webhooks/", "/static/", "/socket.io/")


def _is_page(request: web.Request) -> bool:
    return not request.path.startswith(_MACHINE_PREFIXES)


def _http_error_page(request: web.Request, error: web.HTTPException) -> web.StreamResponse:
    lang = negotiate(request.headers.get("Accept-Language"))
    response = aiohttp_jinja2.render_template(
        "error.html", request, context(lang, status=error.status, title=None, message=None), status=error.status
    )
    if "Allow" in error.headers:
        response.headers["Allow"] = error.headers["Allow"]
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
        if e.status in _PAGE_ERRORS and _is_page(request):
            return _http_error_page(request, e)
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
    if not from_trusted_proxy(request, settings):
        return False
    proto = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    return proto == "https"


def _peer(request: web.Request) -> IPAddress | None:
    peer = request.transport.get_extra_info("peername") if request.transport is not None else None
    try:
        return ipaddress.ip_address(peer[0])  # type: ignore[index]
    except (TypeError, IndexError, ValueError):
        return None


def _trusted(address: IPAddress, settings: Settings) -> bool:
    return any(address in network for network in settings.trusted_proxies)


def from_trusted_proxy(request: web.Request, settings: Settings) -> bool:
    """Whether the connection itself comes from one of TRUSTED_PROXIES."""
    peer = _peer(request)
    return peer is not None and bool(settings.trusted_proxies) and _trusted(peer, settings)


def client_address(request: web.Request, settings: Settings) -> str | None:
    """The address of the browser, for counting sign-in failures per address.

    The connection's own address, unless it comes from one of TRUSTED_PROXIES:
    then the right-most address in ``X-Forwarded-For`` that is not itself a
    trusted proxy (the left part of that header is whatever the client wrote).
    """
    peer = _peer(request)
    if peer is None:
        return request.remote
    if not settings.trusted_proxies or not _trusted(peer, settings):
        return str(peer)
    for hop in reversed(request.headers.get("X-Forwarded-For", "").split(",")):
        try:
            address = ipaddress.ip_address(hop.strip())
        except ValueError:
            return str(peer)  # a hop we cannot read: count the proxy, not a guess
        if not _trusted(address, settings):
            return str(address)
    return str(peer)


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
