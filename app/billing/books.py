"""Accounting books (*regnskap*): where an organisation's bill cards are kept.

A user of an organisation can own several books. A book has a description, an
*Active* flag and an export format (``none`` or ``medipay``); MediPay takes a
book's cards only when the book is active, described and exports to MediPay
(``exports_to_medipay``). A card may name a book only of its own organisation
(``owned_book``). MediPay accounts and their credentials belong to a book and
come with the MediPay export.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from app import audit
from app import validation as v
from app.clock import Clock
from app.db import Database
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.ids import new_id
from app.models import Book, User

# MediPay takes an active book with a description and this export format (docs/rules.md, rule B2).
EXPORT_FORMATS = ("none", "medipay")


def exports_to_medipay(book: Book) -> bool:
    return book.active and bool(book.description.strip()) and book.export_format == "medipay"


def book_view(book: Book) -> dict[str, Any]:
    return {
        "id": book.id,
        "organisation_id": book.organisation_id,
        "owner_user_id": book.owner_user_id,
        "description": book.description,
        "active": book.active,
        "export_format": book.export_format,
        "medipay": exports_to_medipay(book),
        "created_at": book.created_at.isoformat(),
    }


async def owned_book(s: AsyncSession, organisation_id: str, book_id: str, *, lock: bool = False) -> Book:
    """The book, if it is this organisation's; 404 unknown, 403 another organisation's."""
    book = await s.get(Book, book_id, with_for_update=lock) if len(book_id) <= 40 else None
    if book is None:
        raise NotFound("book_not_found", "No such book.")
    if book.organisation_id != organisation_id:
        raise Forbidden("forbidden", "That book belongs to another organisation.")
    return book


async def book_for_card(s: AsyncSession, organisation_id: str, book_id: str) -> Book:
    """A book a card may be put in: this organisation's, and active."""
    book = await owned_book(s, organisation_id, book_id)
    if not book.active:
        raise Conflict("book_inactive", "That book is not active.")
    return book


def _export_format(value: Any) -> str:
    if value not in EXPORT_FORMATS:
        raise Invalid("invalid_export_format", "export_format must be none or medipay", field="export_format")
    return str(value)


def _active(value: Any) -> bool:
    if not isinstance(value, bool):
        raise Invalid("invalid_field", "active must be true or false", field="active")
    return value


class Books:
    """Create, change and list an organisation's books. Every change is audited."""

    def __init__(self, db: Database, *, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def create(
        self,
        organisation_id: str,
        *,
        owner_user_id: str,
        description: str,
        active: bool = True,
        export_format: str = "none",
        actor_type: str = "user",
        actor_id: str | None = None,
    ) -> dict[str, Any]:
        described = v.text({"description": description}, "description")
        fmt = _export_format(export_format)
        is_active = _active(active)
        async with self.db.write() as s:
            owner = await s.get(User, owner_user_id) if len(owner_user_id) <= 40 else None
            if owner is None or owner.organisation_id != organisation_id:
                raise NotFound("user_not_found", "No such user in this organisation.")
            now = self.clock.now()
            book = Book(
                id=new_id("book"),
                organisation_id=organisation_id,
                owner_user_id=owner.id,
                description=described,
                active=is_active,
                export_format=fmt,
                created_at=now,
            )
            s.add(book)
            audit_book(s, book, "book.created", actor_type, actor_id, now, book_view_fields(book))
            await s.flush()
            return book_view(book)

    async def update(
        self,
        organisation_id: str,
        book_id: str,
        changes: dict[str, Any],
        *,
        actor_type: str = "user",
        actor_id: str | None = None,
    ) -> dict[str, Any]:
        """Change ``description``, ``active`` and/or ``export_format``; other keys are refused."""
        unknown = set(changes) - {"description", "active", "export_format"}
        if unknown:
            raise Invalid("invalid_field", f"unknown fields: {', '.join(sorted(unknown))}")
        new: dict[str, Any] = {}
        if "description" in changes:
            new["description"] = v.text(changes, "description")
        if "active" in changes:
            new["active"] = _active(changes["active"])
        if "export_format" in changes:
            new["export_format"] = _export_format(changes["export_format"])
        async with self.db.write() as s:
            book = await owned_book(s, organisation_id, book_id, lock=True)
            before = book_view_fields(book)
            for key, value in new.items():
                setattr(book, key, value)
            diff = {k: [before[k], value] for k, value in new.items() if before[k] != value}
            if diff:
                audit_book(s, book, "book.updated", actor_type, actor_id, self.clock.now(), diff)
            return book_view(book)

    async def list(self, organisation_id: str, *, owner_user_id: str | None = None) -> list[dict[str, Any]]:
        query = select(Book).where(Book.organisation_id == organisation_id)
        if owner_user_id is not None:
            query = query.where(Book.owner_user_id == owner_user_id)
        async with self.db.read() as s:
            books = (await s.scalars(query.order_by(Book.created_at, Book.id))).all()
        return [book_view(b) for b in books]

    async def get(self, organisation_id: str, book_id: str) -> dict[str, Any]:
        async with self.db.read() as s:
            return book_view(await owned_book(s, organisation_id, book_id))


def book_view_fields(book: Book) -> dict[str, Any]:
    return {"description": book.description, "active": book.active, "export_format": book.export_format}


def audit_book(
    s: AsyncSession, book: Book, action: str, actor_type: str, actor_id: str | None, at: datetime, details: Any
) -> None:
    audit.record(
        s,
        organisation_id=book.organisation_id,
        clinic_id=None,
        actor_type=actor_type,
        actor_id=actor_id,
        action=action,
        subject_type="book",
        subject_id=book.id,
        at=at,
        details=details,
    )


# Built once: it runs for every card a call makes.
_MEDIPAY_BOOKS = (
    select(Book)
    .where(Book.organisation_id == bindparam("organisation_id"), Book.active.is_(True),
           Book.export_format == "medipay")
    .order_by(Book.created_at, Book.id)
)


async def medipay_book_for(s: AsyncSession, organisation_id: str) -> str | None:
    """The book a card made in a call goes into: the organisation's first active MediPay book."""
    books = (await s.scalars(_MEDIPAY_BOOKS, {"organisation_id": organisation_id})).all()
    return next((b.id for b in books if exports_to_medipay(b)), None)
