"""Domain errors, mapped to HTTP statuses and Socket.IO error acks at the edges.

    DomainError(code, message)
     ├── BadInput          400  not a well-formed request
     ├── Unauthenticated   401  no key, bad key, bad or expired token
     ├── Forbidden         403  not yours, or not your role
     ├── NotFound          404
     ├── Conflict          409  the state does not allow it (already paid, ended…)
     ├── Invalid           422  well-formed, but a value is wrong
     ├── RateLimited       429
     └── Unavailable       503  a provider (Stripe, MediPay) did not answer

``message`` is an English msgid: the edge translates it into the reader's
language before it leaves the service.
"""

from __future__ import annotations


class DomainError(Exception):
    status = 400

    def __init__(self, code: str, message: str, **params: object) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.params = params


class BadInput(DomainError):
    status = 400


class Unauthenticated(DomainError):
    status = 401


class Forbidden(DomainError):
    status = 403


class NotFound(DomainError):
    status = 404


class Conflict(DomainError):
    status = 409


class Invalid(DomainError):
    status = 422


class RateLimited(DomainError):
    status = 429


class Unavailable(DomainError):
    status = 503
