"""Sign-in and admin sessions.

A session is a row in ``admin_sessions``. The browser's cookie holds a random
256-bit token (encrypted by aiohttp-session); the row's id is the SHA-256 of
that token, so a copy of the table signs nobody in. A session ends when

- it has been idle for ``IDLE`` (``last_seen_at`` slides with use),
- it is older than ``ABSOLUTE`` however busy it is,
- the user signs out (the row is revoked), or the user is deactivated.

Each session carries its own CSRF token, checked on every state-changing
request. Failed sign-ins are throttled per e-mail address; unknown addresses
cost the same argon2 work and get the same answer as wrong passwords, so the
page does not tell who has an account.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select, update
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
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)

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


class AdminSessions:
    def __init__(self, db: Database, *, clock: Clock, hasher: PasswordHasher | None = None) -> None:
        self.db = db
        self.clock = clock
        self.hasher = hasher or PasswordHasher()
        # A hash to verify against when the e-mail is unknown, so both cases cost the same.
        self._dummy_hash = self.hasher.hash(secrets.token_urlsafe(16))

    # --- passwords ---------------------------------------------------------------------

    def hash_password(self, password: str) -> str:
        return self.hasher.hash(password)

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self.hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    # --- throttle ----------------------------------------------------------------------
    # Failed sign-ins live in the database, so every web process counts the same ones.

    async def _recent_failures(self, email: str, now: datetime) -> int:
        async with self.db.read() as s:
            count = await s.scalar(
                select(func.count()).select_from(SignInFailure).where(
                    SignInFailure.email_hash == _email_hash(email), SignInFailure.at > now - FAILURE_WINDOW
                )
            )
        return int(count or 0)

    @staticmethod
    async def _fail(s: AsyncSession, email: str, now: datetime) -> None:
        # What has left the window counts no more: drop it, for every address.
        await s.execute(delete(SignInFailure).where(SignInFailure.at <= now - FAILURE_WINDOW))
        s.add(SignInFailure(email_hash=_email_hash(email), at=now))

    @staticmethod
    async def _forget_failures(s: AsyncSession, email: str) -> None:
        await s.execute(delete(SignInFailure).where(SignInFailure.email_hash == _email_hash(email)))

    # --- sign-in / sign-out ------------------------------------------------------------

    async def sign_in(self, email: str, password: str) -> SignedIn:
        email = normalise_email(email)
        now = self.clock.now()
        if await self._recent_failures(email, now) >= MAX_FAILURES:
            raise RateLimited("too_many_attempts", "Too many failed sign-ins. Try again in 15 minutes.")
        async with self.db.read() as s:
            user = await s.scalar(select(User).where(User.email == email))
        ok = self._verify(user.password_hash if user is not None else self._dummy_hash, password[:1024])
        if user is None or not ok or not user.active:
            async with self.db.write() as s:
                await self._fail(s, email, now)
                if user is not None:
                    audit.record(
                        s, organisation_id=user.organisation_id, clinic_id=user.clinic_id, actor_type="user",
                        actor_id=user.id, action="user.sign_in_failed", subject_type="user", subject_id=user.id,
                        at=now,
                    )
            raise Unauthenticated("bad_credentials", "The e-mail or password is wrong.")
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        async with self.db.write() as s:
            await self._forget_failures(s, email)
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
            if self.hasher.check_needs_rehash(user.password_hash):
                row = await s.get(User, user.id)
                if row is not None:
                    row.password_hash = self.hasher.hash(password)
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
