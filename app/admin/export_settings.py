"""Accounting books and *Export settings > MediPay*.

An organisation admin manages every book of the organisation; a clinic admin
the books of the users of their own clinic. A book gets a MediPay account
with the username and password PayEx sent; the *Status* column shows the
green check only after MediPay accepted them (``MediPayAccounts.save``).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import select

from app.admin.auth import AdminUser, flash, page_error, render, require, translator
from app.billing.books import EXPORT_FORMATS, Books, exports_to_medipay
from app.errors import Conflict, DomainError, Invalid, Unavailable
from app.keys import CLOCK, DB, MEDIPAY_ACCOUNTS
from app.models import Book, User

routes = web.RouteTableDef()
ADMINS = ("organisation_admin", "clinic_admin")
PAGE = "/admin/export-settings"
FORMAT_LABELS = {"none": "None", "medipay": "MediPay"}


def _books(request: web.Request) -> Books:
    return Books(request.app[DB], clock=request.app[CLOCK])


async def _owners(request: web.Request) -> list[User]:
    """The users whose books the reader may manage."""
    user: AdminUser = request["user"]
    query = select(User).where(User.organisation_id == user.organisation_id, User.active.is_(True))
    if user.role == "clinic_admin":
        query = query.where(User.clinic_id == (user.clinic_id or ""))
    async with request.app[DB].read() as s:
        return list((await s.scalars(query.order_by(User.name, User.id))).all())


async def _visible_books(request: web.Request, owners: list[User]) -> list[Book]:
    user: AdminUser = request["user"]
    ids = [o.id for o in owners]
    async with request.app[DB].read() as s:
        return list((await s.scalars(
            select(Book).where(Book.organisation_id == user.organisation_id, Book.owner_user_id.in_(ids))
            .order_by(Book.description, Book.id)
        )).all())


async def _book_for(request: web.Request) -> Book:
    """The book in the path, if the reader may manage it; else a 404/403 page (raised)."""
    user: AdminUser = request["user"]
    book_id = request.match_info["book_id"]
    async with request.app[DB].read() as s:
        book = await s.get(Book, book_id) if 0 < len(book_id) <= 40 else None
        owner = await s.get(User, book.owner_user_id) if book is not None else None
    if book is None or owner is None or book.organisation_id != user.organisation_id:
        raise page_error(request, 404, "Not found", "There is no such book.")
    if user.role == "clinic_admin" and owner.clinic_id != user.clinic_id:
        raise page_error(request, 403, "Not allowed", "You do not have access to this page.")
    return book


def _form_text(form: Any, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _book_changes(form: Any) -> dict[str, Any]:
    fmt = _form_text(form, "export_format")
    if fmt not in EXPORT_FORMATS:
        raise Invalid("invalid_export_format", "Choose an export format.", field="export_format")
    return {"description": _form_text(form, "description"), "active": form.get("active") == "yes",
            "export_format": fmt}


@routes.get(PAGE)
@require(*ADMINS)
async def export_settings(request: web.Request) -> web.Response:
    return await _overview(request)


async def _overview(request: web.Request, *, errors: dict[str, str] | None = None,
                    values: dict[str, Any] | None = None, status: int = 200) -> web.Response:
    owners = await _owners(request)
    books = await _visible_books(request, owners)
    accounts = await request.app[MEDIPAY_ACCOUNTS].for_books([b.id for b in books])
    return render(
        request, "admin/export_settings.html", status_code=status, books=books, accounts=accounts,
        owner_options=[(o.id, o.name) for o in owners], owner_names={o.id: o.name for o in owners},
        format_labels=FORMAT_LABELS,
        exports_to_medipay=exports_to_medipay, errors=errors or {}, values=values or {},
    )


@routes.post(PAGE + "/books")
@require(*ADMINS)
async def create_book(request: web.Request) -> web.StreamResponse:
    user: AdminUser = request["user"]
    t = translator(request)
    form = await request.post()
    owner = _form_text(form, "owner_user_id")
    try:
        if owner not in {o.id for o in await _owners(request)}:
            raise Invalid("user_not_found", "Choose whose book it is.", field="owner_user_id")
        changes = _book_changes(form)
        book = await _books(request).create(user.organisation_id, owner_user_id=owner, actor_id=user.id, **changes)
    except Invalid as e:
        field = str(e.params.get("field") or "description")
        return await _overview(request, errors={field: t.gettext(_book_message(e))}, values=dict(form), status=422)
    await flash(request, t.gettext("The book “%(name)s” was created.") % {"name": book["description"]})
    raise web.HTTPSeeOther(f"{PAGE}/books/{book['id']}")


def _book_message(e: DomainError) -> str:
    if e.code in ("missing_field", "invalid_field") and e.params.get("field") == "description":
        return "Enter a description of at most 200 characters."
    return e.message


@routes.get(PAGE + "/books/{book_id}")
@require(*ADMINS)
async def book_page(request: web.Request) -> web.Response:
    return await _book_page(request, await _book_for(request))


async def _book_page(request: web.Request, book: Book, *, errors: dict[str, str] | None = None,
                     status: int = 200) -> web.Response:
    accounts = await request.app[MEDIPAY_ACCOUNTS].for_books([book.id])
    async with request.app[DB].read() as s:
        owner = await s.get(User, book.owner_user_id)
    return render(
        request, "admin/export_book.html", status_code=status, book=book, account=accounts.get(book.id),
        owner=owner, format_labels=FORMAT_LABELS, medipay_ready=exports_to_medipay(book), errors=errors or {},
        field_errors={k: v for k, v in (errors or {}).items() if k != "medipay"},
    )


@routes.post(PAGE + "/books/{book_id}")
@require(*ADMINS)
async def save_book(request: web.Request) -> web.StreamResponse:
    user: AdminUser = request["user"]
    book = await _book_for(request)
    t = translator(request)
    form = await request.post()
    try:
        await _books(request).update(user.organisation_id, book.id, _book_changes(form), actor_id=user.id)
    except Invalid as e:
        field = str(e.params.get("field") or "description")
        return await _book_page(request, book, errors={field: t.gettext(_book_message(e))}, status=422)
    await flash(request, t.gettext("The book was saved."))
    raise web.HTTPSeeOther(f"{PAGE}/books/{book.id}")


@routes.post(PAGE + "/books/{book_id}/medipay")
@require(*ADMINS)
async def save_medipay(request: web.Request) -> web.StreamResponse:
    user: AdminUser = request["user"]
    book = await _book_for(request)
    t = translator(request)
    form = await request.post()
    try:
        account = await request.app[MEDIPAY_ACCOUNTS].save(
            user.organisation_id, book.id, form.get("username"), form.get("password"), actor_id=user.id
        )
    except (Invalid, Conflict) as e:
        field = str(e.params.get("field") or "medipay")
        return await _book_page(request, book, errors={field: t.gettext(e.message)}, status=e.status)
    except Unavailable as e:
        return await _book_page(request, book, errors={"medipay": t.gettext(e.message)}, status=503)
    if account.status == "active":
        await flash(request, t.gettext("MediPay accepted the username and password. The account is active."))
    else:
        await flash(request, t.gettext("MediPay did not accept the username and password. Check them and try again."),
                    "error")
    raise web.HTTPSeeOther(f"{PAGE}/books/{book.id}#medipay")


@routes.post(PAGE + "/books/{book_id}/medipay/verify")
@require(*ADMINS)
async def verify_medipay(request: web.Request) -> web.StreamResponse:
    user: AdminUser = request["user"]
    book = await _book_for(request)
    t = translator(request)
    try:
        account = await request.app[MEDIPAY_ACCOUNTS].verify(user.organisation_id, book.id, actor_id=user.id)
    except Unavailable as e:
        return await _book_page(request, book, errors={"medipay": t.gettext(e.message)}, status=503)
    except DomainError as e:
        await flash(request, t.gettext(e.message), "error")
        raise web.HTTPSeeOther(f"{PAGE}/books/{book.id}#medipay") from None
    if account.status == "active":
        await flash(request, t.gettext("MediPay accepted the username and password. The account is active."))
    else:
        await flash(request, t.gettext("MediPay did not accept the username and password. Check them and try again."),
                    "error")
    raise web.HTTPSeeOther(f"{PAGE}/books/{book.id}#medipay")
