"""Join tokens: signed (HS256), short-lived, naming one consult, one role, one person.

A token also dies with its consult: whoever checks one also checks that the
consult is still active (see ``service.participant_for_token``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jwt

from app.errors import Unauthenticated

AUDIENCE = "consultpay:join"
ROLES = ("clinician", "patient")


@dataclass(frozen=True)
class JoinClaims:
    consult_id: str
    role: str
    participant_id: str


# Tokens whose signature was checked, with their claims: PyJWT's decode costs about 0.2 ms and
# every socket event checks its token again. The expiry and the claims are checked on every use.
KEPT_TOKENS = 16_384


class TokenSigner:
    def __init__(self, secret: str) -> None:
        self._secret = secret
        self._verified: dict[str, dict[str, Any]] = {}

    def issue(self, *, consult_id: str, role: str, participant_id: str, now: datetime, expires_at: datetime) -> str:
        if role not in ROLES:
            raise ValueError(role)
        return jwt.encode(
            {
                "aud": AUDIENCE,
                "cid": consult_id,
                "role": role,
                "sub": participant_id,
                "iat": int(now.timestamp()),
                "exp": int(expires_at.timestamp()),
            },
            self._secret,
            algorithm="HS256",
        )

    def verify(self, token: object, *, now: datetime, allow_expired: bool = False) -> JoinClaims:
        """The claims of a token we signed; ``allow_expired`` also takes one past its expiry
        (only to show a person what their ended consult left them: its receipts)."""
        if not isinstance(token, str) or not token or len(token) > 4096:
            raise Unauthenticated("bad_token", "The join link is invalid or has expired.")
        claims = self._verified.get(token)
        if claims is None:
            claims = self._decode(token)
            if len(self._verified) >= KEPT_TOKENS:
                del self._verified[next(iter(self._verified))]  # the oldest kept
            self._verified[token] = claims
        # Expiry is checked against the injected clock, not the wall clock.
        if not isinstance(claims.get("exp"), int) or (claims["exp"] <= now.timestamp() and not allow_expired):
            raise Unauthenticated("token_expired", "The join link is invalid or has expired.")
        if claims.get("role") not in ROLES or not isinstance(claims.get("cid"), str):
            raise Unauthenticated("bad_token", "The join link is invalid or has expired.")
        return JoinClaims(consult_id=claims["cid"], role=claims["role"], participant_id=str(claims["sub"]))

    def _decode(self, token: str) -> dict[str, Any]:
        try:
            return jwt.decode(
                token,
                self._secret,
                algorithms=["HS256"],
                audience=AUDIENCE,
                options={"require": ["exp", "iat", "cid", "role", "sub"], "verify_exp": False},
            )
        except jwt.PyJWTError as e:
            raise Unauthenticated("bad_token", "The join link is invalid or has expired.") from e
