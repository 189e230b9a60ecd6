"""Sign-in and sign-out pages."""

from __future__ import annotations

import secrets

from aiohttp import web
from aiohttp_session import get_session

from app.admin.auth import COOKIE_TOKEN, ROLES, render, require, safe_next, signed_in, translator
from app.errors import RateLimited, Unauthenticated
from app.keys import ADMIN_SESSIONS, SETTINGS
from app.web.middleware import client_address

routes = web.RouteTableDef()
LOGIN_CSRF = "login_csrf"


async def _login_csrf(request: web.Request) -> str:
    # Before sign-in there is no session row; the sign-in form's token lives in the cookie.
    session = await get_session(request)
    token = session.get(LOGIN_CSRF)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session[LOGIN_CSRF] = token
    return token


def _form(request: web.Request, *, token: str, email: str = "", error: str | None = None,
          status_code: int = 200) -> web.Response:
    request["csrf_token"] = token
    return render(
        request, "admin/sign_in.html", status_code=status_code, email=email, error=error,
        next=safe_next(request.query.get("next")),
    )


@routes.get("/admin/sign-in")
async def sign_in_page(request: web.Request) -> web.StreamResponse:
    if await signed_in(request) is not None:
        raise web.HTTPSeeOther(safe_next(request.query.get("next")))
    return _form(request, token=await _login_csrf(request))


@routes.post("/admin/sign-in")
async def sign_in(request: web.Request) -> web.StreamResponse:
    t = translator(request)
    session = await get_session(request)
    form = await request.post()
    expected = session.get(LOGIN_CSRF)
    sent = form.get("csrf_token")
    token = await _login_csrf(request)
    if not isinstance(expected, str) or not isinstance(sent, str) or not secrets.compare_digest(sent, expected):
        return _form(request, token=token, error=t.gettext("The form has expired. Please try again."),
                     status_code=403)
    email = str(form.get("email", ""))[:320]
    password = str(form.get("password", ""))
    address = client_address(request, request.app[SETTINGS])
    try:
        result = await request.app[ADMIN_SESSIONS].sign_in(email, password, address=address)
    except RateLimited as e:
        return _form(request, token=token, email=email, error=t.gettext(e.message), status_code=429)
    except Unauthenticated as e:
        return _form(request, token=token, email=email, error=t.gettext(e.message), status_code=401)
    # A fresh cookie: nothing from before sign-in carries over.
    session.clear()
    session[COOKIE_TOKEN] = result.token
    next_url = form.get("next")
    raise web.HTTPSeeOther(safe_next(next_url if isinstance(next_url, str) else None))


@routes.post("/admin/sign-out")
@require(*ROLES)
async def sign_out(request: web.Request) -> web.StreamResponse:
    session = await get_session(request)
    token = session.get(COOKIE_TOKEN)
    if isinstance(token, str):
        await request.app[ADMIN_SESSIONS].sign_out(token)
    session.invalidate()
    raise web.HTTPSeeOther("/admin/sign-in")
