"""Cross-cutting HTTP behaviour: JSON errors for the API, and security headers."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from app.errors import BadInput, DomainError

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
            return json_error(e.status, e.code, e.message, field=e.params.get("field"))
        raise web.HTTPException(text=e.message) from e  # pages render their own errors
    except web.HTTPException as e:
        if _is_api(request) and e.status >= 400:
            code = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(e.status, "http_error")
            return json_error(e.status, code, e.reason)
        raise
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        if _is_api(request):
            return json_error(500, "internal_error", "Something went wrong on our side.")
        raise


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    return response


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
