"""Sign-in, sign-out and the CSRF check, driven as a browser would."""

from __future__ import annotations

from sqlalchemy import select
from yarl import URL

from app.models import AdminSession, AuditEvent
from tests.admin.factories import AdminClient, make_user, signed_in


async def test_anonymous_is_sent_to_sign_in_and_back(live):
    user = await make_user(live, "clinic_admin")
    async with AdminClient(live.url) as browser:
        reply = await browser.get("/admin?x=1")
        assert reply.status == 303
        target = URL(reply.location)
        assert target.path == "/admin/sign-in" and target.query["next"] == "/admin?x=1"
        reply = await browser.sign_in(user.email, next_path="/admin")
        assert reply.status == 303 and reply.location == "/admin"
        page = await browser.get("/admin")
        assert page.status == 200
        assert "Dashboard" in page.text and user.name in page.text


async def test_demo_admin_signs_in_and_out(live):
    async with AdminClient(live.url) as browser:
        reply = await browser.sign_in(live.demo["admin"]["email"], live.demo["admin"]["password"])
        assert reply.status == 303
        page = await browser.get("/admin")
        assert "Demo Legesenter" in page.text
        out = await browser.sign_out()
        assert out.status == 303 and out.location == "/admin/sign-in"
        again = await browser.get("/admin")
        assert again.status == 303
    rows = await live.rows(select(AdminSession.revoked_at))
    assert len(rows) == 1 and rows[0][0] is not None
    actions = [a for (a,) in await live.rows(select(AuditEvent.action).order_by(AuditEvent.id))]
    assert actions[-2:] == ["user.signed_in", "user.signed_out"]


async def test_wrong_password_and_unknown_email_get_the_same_answer(live):
    user = await make_user(live, "team_member")
    async with AdminClient(live.url) as browser:
        wrong = await browser.sign_in(user.email, "nope")
        unknown = await browser.sign_in("nobody@example.test", "nope")
    assert wrong.status == unknown.status == 401
    assert "The e-mail or password is wrong." in wrong.text and "The e-mail or password is wrong." in unknown.text


async def test_sign_out_needs_the_csrf_token(live):
    user = await make_user(live, "clinic_admin")
    browser = await signed_in(live, user)
    async with browser:
        await browser.get("/admin")
        assert (await browser.post("/admin/sign-out", csrf=False)).status == 403
        assert (await browser.post("/admin/sign-out", csrf="forged")).status == 403
        assert (await browser.get("/admin")).status == 200
        assert (await browser.post("/admin/sign-out")).status == 303
