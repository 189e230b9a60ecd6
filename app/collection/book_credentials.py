"""The MediPay credentials a book's cards are exported with."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.billing.books import exports_to_medipay
from app.collection.secret_box import SecretBox, SecretUnreadable
from app.models import Book, MediPayAccount
from integrations.medipay.protocol import Credentials


async def credentials_for_book(s: AsyncSession, book_id: str | None, box: SecretBox) -> Credentials | None:
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
        return Credentials(account.username, box.reveal(account.password_encrypted))
    except SecretUnreadable:
        return None
