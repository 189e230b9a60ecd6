"""*Export settings > MediPay*: a book's MediPay account and its credentials.

One account per book. Adding or changing one verifies the username and
password with MediPay (``GET /v1/account``) at once: ``status`` is ``active``
(the green check) only when MediPay accepted them, ``invalid`` when it refused
them, ``unverified`` when it could not be asked. The password is stored
encrypted (``app.ledger.secrets``) and never shown again.

Service functions (for the admin pages and the exporter):

- ``MediPayAccounts.save(organisation_id, book_id, username, password)``
- ``MediPayAccounts.verify(organisation_id, book_id)``
- ``MediPayAccounts.get(organisation_id, book_id)`` / ``list(organisation_id)``
- ``credentials_for_book(session, book_id, secret_key)`` (exporter, sync)
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app import audit
from app import validation as v
from app.clock import Clock
from app.db import Database
from app.errors import Conflict, NotFound
from app.ids import new_id
from app.ledger import secrets
from app.ledger.books import exports_to_medipay, owned_book
from app.models import Book, MediPayAccount
from integrations.medipay.protocol import Credentials, InvalidCredentials, MediPayGateway, ProviderError


def account_view(account: MediPayAccount) -> dict[str, Any]:
    return {
        "id": account.id,
        "book_id": account.book_id,
        "username": account.username,
        "status": account.status,
        "verified": account.status == "active",
        "verified_at": account.verified_at.isoformat() if account.verified_at else None,
        "last_error": account.last_error,
    }


async def credentials_for_book(s: AsyncSession, book_id: str | None, secret_key: str) -> Credentials | None:
    """The credentials to export a card of ``book_id`` with: only a MediPay book with a verified account."""
    if book_id is None:
        return None
    book = await s.get(Book, book_id)
    if book is None or not exports_to_medipay(book):
        return None
    account = await s.scalar(select(MediPayAccount).where(MediPayAccount.book_id == book_id))
    if account is None or account.status != "active":
        return None
    try:
        return Credentials(account.username, secrets.decrypt(secret_key, account.password_encrypted))
    except secrets.SecretUnreadable:
        return None


async def medipay_book_for(s: AsyncSession, organisation_id: str) -> str | None:
    """The book a card made in a call goes into: the organisation's first active MediPay book."""
    books = (
        await s.scalars(
            select(Book)
            .where(Book.organisation_id == organisation_id, Book.active.is_(True), Book.export_format == "medipay")
            .order_by(Book.created_at, Book.id)
        )
    ).all()
    return next((b.id for b in books if exports_to_medipay(b)), None)


class MediPayAccounts:
    def __init__(self, db: Database, *, gateway: MediPayGateway, clock: Clock, secret_key: str) -> None:
        self.db = db
        self.gateway = gateway
        self.clock = clock
        self.secret_key = secret_key

    async def save(
        self, organisation_id: str, book_id: str, username: Any, password: Any, *,
        actor_type: str = "user", actor_id: str | None = None,
    ) -> dict[str, Any]:
        """Add or replace the book's account and verify it with MediPay."""
        name = v.text({"username": username}, "username")
        secret = v.text({"password": password}, "password", max_len=200)
        assert name is not None and secret is not None
        async with self.db.read() as s:
            book = await owned_book(s, organisation_id, book_id)
            if not exports_to_medipay(book):
                raise Conflict("book_not_medipay",
                               "MediPay works only for an active book with a description and export format MediPay.")
        status, error = await self._ask(Credentials(name, secret))
        async with self.db.write() as s:
            now = self.clock.now()
            account = await s.scalar(select(MediPayAccount).where(MediPayAccount.book_id == book_id))
            if account is None:
                account = MediPayAccount(id=new_id("mpa"), organisation_id=organisation_id, book_id=book_id,
                                         created_at=now)
                s.add(account)
            account.username = name
            account.password_encrypted = secrets.encrypt(self.secret_key, secret)
            account.status = status
            account.verified_at = now if status == "active" else None
            account.last_error = error
            account.updated_at = now
            await s.flush()
            audit.record(s, organisation_id=organisation_id, clinic_id=None, actor_type=actor_type,
                         actor_id=actor_id, action="medipay_account.saved", subject_type="book",
                         subject_id=book_id, at=now, details={"username": name, "status": status})
            return account_view(account)

    async def verify(self, organisation_id: str, book_id: str) -> dict[str, Any]:
        """Ask MediPay again whether the stored credentials work."""
        async with self.db.read() as s:
            await owned_book(s, organisation_id, book_id)
            account = await s.scalar(select(MediPayAccount).where(MediPayAccount.book_id == book_id))
            if account is None:
                raise NotFound("medipay_account_not_found", "That book has no MediPay account.")
            try:
                creds = Credentials(account.username, secrets.decrypt(self.secret_key, account.password_encrypted))
            except secrets.SecretUnreadable:
                creds = None
        if creds is None:
            status, error = "invalid", "The stored password cannot be read; type it in again."
        else:
            status, error = await self._ask(creds)
        async with self.db.write() as s:
            row = await s.get(MediPayAccount, account.id, with_for_update=True)
            assert row is not None
            now = self.clock.now()
            row.status, row.last_error, row.updated_at = status, error, now
            if status == "active":
                row.verified_at = now
            return account_view(row)

    async def get(self, organisation_id: str, book_id: str) -> dict[str, Any] | None:
        async with self.db.read() as s:
            await owned_book(s, organisation_id, book_id)
            account = await s.scalar(select(MediPayAccount).where(MediPayAccount.book_id == book_id))
            return account_view(account) if account else None

    async def list(self, organisation_id: str) -> list[dict[str, Any]]:
        async with self.db.read() as s:
            rows = (await s.scalars(select(MediPayAccount).where(MediPayAccount.organisation_id == organisation_id)
                                    .order_by(MediPayAccount.created_at))).all()
            return [account_view(a) for a in rows]

    async def _ask(self, creds: Credentials) -> tuple[str, str | None]:
        try:
            account = await self.gateway.verify_account(creds)
        except InvalidCredentials:
            return "invalid", "MediPay did not accept the username and password."
        except ProviderError as e:
            return "unverified", f"MediPay could not be asked: {e.message}"[:500]
        return ("active", None) if account.status == "active" else ("invalid", f"MediPay says {account.status}")
