"""*Export settings > MediPay*: a book's MediPay account, its PayEx credentials, and their check.

The credentials are checked with MediPay (``GET /v1/account``) before they are
saved as ``active`` (the green check): MediPay answering 401 saves them as
``invalid`` with MediPay's message in ``last_error``; MediPay not answering
saves nothing and raises ``Unavailable`` (503, *not verified, try again*), so
an outage never turns a working account red. MediPay works only for an
active, described book with export format MediPay (409 ``book_not_medipay``).
The password is stored sealed (``app.collection.secret_box``) and is never shown
again; leaving it empty when editing keeps the stored one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from app.billing.books import audit_book, exports_to_medipay, owned_book
from app.clock import Clock
from app.collection.secret_box import SecretBox, SecretUnreadable
from app.db import Database
from app.errors import Conflict, Invalid, NotFound, Unavailable
from app.ids import new_id
from app.models import MediPayAccount
from integrations.medipay.protocol import Credentials, InvalidCredentials, MediPayGateway, ProviderError

MAX_USERNAME = 200
MAX_PASSWORD = 200


@dataclass(frozen=True)
class AccountView:
    id: str
    book_id: str
    username: str
    status: str  # unverified | active | invalid
    verified_at: datetime | None
    last_error: str | None

    @classmethod
    def of(cls, row: MediPayAccount) -> AccountView:
        return cls(row.id, row.book_id, row.username, row.status, row.verified_at, row.last_error)


def _credential(value: Any, name: str, limit: int, *, required: bool) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise Invalid("missing_field", f"Enter the {name} you received from PayEx.", field=name)
        return None
    if not isinstance(value, str) or len(value) > limit or any(ord(c) < 32 for c in value):
        raise Invalid("invalid_field", f"The {name} is too long or has characters that are not allowed.", field=name)
    return value.strip() if name == "username" else value


class MediPayAccounts:
    def __init__(self, db: Database, *, gateway: MediPayGateway, clock: Clock, box: SecretBox) -> None:
        self.db = db
        self.gateway = gateway
        self.clock = clock
        self.box = box

    async def for_books(self, book_ids: list[str]) -> dict[str, AccountView]:
        if not book_ids:
            return {}
        async with self.db.read() as s:
            rows = (await s.scalars(select(MediPayAccount).where(MediPayAccount.book_id.in_(book_ids)))).all()
        return {row.book_id: AccountView.of(row) for row in rows}

    async def save(
        self, organisation_id: str, book_id: str, username: Any, password: Any, *, actor_type: str = "user",
        actor_id: str | None = None,
    ) -> AccountView:
        """Check the credentials with MediPay, then store them as ``active`` or ``invalid``."""
        name = _credential(username, "username", MAX_USERNAME, required=True)
        secret = _credential(password, "password", MAX_PASSWORD, required=False)
        assert name is not None
        async with self.db.read() as s:
            book = await owned_book(s, organisation_id, book_id)
            if not exports_to_medipay(book):
                raise Conflict("book_not_medipay",
                               "MediPay works only for an active book with a description and export format MediPay.")
            existing = await s.scalar(select(MediPayAccount).where(MediPayAccount.book_id == book.id))
        if secret is None:
            if existing is None:
                raise Invalid("missing_field", "Enter the password you received from PayEx.", field="password")
            try:
                secret = self.box.reveal(existing.password_encrypted)
            except SecretUnreadable:
                raise Invalid("missing_field", "Enter the password again: the stored one cannot be read.",
                              field="password") from None
        status, error = await self._check(Credentials(name, secret))
        async with self.db.write() as s:
            book = await owned_book(s, organisation_id, book_id, lock=True)
            row = await s.scalar(select(MediPayAccount).where(MediPayAccount.book_id == book.id))
            now = self.clock.now()
            if row is None:
                row = MediPayAccount(id=new_id("mpa"), organisation_id=organisation_id, book_id=book.id,
                                     created_at=now)
                s.add(row)
            row.username = name
            row.password_encrypted = self.box.seal(secret)
            row.status = status
            row.last_error = error
            row.verified_at = now if status == "active" else None
            row.updated_at = now
            details = {"username": name, "status": status}
            audit_book(s, book, "medipay_account.saved", actor_type, actor_id, now, details)
            await s.flush()
            return AccountView.of(row)

    async def verify(self, organisation_id: str, book_id: str, *, actor_id: str | None) -> AccountView:
        """Check the stored credentials again (after PayEx changed something, or an outage)."""
        async with self.db.read() as s:
            book = await owned_book(s, organisation_id, book_id)
            row = await s.scalar(select(MediPayAccount).where(MediPayAccount.book_id == book.id))
        if row is None:
            raise NotFound("medipay_account_not_found", "This book has no MediPay account yet.")
        try:
            secret = self.box.reveal(row.password_encrypted)
        except SecretUnreadable:
            raise Conflict("password_unreadable", "Enter the password again: the stored one cannot be read.") from None
        status, error = await self._check(Credentials(row.username, secret))
        async with self.db.write() as s:
            book = await owned_book(s, organisation_id, book_id, lock=True)
            row = await s.scalar(select(MediPayAccount).where(MediPayAccount.book_id == book.id))
            if row is None:
                raise NotFound("medipay_account_not_found", "This book has no MediPay account yet.")
            now = self.clock.now()
            row.status, row.last_error, row.updated_at = status, error, now
            row.verified_at = now if status == "active" else None
            audit_book(s, book, "medipay_account.verified", "user", actor_id, now, {"status": status})
            return AccountView.of(row)

    async def credentials(self, book_id: str) -> Credentials | None:
        """The book's verified credentials, for talking to MediPay; None if there are none."""
        async with self.db.read() as s:
            row = await s.scalar(select(MediPayAccount).where(MediPayAccount.book_id == book_id))
        if row is None or row.status != "active":
            return None
        try:
            return Credentials(row.username, self.box.reveal(row.password_encrypted))
        except SecretUnreadable:
            return None

    async def _check(self, credentials: Credentials) -> tuple[str, str | None]:
        try:
            account = await self.gateway.verify_account(credentials)
        except InvalidCredentials as e:
            return "invalid", (e.provider_message or e.message)[:500]
        except ProviderError as e:
            raise Unavailable(
                "medipay_unavailable", "MediPay could not be reached, so the account was not verified. Try again."
            ) from e
        if account.status != "active":
            return "invalid", f"MediPay says the account is {account.status}."[:500]
        return "active", None

