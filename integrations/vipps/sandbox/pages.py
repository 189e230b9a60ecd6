"""What the patient sees: the phone that gets the push, the landing page behind
``redirectUrl``, and the QR code that leads to the landing page.

``/phone/{msisdn}``   the push messages sent to that number; approve or reject each
``/landing?token=…``  one payment (WEB_REDIRECT, NATIVE_REDIRECT, or a scanned QR code);
                      the answer sends the browser to the merchant's ``returnUrl``
``/qr?token=…``       the QR code (SVG) whose target is the landing page

Plain HTML forms (no JavaScript) in bokmål or English (``?lang=``, else the
browser's Accept-Language). Seeing a request opens it (its approval time
starts); an answer is posted with the payment's secret token and redirects,
so a reload or a second click changes nothing.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import jinja2
import segno
from aiohttp import web

from . import payments
from .context import SANDBOX, Sandbox
from .i18n import LANGUAGE_NAMES, SUPPORTED, format_money, get_translator, negotiate
from .validation import MSISDN

_env = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).resolve().parent / "templates"),
                          autoescape=jinja2.select_autoescape(default=True))


def _lang(request: web.Request, wanted: str | None = None) -> str:
    wanted = wanted or request.query.get("lang")
    if wanted in SUPPORTED:
        return str(wanted)
    return negotiate(request.headers.get("Accept-Language"))


def _prefix(sb: Sandbox) -> str:
    return urlsplit(sb.public_url).path.rstrip("/")


def _card(payment: dict[str, Any], lang: str) -> dict[str, Any]:
    t = get_translator(lang)
    outcomes = {"AUTHORIZED": t.gettext("Approved. Thank you!"), "ABORTED": t.gettext("Rejected. Nothing was paid."),
                "EXPIRED": t.gettext("Expired. The time to answer ran out."),
                "TERMINATED": t.gettext("Cancelled by the merchant.")}
    return {"token": payment["__token"], "state": payment["state"], "description": payment["paymentDescription"],
            "amount": format_money(payment["amount"]["value"], payment["amount"]["currency"], lang),
            "merchant": payment["msn"], "reference": payment["reference"],
            "outcome": outcomes.get(payment["state"], ""),
            "lines": [{"name": line["name"], "total": format_money(line["totalAmount"], payment["amount"]["currency"],
                                                                   lang)}
                      for line in (payment.get("receipt") or {}).get("orderLines", [])]}


def _render(request: web.Request, lang: str, *, title: str, status: int = 200, **ctx: Any) -> web.Response:
    t = get_translator(lang)
    query = {k: v for k, v in request.query.items() if k != "lang"}
    html = _env.get_template("page.html").render(
        _=t.gettext, lang=lang, title=title, action=_prefix(request.app[SANDBOX]) + "/pay",
        languages=[(code, LANGUAGE_NAMES[code], request.path + "?" + urlencode({**query, "lang": code}))
                   for code in SUPPORTED], **ctx)
    return web.Response(status=status, text=html, content_type="text/html",
                        headers={"Cache-Control": "no-store", "Content-Language": lang})


async def phone(request: web.Request) -> web.StreamResponse:
    sb, lang = request.app[SANDBOX], _lang(request)
    t = get_translator(lang)
    msisdn = request.match_info["msisdn"]
    if not MSISDN.match(msisdn):
        return _render(request, lang, title=t.gettext("Not a phone number"), status=404,
                       message=t.gettext("Use the number with its country code, digits only: 4791234567."))
    rows = payments.pushes_to(sb, msisdn)
    for row in rows:
        if row["state"] == "CREATED":
            payments.open_(sb, payments.key(row["msn"], row["reference"]))
    return _render(request, lang, title=t.gettext("Vipps on {number}").format(number=msisdn), mode="phone",
                   msisdn=msisdn, cards=[_card(p, lang) for p in rows[:10]],
                   message=None if rows else t.gettext("No payment requests yet. Reload when one is sent."))


async def landing(request: web.Request) -> web.StreamResponse:
    sb, lang = request.app[SANDBOX], _lang(request)
    t = get_translator(lang)
    payment = payments.by_token(sb, request.query.get("token", ""))
    if payment is None:
        return _render(request, lang, title=t.gettext("Payment not found"), status=404,
                       message=t.gettext("This payment link is not valid. Go back to the shop and try again."))
    if payment["state"] == "CREATED":
        payment = payments.open_(sb, payments.key(payment["msn"], payment["reference"])) or payment
    return _render(request, lang, title=t.gettext("Pay with Vipps"), mode="landing", cards=[_card(payment, lang)])


async def answer(request: web.Request) -> web.StreamResponse:
    sb = request.app[SANDBOX]
    form = await request.post()
    lang = _lang(request, str(form.get("lang", "")) or None)
    payment = payments.by_token(sb, str(form.get("token", "")))
    action = form.get("action")
    if payment is None or action not in ("approve", "reject"):
        t = get_translator(lang)
        return _render(request, lang, title=t.gettext("Payment not found"), status=400,
                       message=t.gettext("This payment link is not valid. Go back to the shop and try again."))
    payment = payments.answer(sb, payments.key(payment["msn"], payment["reference"]), action == "approve") or payment
    if form.get("from") == "phone" and payment["phoneNumber"]:
        raise web.HTTPSeeOther(f"{_prefix(sb)}/phone/{payment['phoneNumber']}?lang={lang}")
    if payment["returnUrl"] and payment["state"] != "CREATED":
        raise web.HTTPSeeOther(payment["returnUrl"])
    raise web.HTTPSeeOther(f"{_prefix(sb)}/landing?" + urlencode({"token": payment["__token"], "lang": lang}))


async def qr(request: web.Request) -> web.StreamResponse:
    sb = request.app[SANDBOX]
    payment = payments.by_token(sb, request.query.get("token", ""))
    if payment is None:
        raise web.HTTPNotFound(text="No such payment")
    out = io.BytesIO()
    segno.make(payments.landing_url(sb, payment), error="m").save(
        out, kind="svg", scale=8, border=2, title=get_translator(_lang(request)).gettext("Scan to pay with Vipps"))
    return web.Response(body=out.getvalue(), content_type="image/svg+xml", headers={"Cache-Control": "no-store"})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/phone/{msisdn}", phone)
    app.router.add_get("/landing", landing)
    app.router.add_post("/pay", answer)
    app.router.add_get("/qr", qr)
