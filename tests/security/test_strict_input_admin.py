"""Admin forms use the same text check as the API: no control or bidirectional characters in names or labels.

U+202E (right-to-left override) makes "Kari \u202eannamdroN" show as "Kari Nordmanna" — a name
that reads as someone else's in the users list, the audit trail and every receipt.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.models import Book, Clinic, Invitation, StripeAccount, User
from tests.admin.factories import PASSWORD, AdminClient, make_user, signed_in
from tests.admin.test_users import invite
from tests.factories import Live

SPOOFS = ["Kari \u202eannamdroN", "Kari\u2066 Nordmann\u2069", "Kari\u200f Nordmann", "Kari\x1b[31m Nordmann"]


async def count(live: Live, model: type) -> int:
    return await live.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize("name", SPOOFS)
async def test_user_names_refuse_bidi_and_control_characters(live: Live, name: str) -> None:
    admin = await make_user(live, "organisation_admin")
    users = await count(live, User)
    async with await signed_in(live, admin) as browser:
        await browser.get("/admin/users/new")
        reply = await browser.post("/admin/users/new", {"email": "kari@example.test", "name": name,
                                                        "role": "team_member", "clinic_id": live.demo["clinic_id"],
                                                        "password": PASSWORD})
        assert reply.status == 422, reply.text[-500:]
        assert "control or text-direction characters" in reply.text
        await browser.get("/admin/users/invite")
        reply = await browser.post("/admin/users/invite", {"email": "kari@example.test", "name": name,
                                                           "role": "team_member",
                                                           "clinic_id": live.demo["clinic_id"]})
        assert reply.status == 422, reply.text[-500:]
    assert await count(live, User) == users
    assert await count(live, Invitation) == 0


async def test_an_invited_person_cannot_choose_a_spoofing_name(live: Live) -> None:
    admin = await make_user(live, "organisation_admin")
    async with await signed_in(live, admin) as browser:
        link = await invite(browser, email="nina@example.test", name="Nina", role="team_member",
                            clinic_id=live.demo["clinic_id"])
    users = await count(live, User)
    async with AdminClient(live.url) as stranger:
        path = link.removeprefix(live.url)
        await stranger.get(path)
        reply = await stranger.post(path, {"name": SPOOFS[0], "password": PASSWORD, "password_again": PASSWORD})
        assert reply.status == 422, reply.text[-500:]
        # A form token that is not ASCII is refused like any wrong one, not a 500.
        reply = await stranger.post(path, {"name": "Nina", "password": PASSWORD, "password_again": PASSWORD},
                                    csrf="tøken")
        assert reply.status == 403
    assert await count(live, User) == users


@pytest.mark.parametrize("name", SPOOFS)
async def test_clinic_names_refuse_bidi_and_control_characters(live: Live, name: str) -> None:
    admin = await make_user(live, "organisation_admin")
    clinics = await count(live, Clinic)
    async with await signed_in(live, admin) as browser:
        await browser.get("/admin/clinics/new")
        reply = await browser.post("/admin/clinics/new", {"name": name, "currency": "NOK"})
        assert reply.status == 422, reply.text[-500:]
    assert await count(live, Clinic) == clinics


async def test_stripe_account_labels_refuse_bidi_characters(live: Live) -> None:
    admin = await make_user(live, "organisation_admin")
    accounts = await count(live, StripeAccount)
    path = f"/admin/clinics/{live.demo['clinic_id']}/client-payments"
    async with await signed_in(live, admin) as browser:
        await browser.get(path)
        reply = await browser.post(path + "/accounts", {"label": "Main \u202etnuocca"}, follow=True)
        assert "control or text-direction characters" in reply.text
    assert await count(live, StripeAccount) == accounts


async def test_book_descriptions_refuse_bidi_characters(live: Live) -> None:
    admin = await make_user(live, "organisation_admin")
    books = await count(live, Book)
    async with await signed_in(live, admin) as browser:
        await browser.get("/admin/export-settings")
        reply = await browser.post("/admin/export-settings/books", {
            "description": "Kasse \u202e1", "owner_user_id": admin.id, "export_format": "medipay", "active": "yes"})
        assert reply.status in (400, 422), reply.text[-500:]
    assert await count(live, Book) == books
