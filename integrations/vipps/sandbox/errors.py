"""Vipps' error answers: RFC 7807 problem details (``application/problem+json``).

    VippsError(status, name, title, detail?, extra?)
    ├── 400  validation-error, and the payment rules (capture more than is
    │        reserved, refund more than is captured, cancel a captured payment …)
    ├── 401  unauthorized: no, wrong or expired token, or a wrong subscription key
    ├── 404  not-found
    ├── 409  conflict: a reference already used, or an Idempotency-Key reused
    │        with another request
    ├── 429  too-many-requests, 500 internal-error (injected by the control surface)

Views raise these; the API wrapper turns them into responses.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from aiohttp import web

TYPE_BASE = "https://developer.vippsmobilepay.com/docs/knowledge-base/errors#"


class VippsError(Exception):
    def __init__(self, status: int, name: str, title: str, detail: str | None = None,
                 extra: list[dict[str, str]] | None = None) -> None:
        super().__init__(title)
        self.status = status
        self.name = name
        self.title = title
        self.detail = detail
        self.extra = extra or []

    def body(self) -> dict[str, Any]:
        problem: dict[str, Any] = {"type": TYPE_BASE + self.name, "title": self.title, "status": self.status,
                                   "traceId": uuid.uuid4().hex}
        if self.detail:
            problem["detail"] = self.detail
        if self.extra:
            problem["extraDetails"] = self.extra
        return problem

    def response(self) -> web.Response:
        return web.Response(status=self.status, text=json.dumps(self.body()), content_type="application/problem+json")


def invalid(name: str, reason: str) -> VippsError:
    return VippsError(400, "validation-error", "Your request parameters didn't validate.",
                      "The request body contains one or more validation errors.", [{"name": name, "reason": reason}])


def unauthorized(detail: str) -> VippsError:
    return VippsError(401, "unauthorized", "Unauthorized", detail)


def not_found(detail: str) -> VippsError:
    return VippsError(404, "not-found", "Not found", detail)


def conflict(detail: str) -> VippsError:
    return VippsError(409, "conflict", "Conflict", detail)


def refused(detail: str) -> VippsError:
    """A modification the payment's state or amounts do not allow."""
    return VippsError(400, "payment-state", "The payment cannot be modified this way", detail)
