"""Who is on the other end of a socket: the verified claims and their consult."""

from __future__ import annotations

from dataclasses import dataclass

from app.consults.tokens import JoinClaims
from app.models import Consult


@dataclass(frozen=True)
class Participant:
    claims: JoinClaims
    consult: Consult

    @property
    def role(self) -> str:
        return self.claims.role

    @property
    def id(self) -> str:
        return self.claims.participant_id
