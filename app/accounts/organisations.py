"""Organisations, their clinics and API keys.

An API key is 32 random bytes shown once; only its SHA-256 is stored. (A slow
password hash buys nothing for a key with 256 bits of entropy, and every REST
call checks one.)
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select

from app.clock import Clock
from app.db import Database
from app.errors import Unauthenticated
from app.ids import new_id
from app.models import ApiKey, Clinic, Organisation

KEY_PREFIX = "cp_live_"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Caller:
    organisation_id: str


class Organisations:
    def __init__(self, db: Database, *, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def create(self, name: str, *, organisation_id: str | None = None) -> Organisation:
        async with self.db.write() as s:
            org = Organisation(id=organisation_id or new_id("org"), name=name, created_at=self.clock.now())
            s.add(org)
        return org

    async def add_clinic(
        self,
        organisation_id: str,
        name: str,
        *,
        currency: str = "NOK",
        clinic_id: str | None = None,
        stripe_account_id: str | None = None,
        charges_enabled: bool = False,
        payment_app_enabled: bool = False,
    ) -> Clinic:
        """A new clinic. The payment app starts off: an organisation admin approves it (app/accounts/payment_app.py)."""
        async with self.db.write() as s:
            clinic = Clinic(
                id=clinic_id or new_id("cli"),
                organisation_id=organisation_id,
                name=name,
                currency=currency,
                payment_app_enabled=payment_app_enabled,
                stripe_account_id=stripe_account_id,
                stripe_charges_enabled=charges_enabled,
                created_at=self.clock.now(),
            )
            s.add(clinic)
        return clinic

    async def link_stripe_account(self, clinic_id: str, account_id: str, *, charges_enabled: bool) -> None:
        async with self.db.write() as s:
            clinic = await s.get(Clinic, clinic_id, with_for_update=True)
            if clinic is None:
                raise LookupError(clinic_id)
            clinic.stripe_account_id = account_id
            clinic.stripe_charges_enabled = charges_enabled

    async def issue_key(self, organisation_id: str, *, key: str | None = None) -> str:
        key = key or KEY_PREFIX + secrets.token_urlsafe(32)
        async with self.db.write() as s:
            if await s.scalar(select(ApiKey.id).where(ApiKey.key_hash == hash_key(key))) is None:
                s.add(
                    ApiKey(
                        id=new_id("key"),
                        organisation_id=organisation_id,
                        prefix=key[:12],
                        key_hash=hash_key(key),
                        created_at=self.clock.now(),
                    )
                )
        return key

    async def authenticate(self, header: str | None) -> Caller:
        if not header or not header.startswith("Bearer "):
            raise Unauthenticated(
                "unauthenticated", "Send the organisation's API key as 'Authorization: Bearer <key>'."
            )
        key = header[len("Bearer ") :].strip()
        if not key or len(key) > 200:
            raise Unauthenticated("unauthenticated", "The API key is not valid.")
        async with self.db.read() as s:
            row = await s.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(key)))
        if row is None or row.revoked_at is not None:
            raise Unauthenticated("unauthenticated", "The API key is not valid.")
        return Caller(organisation_id=row.organisation_id)
