"""Which book a card is collected through, and the MediPay credentials to export it with."""

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
