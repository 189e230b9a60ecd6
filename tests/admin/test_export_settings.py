"""Books and *Export settings > MediPay*, as admins use them: forms with CSRF, the green check, outages.

The credentials are checked against the built-in MediPay sandbox over HTTP (any username, the
password ``medipay-test``); its fault injection plays MediPay being down.
"""

from __future__ import annotations

import re

from sqlalchemy import func, select

from app.collection.secret_box import SecretBox
from app.models import AuditEvent, Book, MediPayAccount
from tests.admin.factories import make_clinic, make_user, signed_in
from tests.factories import Live

PAGE = "/admin/export-settings"


async def medipay_faults(live: Live, n: int, kind: str = "server_error") -> None:
    assert live.http
    async with live.http.post(f"{live.settings.medipay_base}/_control/faults",
                              json={"next": n, "kind": kind, "path": "/v1/account"}) as resp:
        assert resp.status < 300, await resp.text()


async def account_of(live: Live, book_id: str) -> MediPayAccount | None:
    return await live.scalar(select(MediPayAccount).where(MediPayAccount.book_id == book_id))


async def create_book(browser, owner_id: str, description: str = "Regnskap MediPay") -> str:
    await browser.get(PAGE)
    reply = await browser.post(PAGE + "/books", {"description": description, "owner_user_id": owner_id,
                                                 "export_format": "medipay", "active": "yes"})
    assert reply.status == 303, reply.text
    found = re.fullmatch(r"/admin/export-settings/books/(book_\w+)", reply.location or "")
    assert found, reply.location
    return found.group(1)


async def test_org_admin_adds_a_medipay_account_and_sees_the_green_check(live: Live) -> None:
    admin = await make_user(live, "organisation_admin")
    async with await signed_in(live, admin) as browser:
        book_id = await create_book(browser, admin.id)
        book = await live.scalar(select(Book).where(Book.id == book_id))
        assert (book.description, book.active, book.export_format, book.owner_user_id) == (
            "Regnskap MediPay", True, "medipay", admin.id)

        # A wrong password: saved as not accepted, with MediPay's reason, no green check.
        await browser.get(f"{PAGE}/books/{book_id}")
        wrong = await browser.post(f"{PAGE}/books/{book_id}/medipay", {"username": "klinikk1", "password": "nope"},
                                   follow=True)
        assert wrong.status == 200 and "MediPay did not accept the username and password" in wrong.text
        assert 'data-status="invalid"' in wrong.text
        row = await account_of(live, book_id)
        assert row.status == "invalid" and row.last_error and row.verified_at is None
        assert row.last_error in wrong.text

        # The right one: verified, active, the check in the Status column of the list.
        good = await browser.post(f"{PAGE}/books/{book_id}/medipay",
                                  {"username": "klinikk1", "password": "medipay-test"}, follow=True)
        assert "MediPay accepted the username and password" in good.text
        listing = await browser.get(PAGE)
        row_html = listing.text.split(f'data-book-id="{book_id}"', 1)[1].split("</tr>", 1)[0]
        assert 'data-status="active"' in row_html and "✓" in row_html and "Verified and active" in row_html
        row = await account_of(live, book_id)
        assert row.status == "active" and row.verified_at is not None and row.last_error is None
        # Encrypted at rest: not the password, and it opens again with the app's key.
        assert "medipay-test" not in row.password_encrypted
        assert SecretBox(live.settings.secret_key).reveal(row.password_encrypted) == "medipay-test"
        assert "medipay-test" not in (await browser.get(f"{PAGE}/books/{book_id}")).text

        # Editing without a password keeps the stored one and checks it again.
        kept = await browser.post(f"{PAGE}/books/{book_id}/medipay", {"username": "klinikk1", "password": ""},
                                  follow=True)
        assert "MediPay accepted" in kept.text
    assert await live.scalar(select(func.count()).select_from(MediPayAccount).where(
        MediPayAccount.book_id == book_id)) == 1
    actions = await live.rows(select(AuditEvent.action, AuditEvent.actor_id).where(AuditEvent.subject_id == book_id))
    assert ("book.created", admin.id) in actions and ("medipay_account.saved", admin.id) in actions


