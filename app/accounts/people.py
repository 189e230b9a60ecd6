"""Users: inviting, creating, deactivating, and who may do that to whom.

Roles rank ``team_member`` < ``clinic_admin`` < ``organisation_admin``. Nobody
may give a role above their own, and a clinic admin acts only inside their own
clinic. An invitation is a single-use link valid for ``INVITATION_TTL``; only
the SHA-256 of its token is stored, so the link is shown once, to the inviter.
Every change lands in the audit trail in the same transaction.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app import audit
from app import validation as v
from app.accounts.sessions import ROLES, AdminSessions, AdminUser, normalise_email
from app.clock import Clock
from app.db import Database
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.ids import new_id
from app.models import Clinic, Invitation, Organisation, User

INVITATION_TTL = timedelta(hours=72)
MIN_PASSWORD = 10
RANK = {"team_member": 0, "clinic_admin": 1, "organisation_admin": 2}
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class NewPerson:
    email: str
    name: str
    role: str
    clinic_id: str | None
    clinician_ref: str | None = None


@dataclass(frozen=True)
class Invited:
    invitation: Invitation
    token: str


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise Invalid("password_too_short", "The password must be at least 10 characters.", field="password")
    if len(password) > 1024:
        raise Invalid("password_too_long", "The password is too long.", field="password")


def assignable_roles(actor: AdminUser) -> tuple[str, ...]:
    """Roles the actor may give: their own and below; team members give none."""
    if actor.role == "team_member":
        return ()
    return tuple(r for r in ROLES if RANK[r] <= RANK[actor.role])


def can_manage_user(actor: AdminUser, user: User) -> bool:
    if user.organisation_id != actor.organisation_id or RANK.get(user.role, 99) > RANK[actor.role]:
        return False
    if actor.role == "organisation_admin":
        return True
    return actor.role == "clinic_admin" and user.clinic_id is not None and user.clinic_id == actor.clinic_id


class People:
    def __init__(self, db: Database, *, clock: Clock, hasher: PasswordHasher | None = None) -> None:
        self.db = db
        self.clock = clock
        self.hasher = hasher or PasswordHasher()

    # --- reading ------------------------------------------------------------------------

    async def list_for(self, actor: AdminUser) -> list[User]:
        query = select(User).where(User.organisation_id == actor.organisation_id)
        if actor.role == "clinic_admin":
            query = query.where(User.clinic_id == (actor.clinic_id or ""))
        elif actor.role != "organisation_admin":
            raise Forbidden("forbidden", "You do not have access to this page.")
        async with self.db.read() as s:
            return list((await s.scalars(query.order_by(User.active.desc(), User.name, User.email))).all())

    async def pending_invitations(self, actor: AdminUser) -> list[Invitation]:
        now = self.clock.now()
        query = select(Invitation).where(
            Invitation.organisation_id == actor.organisation_id,
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
            Invitation.expires_at > now,
        )
        if actor.role == "clinic_admin":
            query = query.where(Invitation.clinic_id == (actor.clinic_id or ""))
        async with self.db.read() as s:
            return list((await s.scalars(query.order_by(Invitation.created_at.desc()))).all())

    # --- validation ---------------------------------------------------------------------

    async def _validate(self, s: AsyncSession, actor: AdminUser, person: NewPerson) -> NewPerson:
        email = normalise_email(person.email)
        if not EMAIL.match(email) or len(email) > 320:
            raise Invalid("invalid_email", "Enter a valid e-mail address.", field="email")
        name = v.person_name(person.name)
        if person.role not in ROLES:
            raise Invalid("invalid_role", "Choose a role.", field="role")
        if person.role not in assignable_roles(actor):
            raise Forbidden("role_too_high", "You cannot give a role above your own.", field="role")
        clinic_id = person.clinic_id or None
        if actor.role == "clinic_admin":
            clinic_id = actor.clinic_id
        if person.role != "organisation_admin" and clinic_id is None:
            raise Invalid("clinic_required", "Choose a clinic.", field="clinic_id")
        if clinic_id is not None:
            clinic = await s.get(Clinic, clinic_id)
            if clinic is None or clinic.organisation_id != actor.organisation_id:
                raise Invalid("clinic_required", "Choose a clinic.", field="clinic_id")
        if await s.scalar(select(User.id).where(User.email == email)) is not None:
            raise Conflict("email_taken", "A user with this e-mail address already exists.", field="email")
        ref = _clinician_ref(person.clinician_ref or "")
        return NewPerson(email=email, name=name, role=person.role, clinic_id=clinic_id, clinician_ref=ref)

    # --- changes ------------------------------------------------------------------------

    async def _hash(self, password: str) -> str:
        # In a worker thread and before the write transaction: argon2 would hold the event loop,
        # and on SQLite the write lock, for its whole run.
        return await asyncio.to_thread(self.hasher.hash, password)

    async def invite(self, actor: AdminUser, person: NewPerson) -> Invited:
        now = self.clock.now()
        token = secrets.token_urlsafe(32)
        async with self.db.write() as s:
            p = await self._validate(s, actor, person)
            inv = Invitation(
                id=new_id("inv"),
                organisation_id=actor.organisation_id,
                clinic_id=p.clinic_id,
                email=p.email,
                name=p.name,
                role=p.role,
                token_hash=token_hash(token),
                created_by=actor.id,
                created_at=now,
                expires_at=now + INVITATION_TTL,
            )
            s.add(inv)
            audit.record(
                s, organisation_id=actor.organisation_id, clinic_id=p.clinic_id, actor_type="user", actor_id=actor.id,
                action="user.invited", subject_type="invitation", subject_id=inv.id,
                details={"email": p.email, "role": p.role}, at=now,
            )
        return Invited(invitation=inv, token=token)

    async def create(self, actor: AdminUser, person: NewPerson, password: str) -> User:
        check_password(password)
        now = self.clock.now()
        password_hash = await self._hash(password)
        async with self.db.write() as s:
            p = await self._validate(s, actor, person)
            user = User.new(
                organisation_id=actor.organisation_id, clinic_id=p.clinic_id, email=p.email, name=p.name,
                role=p.role, password_hash=password_hash, clinician_ref=p.clinician_ref, now=now,
            )
            s.add(user)
            audit.record(
                s, organisation_id=actor.organisation_id, clinic_id=p.clinic_id, actor_type="user", actor_id=actor.id,
                action="user.created", subject_type="user", subject_id=user.id,
                details={"email": p.email, "role": p.role}, at=now,
            )
        return user

    async def invitation(self, token: str) -> Invitation:
        """The open invitation for a link's token; NotFound when unknown, used or expired."""
        if not token or len(token) > 100:
            raise NotFound("invitation_not_found", "This invitation link is not valid any more.")
        async with self.db.read() as s:
            inv = await s.scalar(select(Invitation).where(Invitation.token_hash == token_hash(token)))
        if inv is None or inv.accepted_at is not None or inv.revoked_at is not None or \
                self.clock.now() >= inv.expires_at:
            raise NotFound("invitation_not_found", "This invitation link is not valid any more.")
        return inv

    async def accept(self, token: str, *, name: str, password: str) -> User:
        check_password(password)
        name = v.person_name(name)
        now = self.clock.now()
        password_hash = await self._hash(password)
        async with self.db.write() as s:
            inv = await s.scalar(
                select(Invitation).where(Invitation.token_hash == token_hash(token)).with_for_update()
            )
            # Re-checked inside the write: two tabs accepting at once make one user.
            if inv is None or inv.accepted_at is not None or inv.revoked_at is not None or now >= inv.expires_at:
                raise NotFound("invitation_not_found", "This invitation link is not valid any more.")
            if await s.scalar(select(User.id).where(User.email == inv.email)) is not None:
                raise Conflict("email_taken", "A user with this e-mail address already exists.", field="email")
            inv.accepted_at = now
            user = User.new(
                organisation_id=inv.organisation_id, clinic_id=inv.clinic_id, email=inv.email, name=name,
                role=inv.role, password_hash=password_hash, now=now,
            )
            s.add(user)
            audit.record(
                s, organisation_id=inv.organisation_id, clinic_id=inv.clinic_id, actor_type="user", actor_id=user.id,
                action="user.invitation_accepted", subject_type="user", subject_id=user.id,
                details={"invitation_id": inv.id, "role": inv.role}, at=now,
            )
        return user

    async def _managed(self, s: AsyncSession, actor: AdminUser, user_id: str) -> User:
        user = await s.get(User, user_id, with_for_update=True) if 0 < len(user_id) <= 40 else None
        if user is None or user.organisation_id != actor.organisation_id:
            raise NotFound("user_not_found", "There is no such user.")
        if not can_manage_user(actor, user):
            raise Forbidden("forbidden", "You do not have access to this page.")
        return user

    async def deactivate(self, actor: AdminUser, user_id: str) -> User:
        now = self.clock.now()
        async with self.db.write() as s:
            user = await self._managed(s, actor, user_id)
            if user.id == actor.id:
                raise Conflict("cannot_deactivate_self", "You cannot deactivate yourself.")
            if not user.active:
                return user
            user.active = False
            await AdminSessions.revoke_all(s, user.id, now)
            audit.record(
                s, organisation_id=user.organisation_id, clinic_id=user.clinic_id, actor_type="user",
                actor_id=actor.id, action="user.deactivated", subject_type="user", subject_id=user.id, at=now,
            )
        return user

    async def managed_user(self, actor: AdminUser, user_id: str) -> User:
        """A user the actor may deactivate or reactivate (for the confirm page); NotFound/Forbidden otherwise."""
        async with self.db.read() as s:
            return await self._managed(s, actor, user_id)

    async def reactivate(self, actor: AdminUser, user_id: str) -> User:
        """Undo a deactivation: the user signs in again with their own password (sessions stay ended)."""
        now = self.clock.now()
        async with self.db.write() as s:
            user = await self._managed(s, actor, user_id)
            if user.active:
                return user
            user.active = True
            audit.record(
                s, organisation_id=user.organisation_id, clinic_id=user.clinic_id, actor_type="user",
                actor_id=actor.id, action="user.reactivated", subject_type="user", subject_id=user.id, at=now,
            )
        return user

    async def open_invitation(self, actor: AdminUser, invitation_id: str, *, lock: bool = False,
                              s: AsyncSession | None = None) -> Invitation:
        """An invitation the actor may revoke: theirs to see, not yet used, revoked or expired."""
        if s is None:
            async with self.db.read() as s:
                return await self.open_invitation(actor, invitation_id, s=s)
        inv = await s.get(Invitation, invitation_id, with_for_update=lock) if 0 < len(invitation_id) <= 40 else None
        if inv is None or inv.organisation_id != actor.organisation_id:
            raise NotFound("invitation_not_found", "There is no such invitation.")
        if actor.role == "clinic_admin" and inv.clinic_id != actor.clinic_id or actor.role not in RANK \
                or RANK[actor.role] < 1:
            raise Forbidden("forbidden", "You do not have access to this page.")
        if inv.accepted_at is not None or inv.revoked_at is not None or self.clock.now() >= inv.expires_at:
            raise Conflict("invitation_closed", "This invitation has already been used, revoked or has expired.")
        return inv

    async def revoke_invitation(self, actor: AdminUser, invitation_id: str) -> Invitation:
        """Revoke an open invitation: its link stops working at once."""
        now = self.clock.now()
        async with self.db.write() as s:
            inv = await self.open_invitation(actor, invitation_id, lock=True, s=s)
            inv.revoked_at = now
            audit.record(
                s, organisation_id=inv.organisation_id, clinic_id=inv.clinic_id, actor_type="user",
                actor_id=actor.id, action="invitation.revoked", subject_type="invitation", subject_id=inv.id,
                at=now, details={"email": inv.email, "role": inv.role},
            )
        return inv

    async def set_clinician_ref(self, actor: AdminUser, user_id: str, ref: str) -> User:
        value = _clinician_ref(ref)
        now = self.clock.now()
        async with self.db.write() as s:
            user = await self._managed(s, actor, user_id)
            if value is not None and user.clinic_id is not None:
                taken = await s.scalar(
                    select(User.id).where(
                        User.clinic_id == user.clinic_id, User.clinician_ref == value, User.id != user.id
                    )
                )
                if taken is not None:
                    raise Conflict(
                        "clinician_ref_taken", "Another user in this clinic has this clinician id.",
                        field="clinician_ref",
                    )
            before = user.clinician_ref
            if before == value:
                return user
            user.clinician_ref = value
            audit.record(
                s, organisation_id=user.organisation_id, clinic_id=user.clinic_id, actor_type="user",
                actor_id=actor.id, action="user.clinician_ref_changed", subject_type="user", subject_id=user.id,
                details={"from": before, "to": value}, at=now,
            )
        return user

    # --- the first admin (command line) ------------------------------------------------

    async def create_first_admin(
        self, *, email: str, name: str, password: str, organisation_id: str | None, organisation_name: str | None
    ) -> User:
        check_password(password)
        email = normalise_email(email)
        if not EMAIL.match(email):
            raise Invalid("invalid_email", "Enter a valid e-mail address.", field="email")
        name = v.person_name(name)
        if organisation_name:
            organisation_name = v.person_name(organisation_name, "organisation_name")
        now = self.clock.now()
        async with self.db.write() as s:
            if organisation_id:
                org = await s.get(Organisation, organisation_id)
                if org is None:
                    raise NotFound("organisation_not_found", "There is no such organisation.")
            else:
                org = Organisation(id=new_id("org"), name=(organisation_name or "").strip() or name.strip(),
                                   created_at=now)
                s.add(org)
                await s.flush()
            if await s.scalar(select(User.id).where(User.email == email)) is not None:
                raise Conflict("email_taken", "A user with this e-mail address already exists.", field="email")
            user = User.new(
                organisation_id=org.id, clinic_id=None, email=email, name=name.strip(), role="organisation_admin",
                password_hash=self.hasher.hash(password), now=now,
            )
            s.add(user)
            audit.record(
                s, organisation_id=org.id, clinic_id=None, actor_type="system", actor_id="create-admin",
                action="user.created", subject_type="user", subject_id=user.id,
                details={"email": email, "role": "organisation_admin"}, at=now,
            )
        return user


def _clinician_ref(value: str) -> str | None:
    if len(value.strip()) > 200:
        raise Invalid("invalid_clinician_ref", "The clinician id is too long.", field="clinician_ref")
    return v.clean_text(value, "clinician_ref", required=False)
