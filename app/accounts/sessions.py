"""Sign-in and admin sessions.

A session is a row in ``admin_sessions``. The browser's cookie holds a random
256-bit token (encrypted by aiohttp-session); the row's id is the SHA-256 of
that token, so a copy of the table signs nobody in. A session ends when

- it has been idle for ``IDLE`` (``last_seen_at`` slides with use),
- it is older than ``ABSOLUTE`` however busy it is,
- the user signs out (the row is revoked), or the user is deactivated.

Each session carries its own CSRF token, checked on every state-changing
request. Unknown addresses cost the same argon2 work and get the same answer
as wrong passwords, so the page does not tell who has an account.

Sign-in attempts are throttled per account (e-mail address) and per client
address, across accounts. An attempt is counted before its password is
checked, in one write transaction that also checks the count, so twenty
attempts sent at once cannot all slip past a count that none of them has
raised yet; a sign-in that succeeds takes its counts back. Argon2 runs in a
worker thread, a few at a time: on the event loop each check stalled every
socket, webhook and health check for its duration.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from app import audit
from app.clock import Clock
from app.db import Database
from app.errors import RateLimited, Unauthenticated
from app.models import AdminSession, SignInFailure, User

IDLE = timedelta(minutes=30)
ABSOLUTE = timedelta(hours=12)
# Sliding last_seen_at on every request would make every page view a write.
TOUCH_EVERY = timedelta(seconds=60)
MAX_FAILURES = 5  # per account
# Per client address, across accounts: an office behind one address shares it.
MAX_ADDRESS_FAILURES = 30
FAILURE_WINDOW = timedelta(minutes=15)
# Argon2 checks at once (each takes 64 MiB and a core for a fraction of a second).
HASHING_AT_ONCE = 2

ROLES = ("organisation_admin", "clinic_admin", "team_member")


@dataclass(frozen=True)
class AdminUser:
    id: str
    organisation_id: str
    clinic_id: str | None
    role: str  # "organisation_admin" | "clinic_admin" | "team_member"
    email: str
    name: str
    clinician_ref: str | None

    @classmethod
    def of(cls, user: User) -> AdminUser:
        return cls(
            id=user.id,
            organisation_id=user.organisation_id,
            clinic_id=user.clinic_id,
            role=user.role,
            email=user.email,
            name=user.name,
            clinician_ref=user.clinician_ref,
        )


@dataclass(frozen=True)
class SignedIn:
    user: AdminUser
    token: str  # goes into the cookie; never stored
    csrf_token: str


def session_id(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def normalise_email(email: str) -> str:
    return email.strip().lower()


def _email_hash(email: str) -> str:
    return hashlib.sha256(email.encode()).hexdigest()


def _address_hash(address: str) -> str:
    # A normalised e-mail never starts with a newline, so the two kinds of key never meet.
    return hashlib.sha256(f"\naddress {address}".encode()).hexdigest()


class AdminSessions:
    def __init__(self, db: Database, *, clock: Clock, hasher: PasswordHasher | None = None) -> None:
        self.db = db
        self.clock = clock
        self.hasher = hasher or PasswordHasher()
        # A hash to verify against when the e-mail is unknown, so both cases cost the same.
        self._dummy_hash = self.hasher.hash(secrets.token_urlsafe(16))
        self._hashing = asyncio.Semaphore(HASHING_AT_ONCE)

    # --- passwords ---------------------------------------------------------------------

    def hash_password(self, password: str) -> str:
        return self.hasher.hash(password)

    def _verify_now(self, password_hash: str, password: str) -> bool:
        try:
            return self.hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    async def _verify(self, password_hash: str, password: str) -> bool:
        async with self._hashing:
            return await asyncio.to_thread(self._verify_now, password_hash, password)

    async def _rehash(self, password: str) -> str:
        async with self._hashing:
            return await asyncio.to_thread(self.hasher.hash, password)

    # --- throttle ----------------------------------------------------------------------
    # Attempts live in the database, so every web process counts the same ones.

    async def _count_attempt(self, email: str, address: str | None, now: datetime) -> list[int]:
        """Record an attempt for the account and the address; RateLimited when either is used up.

        The check and the insert share one write transaction: on SQLite every
        writer queues for the database's write lock; on PostgreSQL a
        transaction-scoped advisory lock per key queues the attempts on one
        account or address (in key order, so two attempts never wait on each other).
        """
        limits = {_email_hash(email): MAX_FAILURES}
        if address:
            limits[_address_hash(address)] = MAX_ADDRESS_FAILURES
        async with self.db.write() as s:
            if not self.db.is_sqlite:
                for key in sorted(limits):
                    await s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": int(key[:15], 16)})
            # What has left the window counts no more: drop it, for every key.
            await s.execute(delete(SignInFailure).where(SignInFailure.at <= now - FAILURE_WINDOW))
            for key, limit in limits.items():
                count = await s.scalar(
                    select(func.count()).select_from(SignInFailure).where(
                        SignInFailure.email_hash == key, SignInFailure.at > now - FAILURE_WINDOW
                    )
                )
                if int(count or 0) >= limit:
                    raise RateLimited("too_many_attempts", "Too many failed sign-ins. Try again in 15 minutes.")
            rows = [SignInFailure(email_hash=key, at=now) for key in limits]
            s.add_all(rows)
            await s.flush()
            return [row.id for row in rows]

    @staticmethod
    async def _forget_failures(s: AsyncSession, email: str, attempt: list[int]) -> None:
        """After a sign-in: the account starts afresh, and this attempt leaves the address's count."""
        await s.execute(
            delete(SignInFailure).where(
                (SignInFailure.email_hash == _email_hash(email)) | SignInFailure.id.in_(attempt)
            )
        )

    # --- sign-in / sign-out ------------------------------------------------------------

    async def sign_in(self, email: str, password: str, *, address: str | None = None) -> SignedIn:
        """Sign in from the client ``address`` (None: counted per account only)."""
        email = normalise_email(email)
        now = self.clock.now()
        attempt = await self._count_attempt(email, address, now)
        async with self.db.read() as s:
            user = await s.scalar(select(User).where(User.email == email))
        ok = await self._verify(user.password_hash if user is not None else self._dummy_hash, password[:1024])
        if user is None or not ok or not user.active:
            # The attempt is already counted; it stays as a failure.
            if user is not None:
                async with self.db.write() as s:
                    audit.record(
                        s, organisation_id=user.organisation_id, clinic_id=user.clinic_id, actor_type="user",
                        actor_id=user.id, action="user.sign_in_failed", subject_type="user", subject_id=user.id,
                        at=now,
                    )
            raise Unauthenticated("bad_credentials", "The e-mail or password is wrong.")
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        new_hash = await self._rehash(password) if self.hasher.check_needs_rehash(user.password_hash) else None
        async with self.db.write() as s:
            await self._forget_failures(s, email, attempt)
            s.add(
                AdminSession(
                    id=session_id(token),
                    user_id=user.id,
                    csrf_token=csrf,
                    created_at=now,
                    last_seen_at=now,
                    expires_at=now + ABSOLUTE,
                )
            )
            if new_hash is not None:
                row = await s.get(User, user.id)
                if row is not None:
                    row.password_hash = new_hash
            audit.record(
                s, organisation_id=user.organisation_id, clinic_id=user.clinic_id, actor_type="user",
                actor_id=user.id, action="user.signed_in", subject_type="user", subject_id=user.id, at=now,
            )
        return SignedIn(user=AdminUser.of(user), token=token, csrf_token=csrf)

    async def resolve(self, token: str | None) -> SignedIn | None:
        """The signed-in user for a cookie's token, or None (unknown, expired, revoked, inactive)."""
        if not token or not isinstance(token, str) or len(token) > 100:
            return None
        now = self.clock.now()
        sid = session_id(token)
        async with self.db.read() as s:
            row = (
                await s.execute(
                    select(AdminSession, User).join(User, User.id == AdminSession.user_id).where(AdminSession.id == sid)
                )
            ).first()
        if row is None:
            return None
        sess, user = row
        if sess.revoked_at is not None or now >= sess.expires_at or now - sess.last_seen_at >= IDLE:
            return None
        if not user.active:
            return None
        if now - sess.last_seen_at >= TOUCH_EVERY:
            async with self.db.write() as s:
                await s.execute(
                    update(AdminSession)
                    .where(AdminSession.id == sid, AdminSession.revoked_at.is_(None))
                    .values(last_seen_at=now)
                )
        return SignedIn(user=AdminUser.of(user), token=token, csrf_token=sess.csrf_token)

    async def sign_out(self, token: str) -> None:
        now = self.clock.now()
        sid = session_id(token)
        async with self.db.write() as s:
            sess = await s.get(AdminSession, sid, with_for_update=True)
            if sess is None or sess.revoked_at is not None:
                return
            sess.revoked_at = now
            user = await s.get(User, sess.user_id)
            if user is not None:
                audit.record(
                    s, organisation_id=user.organisation_id, clinic_id=user.clinic_id, actor_type="user",
                    actor_id=user.id, action="user.signed_out", subject_type="user", subject_id=user.id, at=now,
                )

    @staticmethod
    async def revoke_all(s: AsyncSession, user_id: str, now: datetime) -> None:
        """End every session of a user (inside the caller's write transaction)."""
        await s.execute(
            update(AdminSession)
            .where(AdminSession.user_id == user_id, AdminSession.revoked_at.is_(None))
            .values(revoked_at=now)
        )