async def test_medipay_outage_says_try_again_and_changes_nothing(live: Live) -> None:
    admin = await make_user(live, "organisation_admin")
    async with await signed_in(live, admin) as browser:
        book_id = await create_book(browser, admin.id)
        await browser.post(f"{PAGE}/books/{book_id}/medipay", {"username": "klinikk1", "password": "medipay-test"})
        before = await account_of(live, book_id)
        await medipay_faults(live, 2)
        await browser.get(f"{PAGE}/books/{book_id}")
        down = await browser.post(f"{PAGE}/books/{book_id}/medipay", {"username": "other", "password": "changed"})
        assert down.status == 503 and "not verified. Try again." in down.text
        again = await browser.post(f"{PAGE}/books/{book_id}/medipay/verify")
        assert again.status == 503 and 'role="alert"' in again.text
        after = await account_of(live, book_id)
        assert (after.username, after.status, after.password_encrypted, after.verified_at) == (
            before.username, "active", before.password_encrypted, before.verified_at)


async def test_bad_input_is_refused_with_a_message(live: Live) -> None:
    admin = await make_user(live, "organisation_admin")
    async with await signed_in(live, admin) as browser:
        await browser.get(PAGE)
        empty = await browser.post(PAGE + "/books", {"description": "", "owner_user_id": admin.id,
                                                     "export_format": "medipay"})
        assert empty.status == 422 and "Enter a description" in empty.text
        bad_format = await browser.post(PAGE + "/books", {"description": "X", "owner_user_id": admin.id,
                                                          "export_format": "sftp"})
        assert bad_format.status == 422
        stranger = await browser.post(PAGE + "/books", {"description": "X", "owner_user_id": "usr_nope",
                                                        "export_format": "none"})
        assert stranger.status == 422
        book_id = await create_book(browser, admin.id)
        await browser.get(f"{PAGE}/books/{book_id}")
        no_password = await browser.post(f"{PAGE}/books/{book_id}/medipay", {"username": "x", "password": ""})
        assert no_password.status == 422 and "Enter the password" in no_password.text
        no_user = await browser.post(f"{PAGE}/books/{book_id}/medipay", {"username": " ", "password": "y"})
        assert no_user.status == 422
        # Deactivate the book: MediPay will not take it, and the page says so.
        saved = await browser.post(f"{PAGE}/books/{book_id}", {"description": "Gammelt", "export_format": "medipay"},
                                   follow=True)
        assert "MediPay takes this book" in saved.text
        refused = await browser.post(f"{PAGE}/books/{book_id}/medipay", {"username": "x", "password": "medipay-test"})
        assert refused.status == 409 and "MediPay works only for an active book" in refused.text
    assert await account_of(live, book_id) is None
    book = await live.scalar(select(Book).where(Book.id == book_id))
    assert (book.description, book.active) == ("Gammelt", False)
    assert await live.scalar(select(func.count()).select_from(Book).where(Book.description.in_(["", "X"]))) == 0


async def test_clinic_admin_manages_only_their_clinics_books(live: Live) -> None:
    org_admin = await make_user(live, "organisation_admin")
    sibling = await make_clinic(live, live.demo["organisation_id"], name="Sibling clinic")
    sibling_doctor = await make_user(live, "team_member", clinic_id=sibling.id, name="Sibling Doctor")
    own_doctor = await make_user(live, "team_member", name="Own Doctor")
    async with await signed_in(live, org_admin) as browser:
        foreign_book = await create_book(browser, sibling_doctor.id, "Sibling book")
    admin = await make_user(live, "clinic_admin")
    async with await signed_in(live, admin) as browser:
        listing = await browser.get(PAGE)
        assert "Sibling book" not in listing.text and "Own Doctor" in listing.text
        assert "Sibling Doctor" not in listing.text
        assert (await browser.get(f"{PAGE}/books/{foreign_book}")).status == 403
        refused = await browser.post(f"{PAGE}/books/{foreign_book}/medipay", {"username": "a", "password": "b"})
        assert refused.status == 403
        refused = await browser.post(PAGE + "/books", {"description": "Mine", "owner_user_id": sibling_doctor.id,
                                                       "export_format": "none"})
        assert refused.status == 422
        own_book = await create_book(browser, own_doctor.id, "Own book")
        assert (await browser.get(f"{PAGE}/books/{own_book}")).status == 200
    member = await make_user(live, "team_member")
    async with await signed_in(live, member) as browser:
        assert (await browser.get(PAGE)).status == 403
    assert await account_of(live, foreign_book) is None
