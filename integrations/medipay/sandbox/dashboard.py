"""The sandbox's front page: claims, the SMS outbox with its Checkout links,
and buttons to move the clock and pay invoices — a newcomer clicks through
the whole flow here. Plain forms; each answer redirects back to the page.
Like the control surface it shows every claim, so it answers local callers only."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from integrations.local_only import local_only
from integrations.medipay.protocol import format_time

from . import claims
from .checkout_page import _env, _lang
from .context import SANDBOX, SANDBOX_PASSWORD
from .errors import MediPayError
from .i18n import format_money, get_translator

SHOWN = 200  # the newest claims and SMS; the control surface has them all


def _base(request: web.Request) -> str:
    """This app's path prefix: "" standalone, "/_sandbox/medipay" when mounted."""
    path = request.path
    cut = path.find("/dashboard/")
    return path[:cut] if cut >= 0 else path.rstrip("/")


async def index(request: web.Request) -> web.Response:
    sb = request.app[SANDBOX]
    claims.fire_due(sb)
    lang = _lang(request)
    t = get_translator(lang)
    ctx: dict[str, Any] = {
        "_": t.gettext, "lang": lang, "password": SANDBOX_PASSWORD, "now": format_time(sb.store.now()),
        "base": _base(request).rstrip("/"),
        "claims": [claims.view(c) for c in reversed(sb.store.all("claim")[-SHOWN:])],
        "sms": list(reversed(sb.store.all("sms")[-SHOWN:])),
        "format_money": lambda minor: format_money(minor, lang),
    }
    html = _env.get_template("dashboard.html").render(ctx)
    return web.Response(text=html, content_type="text/html", headers={"Cache-Control": "no-store"})


def _back(request: web.Request) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(_base(request).rstrip("/") + "/")


async def advance(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    text = str(form.get("hours", "")).strip()
    if not text.isdigit() or int(text) > 1000:
        raise web.HTTPBadRequest(text="hours must be a whole number from 0 to 1000")
    sb = request.app[SANDBOX]
    sb.store.advance_clock(int(text) * 3600)
    claims.fire_due(sb)
    raise _back(request)


async def pay(request: web.Request) -> web.StreamResponse:
    try:
        claims.pay_invoice(request.app[SANDBOX], request.match_info["id"])
    except MediPayError as e:
        raise web.HTTPConflict(text=e.message) from None
    raise _back(request)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", local_only(index))
    app.router.add_post("/dashboard/advance", local_only(advance))
    app.router.add_post("/dashboard/claims/{id}/pay", local_only(pay))
