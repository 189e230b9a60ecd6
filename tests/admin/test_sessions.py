"""Session expiry (idle and absolute, on the app's clock), throttled sign-ins, deactivation."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from app.accounts.sessions import ABSOLUTE, IDLE
from app.clock import ManualClock
from app.models import AdminSession, AuditEvent, SignInFailure
from tests.admin.factories import AdminClient, make_user, signed_in
from tests.conftest import make_settings, start_live


async def test_idle_session_expires_and_use_keeps_it_alive(clocked):
    live, clock = clocked
    user = await make_user(live, "clinic_admin")
    async with await signed_in(live, user) as browser:
        for _ in range(4):  # used every 20 minutes: stays signed in past the idle limit
            clock.advance(minutes=20)
            assert (await browser.get("/admin")).status == 200
        clock.advance(seconds=IDLE.total_seconds() + 1)
        reply = await browser.get("/admin")
        assert reply.status == 303 and reply.location.startswith("/admin/sign-in")


async def test_absolute_expiry_however_busy(clocked):
    live, clock = clocked
    user = await make_user(live, "organisation_admin")
    async with await signed_in(live, user) as browser:
        steps = int(ABSOLUTE.total_seconds() // (25 * 60))
        for _ in range(steps):
            clock.advance(minutes=25)
            assert (await browser.get("/admin")).status == 200
        clock.advance(minutes=25)
        assert (await browser.get("/admin")).status == 303


async def test_failed_sign_ins_are_throttled_per_email(clocked):
    live, clock = clocked
    user = await make_user(live, "team_member")
    async with AdminClient(live.url) as browser:
        for _ in range(5):
            assert (await browser.sign_in(user.email, "wrong password")).status == 401
        blocked = await browser.sign_in(user.email)  # even the right password waits
        assert blocked.status == 429 and "Too many failed sign-ins" in blocked.text
        other = await make_user(live, "team_member")
        assert (await browser.sign_in(other.email)).status == 303  # another address is not affected
    clock.advance(minutes=16)
    async with AdminClient(live.url) as browser:
        assert (await browser.sign_in(user.email)).status == 303
    failed = await live.scalar(
        select(AuditEvent.id).where(AuditEvent.action == "user.sign_in_failed", AuditEvent.subject_id == user.id)
    )
    assert failed is not None


async def test_unknown_emails_are_throttled_too(live):
    async with AdminClient(live.url) as browser:
        for _ in range(5):
            assert (await browser.sign_in("ghost@example.test", "x")).status == 401
        assert (await browser.sign_in("ghost@example.test", "x")).status == 429


async def test_sign_in_csrf_and_forged_cookie(live):
    user = await make_user(live, "clinic_admin")
    async with AdminClient(live.url) as browser:
        reply = await browser.post("/admin/sign-in", {"email": user.email, "password": "x"}, csrf="forged")
        assert reply.status == 403
    async with AdminClient(live.url) as browser:
        browser.http.cookie_jar.update_cookies({"consultpay_admin": "not-a-fernet-token"})
        assert (await browser.get("/admin")).status == 303


async def test_open_redirects_are_refused(live):
    user = await make_user(live, "clinic_admin")
    async with AdminClient(live.url) as browser:
        reply = await browser.sign_in(user.email, next_path="//evil.example/admin")
        assert reply.status == 303 and reply.location == "/admin"


async def test_deactivation_ends_sessions(live):
    admin = await make_user(live, "organisation_admin")
    member = await make_user(live, "team_member")
    async with await signed_in(live, member) as member_browser, await signed_in(live, admin) as admin_browser:
        assert (await member_browser.get("/admin")).status == 200
        await admin_browser.get("/admin/users")
        assert (await admin_browser.post(f"/admin/users/{member.id}/deactivate", {"confirm": "yes"})).status == 303
        assert (await member_browser.get("/admin")).status == 303
        async with AdminClient(live.url) as again:
            assert (await again.sign_in(member.email)).status == 401
    revoked = await live.rows(select(AdminSession.revoked_at).where(AdminSession.user_id == member.id))
    assert revoked and all(r is not None for (r,) in revoked)


async def test_cookie_flags(live):
    user = await make_user(live, "clinic_admin")
    async with AdminClient(live.url) as browser:
        await browser.get("/admin/sign-in")
        async with browser.http.post(
            live.url + "/admin/sign-in",
            data={"email": user.email, "password": "correct horse battery staple", "csrf_token": browser.csrf_token},
            allow_redirects=False,
        ) as resp:
            header = resp.headers.getall("Set-Cookie")[0]
    assert "HttpOnly" in header and "SameSite=Lax" in header and "Secure" not in header
    assert user.email not in header


async def test_the_throttle_counts_failures_made_at_another_web_process(tmp_path: Path):
    """Two web processes on one database: five failures at one block the sixth at the other."""
    clock = ManualClock()
    first, first_runner = await start_live(make_settings(tmp_path), clock=clock)
    second, second_runner = await start_live(make_settings(tmp_path), clock=clock)  # same database file
    try:
        user = await make_user(first, "team_member")
        async with AdminClient(first.url) as browser:
            for _ in range(5):
                assert (await browser.sign_in(user.email, "wrong password")).status == 401
        async with AdminClient(second.url) as browser:
            blocked = await browser.sign_in(user.email)
            assert blocked.status == 429 and "Too many failed sign-ins" in blocked.text
        clock.advance(minutes=16)
        async with AdminClient(second.url) as browser:
            assert (await browser.sign_in(user.email)).status == 303
        # Signing in clears the account's failures; what left the window was dropped on the way.
        # The new failure counts once for the account and once for the client's address.
        async with AdminClient(first.url) as browser:
            assert (await browser.sign_in(user.email, "wrong password")).status == 401
        remaining = await first.rows(select(SignInFailure.at))
        assert len(remaining) == 2
    finally:
        for live, runner in ((first, first_runner), (second, second_runner)):
            await live.close()
            await runner.cleanup()
