"""MediPay's error responses.

    MediPayError                one error body: {"error": {code, message, reason_code?}}
    ├── 400  bad_request          not JSON, wrong type or shape
    ├── 401  invalid_credentials  no or wrong basic auth
    ├── 404  claim_not_found
    ├── 409  claim_conflict       same claim id, another body (or another account's claim)
    │        claim_not_open       a choice or payment the claim's state does not allow
    ├── 422  invalid_patient      with reason_code; invalid_claim
    ├── 429  rate_limited         (injected by the control surface)
    ├── 500  server_error         (injected by the control surface)
    └── 503  service_unavailable  (injected: the claim was stored, the answer is lost)

Views raise these; the API wrapper turns them into JSON responses.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web


class MediPayError(Exception):
    def __init__(self, status: int, code: str, message: str, *, reason_code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.reason_code = reason_code

    def body(self) -> dict[str, Any]:
        err: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.reason_code:
            err["reason_code"] = self.reason_code
        return {"error": err}

    def response(self) -> web.Response:
        headers = {"WWW-Authenticate": 'Basic realm="MediPay"'} if self.status == 401 else None
        return web.Response(status=self.status, text=json.dumps(self.body()),
                            content_type="application/json", headers=headers)


def bad_request(message: str) -> MediPayError:
    return MediPayError(400, "bad_request", message)


def invalid_claim(message: str) -> MediPayError:
    return MediPayError(422, "invalid_claim", message)


def invalid_patient(reason_code: str, message: str) -> MediPayError:
    return MediPayError(422, "invalid_patient", message, reason_code=reason_code)


def not_found(claim_id: str) -> MediPayError:
    return MediPayError(404, "claim_not_found", f"No claim with id {claim_id!r}")


def not_open(claim_id: str, state: str) -> MediPayError:
    return MediPayError(409, "claim_not_open", f"Claim {claim_id!r} is {state}; that is no longer possible")


def invalid_credentials() -> MediPayError:
    return MediPayError(401, "invalid_credentials", "The MediPay username or password is wrong")


def conflict(claim_id: str) -> MediPayError:
    return MediPayError(409, "claim_conflict",
                        f"A claim with id {claim_id!r} already exists with another body")


def rate_limited() -> MediPayError:
    return MediPayError(429, "rate_limited", "Too many requests; slow down and retry")


def server_error() -> MediPayError:
    return MediPayError(500, "server_error", "MediPay failed; retry later")


def unavailable() -> MediPayError:
    return MediPayError(503, "service_unavailable", "MediPay is unavailable; retry later")
