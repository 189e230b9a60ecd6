"""MediPay Checkout: the page the patient's SMS links to (``/checkout/{id}?t=…``).

A plain HTML form (no JavaScript) in bokmål, English or Swedish (``?lang=``,
else the browser's Accept-Language). Posting a choice redirects back to the
page, which then shows the outcome, so a reload or a second click changes
nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from aiohttp import web

from . import claims
from .context import SANDBOX, Sandbox
from .errors import MediPayError
from .i18n import SUPPORTED, format_money, get_translator, negotiate
from .texts import METHOD_NAMES

TEMPLATES = Path(__file__).resolve().parent / "templates"
LANGUAGE_NAMES = {"nb": "Norsk bokmål", "en": "English", "sv": "Svenska"}
_env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES),
                          autoescape=jinja2.select_autoescape(default=True))


def _lang(request: web.Request, form_lang: str | None = None, claim: dict[str, Any] | None = None) -> str:
    """The language asked for on the page, else the claim's (the patient's), else the browser's."""
    wanted = form_lang or request.query.get("lang") or (claim or {}).get("language")
    if wanted and wanted in SUPPORTED:
        return wanted
    return negotiate(request.headers.get("Accept-Language"))


def _outcome(claim: dict[str, Any], lang: str) -> tuple[str, str, str]:
    """Title, message and tone of the page for a claim that is no longer open."""
    t = get_translator(lang)
    total = format_money(claim["total"], lang)
    state = claim["state"]
    if state == "paid" and claim.get("choice") == "invoice":
        return (t.gettext("Invoice approved"),
                t.gettext("Your invoice of {amount} is approved. MediPay sends it to you; there is "
                          "nothing more to do now.").format(amount=total), "ok")
    if state == "paid":
        method = t.gettext(METHOD_NAMES.get(claim.get("choice") or "card", "Card"))
        return (t.gettext("Payment received"),
                t.gettext("Thank you. You paid {amount} with {method}.").format(amount=total, method=method),
                "ok")
    if state == "invoice_sent":
        return (t.gettext("Invoice sent"),
                t.gettext("The time to choose has run out, so an invoice of {amount} has been sent to "
                          "you.").format(amount=total), "note")
    if state == "invoice_paid":
        return (t.gettext("Invoice paid"), t.gettext("Thank you. The invoice is paid."), "ok")
    if claim.get("reason_code") == "over_limit":
        text = t.gettext("The amount is above the limit for an invoice. Contact your clinic to pay "
                         "another way.")
    else:
        text = t.gettext("MediPay could not approve an invoice. Contact your clinic to pay another way.")
    return t.gettext("Invoice not approved"), text, "error"


def render(request: web.Request, sb: Sandbox, claim: dict[str, Any] | None, lang: str, *,
           error: str | None = None, status: int = 200, token: str = "") -> web.Response:
    t = get_translator(lang)

    def lang_url(code: str) -> str:
        query = {"t": token, "lang": code} if token else {"lang": code}
        return request.path + "?" + urlencode(query)

    ctx: dict[str, Any] = {
        "_": t.gettext, "lang": lang, "claim": claims.view(claim) if claim else None,
        "state": claim["state"] if claim else "unknown", "error": error, "token": token,
        "action": request.path, "invoice_days": sb.rules.invoice_due_days,
        "format_money": lambda minor: format_money(minor, lang),
        "languages": [(code, LANGUAGE_NAMES[code]) for code in SUPPORTED], "lang_url": lang_url,
        "message": None, "tone": "note", "deadline": "",
    }
    if claim is None:
        ctx.update(title=t.gettext("Link not valid"),
                   message=t.gettext("This payment link is not valid. Check the SMS, or contact your clinic."),
                   tone="error")
    elif claim["state"] == "sent":
        local = datetime.fromtimestamp(claim["__deadline"], UTC).astimezone(claims.OSLO)
        ctx.update(title=t.gettext("Your bill"), deadline=local.strftime("%d.%m.%Y %H:%M"))
    else:
        title, message, tone = _outcome(claim, lang)
        ctx.update(title=title, message=message, tone=tone)
    html = _env.get_template("checkout.html").render(ctx)
    return web.Response(status=status, text=html, content_type="text/html",
                        headers={"Cache-Control": "no-store", "Content-Language": lang})


def _find(sb: Sandbox, claim_id: str, token: str | None) -> dict[str, Any] | None:
    claim = sb.store.get("claim", claim_id)
    if claim is None or not claims.token_ok(claim, token):
        return None
    return claim


async def show(request: web.Request) -> web.StreamResponse:
    sb = request.app[SANDBOX]
    lang = _lang(request)
    claims.fire_due(sb)  # the page shows what the clock says, even between ticks
    token = request.query.get("t", "")
    claim = _find(sb, request.match_info["id"], token)
    if claim is None:
        return render(request, sb, None, lang, status=404)
    return render(request, sb, claim, _lang(request, claim=claim), token=token)


async def submit(request: web.Request) -> web.StreamResponse:
    sb = request.app[SANDBOX]
    form = await request.post()
    token = str(form.get("t", ""))
    lang = _lang(request, str(form.get("lang", "")) or None)
    claim = _find(sb, request.match_info["id"], token)
    if claim is None:
        return render(request, sb, None, lang, status=404)
    method = str(form.get("method", ""))
    if method not in claims.METHODS:
        return render(request, sb, claim, lang, token=token, status=400,
                      error=get_translator(lang).gettext("Choose one way to pay."))
    try:
        claims.choose(sb, claim["id"], method)
    except MediPayError:
        pass  # already decided (a second click, or the deadline passed): the page shows how
    raise web.HTTPSeeOther(request.path + "?" + urlencode({"t": token, "lang": lang}))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/checkout/{id}", show)
    app.router.add_post("/checkout/{id}", submit)
