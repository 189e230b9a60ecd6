"""Signed-in browsers for the admin pages: a cookie jar, the page's CSRF token, real form posts."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import aiohttp
from sqlalchemy import select

from app.ids import new_id
from app.keys import ADMIN_SESSIONS, CLOCK, DB, ORGANISATIONS
from app.models import Clinic, User
from tests.factories import Live

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
PASSWORD = "correct horse battery staple"


@dataclass
class Reply:
    status: int
    text: str
    location: str | None
    url: str


class AdminClient:
    """One browser: keeps cookies, reads the CSRF token from the last page, posts forms."""

    def __init__(self, base_url: str, *, lang: str = "en") -> None:
        self.base = base_url
        self.http = aiohttp.ClientSession(
            cookie_jar=aiohttp.CookieJar(unsafe=True), headers={"Accept-Language": lang}
        )
        self.csrf_token: str | None = None

    async def close(self) -> None:
        await self.http.close()

    async def __aenter__(self) -> AdminClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def request(self, method: str, path: str, *, follow: bool = False, **kwargs: Any) -> Reply:
        async with self.http.request(method, self.base + path, allow_redirects=follow, **kwargs) as resp:
            text = await resp.text()
            reply = Reply(resp.status, text, resp.headers.get("Location"), str(resp.url))
        found = CSRF.search(text)
        if found:
            self.csrf_token = found.group(1)
        return reply

    async def get(self, path: str, *, follow: bool = False) -> Reply:
        return await self.request("GET", path, follow=follow)

    async def post(self, path: str, data: dict[str, Any] | None = None, *, csrf: str | None | bool = True,
                   follow: bool = False) -> Reply:
        """POST a form. ``csrf=True`` sends the token of the last page read (fetching /admin if none)."""
        form = dict(data or {})
        if csrf is True:
            if self.csrf_token is None:
                await self.get("/admin")
            form["csrf_token"] = self.csrf_token
        elif isinstance(csrf, str):
            form["csrf_token"] = csrf
        return await self.request("POST", path, data=form, follow=follow)

    async def sign_in(self, email: str, password: str = PASSWORD, *, next_path: str | None = None) -> Reply:
        page = await self.get("/admin/sign-in" + (f"?next={next_path}" if next_path else ""))
        assert page.status in (200, 303), page.status
        form = {"email": email, "password": password}
        if next_path:
            form["next"] = next_path
        reply = await self.post("/admin/sign-in", form)
        if reply.status == 303:
            self.csrf_token = None
        return reply

    async def sign_out(self) -> Reply:
        await self.get("/admin")
        return await self.post("/admin/sign-out")


async def make_clinic(live: Live, organisation_id: str | None = None, *, name: str = "Other clinic",
                      enabled: bool = True) -> Clinic:
    orgs = live.app[ORGANISATIONS]
    if organisation_id is None:
        organisation_id = (await orgs.create("Other Helse AS")).id
    clinic = await orgs.add_clinic(organisation_id, name)
    if enabled:
        async with live.app[DB].write() as s:
            row = await s.get(Clinic, clinic.id)
            assert row is not None
            row.payment_app_enabled = True
        clinic.payment_app_enabled = True
    return clinic


async def make_user(live: Live, role: str, *, clinic_id: str | None = None, organisation_id: str | None = None,
                    email: str | None = None, password: str = PASSWORD, name: str | None = None,
                    clinician_ref: str | None = None, active: bool = True) -> User:
    organisation_id = organisation_id or live.demo["organisation_id"]
    if clinic_id is None and role != "organisation_admin":
        clinic_id = live.demo["clinic_id"]
    user = User.new(
        organisation_id=organisation_id,
        clinic_id=clinic_id,
        email=(email or f"{role}-{new_id('u')[-8:]}@example.test").lower(),
        name=name or role.replace("_", " ").title(),
        role=role,
        password_hash=live.app[ADMIN_SESSIONS].hash_password(password),
        clinician_ref=clinician_ref,
        active=active,
        now=live.app[CLOCK].now(),
    )
    async with live.app[DB].write() as s:
        s.add(user)
    return user


async def signed_in(live: Live, user: User, *, lang: str = "en") -> AdminClient:
    client = AdminClient(live.url, lang=lang)
    reply = await client.sign_in(user.email)
    assert reply.status == 303, reply.text
    return client


async def user_by_email(live: Live, email: str) -> User | None:
    async with live.app[DB].read() as s:
        return await s.scalar(select(User).where(User.email == email.lower()))
