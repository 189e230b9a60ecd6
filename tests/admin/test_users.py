"""Users: invitations (single use, 72 h), direct creation, role limits, clinician ids, the CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path

from sqlalchemy import select

from app.models import AuditEvent, Invitation, User
from tests.admin.factories import PASSWORD, AdminClient, make_clinic, make_user, signed_in, user_by_email
from tests.factories import Live
from tests.test_config_and_cli import run_cli

LINK = re.compile(r'data-testid="invitation-link">([^<]+)<')


async def invite(browser: AdminClient, **form: str) -> str:
    await browser.get("/admin/users/invite")
    reply = await browser.post("/admin/users/invite", form)
    assert reply.status == 201, reply.text
    return LINK.search(reply.text).group(1)


async def accept(live: Live, link: str, *, name: str = "New Person", password: str = PASSWORD) -> int:
    async with AdminClient(live.url) as stranger:
        path = link.removeprefix(live.url)
        page = await stranger.get(path)
        if page.status != 200:
            return page.status
        reply = await stranger.post(path, {"name": name, "password": password, "password_again": password})
        return reply.status


async def test_invitation_is_single_use_and_makes_a_user_who_can_sign_in(live):
    admin = await make_user(live, "clinic_admin")
    async with await signed_in(live, admin) as browser:
        link = await invite(browser, email="Nina@Example.test", name="Nina", role="team_member")
    assert "/admin/invite/" in link
    token = link.rsplit("/", 1)[1]
    stored = await live.scalar(select(Invitation.token_hash))
    assert token not in stored  # only a hash is kept
    assert await accept(live, link, name="Nina Nilsen") == 303
    assert await accept(live, link) == 404  # used
    user = await user_by_email(live, "nina@example.test")
    assert user and user.role == "team_member" and user.clinic_id == admin.clinic_id and user.name == "Nina Nilsen"
    async with AdminClient(live.url) as nina:
        assert (await nina.sign_in("nina@example.test")).status == 303
    actions = [a for (a,) in await live.rows(select(AuditEvent.action).order_by(AuditEvent.id))]
    assert "user.invited" in actions and "user.invitation_accepted" in actions


async def test_invitation_expires_after_72_hours(clocked):
    live, clock = clocked
    admin = await make_user(live, "organisation_admin")
    async with await signed_in(live, admin) as browser:
        link = await invite(browser, email="late@example.test", name="Late", role="clinic_admin",
                            clinic_id=live.demo["clinic_id"])
    clock.advance(hours=72, seconds=1)
    assert await accept(live, link) == 404
    assert await user_by_email(live, "late@example.test") is None


async def test_invitation_form_checks(live):
    admin = await make_user(live, "organisation_admin")
    async with await signed_in(live, admin) as browser:
        link = await invite(browser, email="p@example.test", name="P", role="team_member",
                            clinic_id=live.demo["clinic_id"])
    async with AdminClient(live.url) as stranger:
        path = link.removeprefix(live.url)
        await stranger.get(path)
        short = await stranger.post(path, {"name": "P", "password": "short", "password_again": "short"})
        assert short.status == 422 and "at least 10 characters" in short.text
        differ = await stranger.post(path, {"name": "P", "password": PASSWORD, "password_again": PASSWORD + "x"})
        assert differ.status == 422 and "not the same" in differ.text
        forged = await stranger.post(path, {"name": "P", "password": PASSWORD, "password_again": PASSWORD},
                                     csrf="forged")
        assert forged.status == 403
    assert await user_by_email(live, "p@example.test") is None


async def test_nobody_gives_a_role_above_their_own(live):
    admin = await make_user(live, "clinic_admin")
    async with await signed_in(live, admin) as browser:
        await browser.get("/admin/users/invite")
        reply = await browser.post("/admin/users/invite", {"email": "boss@example.test", "name": "Boss",
                                                           "role": "organisation_admin"})
        assert reply.status == 403
        await browser.get("/admin/users/new")
        reply = await browser.post("/admin/users/new", {"email": "boss@example.test", "name": "Boss",
                                                        "role": "organisation_admin", "password": PASSWORD})
        assert reply.status == 403
    assert await live.scalar(select(Invitation.id)) is None
    assert await user_by_email(live, "boss@example.test") is None


async def test_clinic_admin_only_invites_into_their_own_clinic(live):
    admin = await make_user(live, "clinic_admin")
    sibling = await make_clinic(live, live.demo["organisation_id"], name="Sibling")
    async with await signed_in(live, admin) as browser:
        await invite(browser, email="x@example.test", name="X", role="team_member", clinic_id=sibling.id)
    inv = await live.scalar(select(Invitation))
    assert inv.clinic_id == admin.clinic_id  # the form's clinic is ignored for clinic admins


async def test_create_directly_deactivate_and_clinician_ref(live):
    admin = await make_user(live, "organisation_admin")
    async with await signed_in(live, admin) as browser:
        await browser.get("/admin/users/new")
        reply = await browser.post("/admin/users/new", {
            "email": "dr@example.test", "name": "Dr Who", "role": "team_member",
            "clinic_id": live.demo["clinic_id"], "clinician_ref": "u-1", "password": PASSWORD,
        })
        assert reply.status == 303
        page = await browser.get("/admin/users")
        assert "Dr Who can now sign in." in page.text and "dr@example.test" in page.text
        dr = await user_by_email(live, "dr@example.test")
        assert dr.clinician_ref == "u-1"
        assert (await browser.post(f"/admin/users/{dr.id}/clinician-ref", {"clinician_ref": "u-77"})).status == 303
        taken = await make_user(live, "team_member", clinician_ref="u-9")
        await browser.post(f"/admin/users/{dr.id}/clinician-ref", {"clinician_ref": "u-9"})
        assert "Another user in this clinic has this clinician id." in (await browser.get("/admin/users")).text
        assert (await user_by_email(live, dr.email)).clinician_ref == "u-77" and taken
        assert (await browser.post(f"/admin/users/{admin.id}/deactivate")).status == 303
        assert "You cannot deactivate yourself." in (await browser.get("/admin/users")).text
        assert (await browser.post(f"/admin/users/{dr.id}/deactivate", {"confirm": "yes"})).status == 303
    assert (await user_by_email(live, dr.email)).active is False
    assert (await user_by_email(live, admin.email)).active is True


async def test_clinic_admin_sees_only_their_clinic(live):
    admin = await make_user(live, "clinic_admin")
    sibling = await make_clinic(live, live.demo["organisation_id"], name="Sibling")
    other = await make_user(live, "team_member", clinic_id=sibling.id, email="sib@example.test")
    mine = await make_user(live, "team_member", email="mine@example.test")
    async with await signed_in(live, admin) as browser:
        page = await browser.get("/admin/users")
        assert mine.email in page.text and other.email not in page.text
        assert (await browser.post(f"/admin/users/{other.id}/deactivate")).status == 403
    assert (await user_by_email(live, other.email)).active is True


def test_create_admin_cli(tmp_path: Path) -> None:
    made = run_cli(tmp_path, "create-admin", "--email", "First@Example.test", "--name", "First Admin",
                   "--organisation-name", "Helse Nord", "--password", PASSWORD)
    assert made.returncode == 0, made.stderr
    data = json.loads(made.stdout)
    assert data["email"] == "first@example.test" and "password" not in data
    generated = run_cli(tmp_path, "create-admin", "--email", "second@example.test", "--name", "Second",
                        "--organisation", data["organisation_id"])
    assert generated.returncode == 0, generated.stderr
    second = json.loads(generated.stdout)
    assert second["organisation_id"] == data["organisation_id"] and len(second["password"]) >= 16
    again = run_cli(tmp_path, "create-admin", "--email", "first@example.test", "--name", "Dup",
                    "--password", PASSWORD)
    assert again.returncode == 1 and "already exists" in again.stderr
    unknown = run_cli(tmp_path, "create-admin", "--email", "x@example.test", "--name", "X",
                      "--organisation", "org_nope", "--password", PASSWORD)
    assert unknown.returncode == 1 and "no such organisation" in unknown.stderr


async def test_created_admin_can_sign_in(live):
    # The same service the CLI uses, against the live app's database.
    from app.accounts.people import People
    from app.keys import CLOCK, DB

    people = People(live.app[DB], clock=live.app[CLOCK])
    user = await people.create_first_admin(email="cli@example.test", name="CLI", password=PASSWORD,
                                           organisation_id=None, organisation_name="CLI org")
    assert user.role == "organisation_admin"
    async with AdminClient(live.url) as browser:
        assert (await browser.sign_in("cli@example.test")).status == 303
        assert (await browser.get("/admin/users")).status == 200
    assert await live.scalar(select(User.id).where(User.email == "cli@example.test"))
