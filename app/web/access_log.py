"""The access log, without the secrets that travel in URLs.

A join link (``/join/<token>``) signs its holder in to a call for hours, and
an invitation link (``/admin/invite/<token>``) creates an account; both are
bearer secrets in the path, because host platforms frame the join URL as it
is. The log keeps the route and drops the secret. The ``Referer`` header is
not logged at all: the pages send none (``Referrer-Policy: no-referrer``),
but an older browser, or another site linking here, may still send a URL
with a secret in it.

``redact`` is also what error logs use for a request's path.
"""

from __future__ import annotations

import logging
import re

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse

# Paths whose next segment is a bearer token: join links, invitations, and the
# built-in Stripe sandbox's onboarding and Express dashboard links.
_SECRET_SEGMENT = re.compile(r"(/join/|/admin/invite/|/connect/onboard/|/express/)[^/?#]+")
# Query parameters that are credentials: an Engine.IO polling session, a token.
_SECRET_PARAM = re.compile(r"([?&](?:sid|token)=)[^&#]*")
REDACTED = "…"
_MAX_LOGGED_PATH = 512


def redact(path_qs: str) -> str:
    """``path_qs`` with every bearer token replaced by ``…``, and cut to a sane length."""
    clean = _SECRET_PARAM.sub(rf"\1{REDACTED}", _SECRET_SEGMENT.sub(rf"\1{REDACTED}", path_qs))
    return clean if len(clean) <= _MAX_LOGGED_PATH else clean[:_MAX_LOGGED_PATH] + REDACTED


class RedactingAccessLogger(AbstractAccessLogger):
    """``remote "METHOD path HTTP/x.y" status bytes seconds "user agent"``, with secrets redacted."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        agent = request.headers.get("User-Agent", "-")[:200]
        self.logger.info(
            '%s "%s %s HTTP/%d.%d" %d %d %.3f %s',
            request.remote or "-",
            request.method,
            redact(request.path_qs),
            request.version.major,
            request.version.minor,
            response.status,
            response.body_length,
            time,
            ascii(agent),
        )

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)
