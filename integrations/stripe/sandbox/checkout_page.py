"""The hosted checkout page a session's ``url`` points to."""

from __future__ import annotations

from html import escape
from typing import Any

from aiohttp import web

from . import checkout
from .cards import CardError
from .errors import StripeError
from .keys import SANDBOX
from .objects import format_amount
from .pages import message_page, page


def _merchant(request: web.Request, session: dict[str, Any]) -> str:
    account = request.app[SANDBOX].store.account_of(session["id"])
    acct = request.app[SANDBOX].store.get("account", account) if account else None
    if acct:
        bp = acct.get("business_profile") or {}
        return bp.get("name") or (acct.get("settings") or {}).get("dashboard", {}).get(
            "display_name") or acct["id"]
    return "ConsultPay"


def _form(request: web.Request, session: dict[str, Any], values: dict[str, str],
          error: CardError | None) -> str:
    items = session["__line_items"]
    lines = "".join(
        f"<li>{escape(li['description'] or '')}"
        + (f" × {li['quantity']}" if li["quantity"] > 1 else "")
        + (f'<br><span class="muted">{escape(li["__product_description"])}</span>'
           if li.get("__product_description") else "")
        + "</li>"
        for li in items
    )
    err_html, invalid = "", ""
    if error is not None:
        err_html = f'<div class="error" role="alert" id="card-error">{escape(error.message)}</div>'
        invalid = error.param or "card_number"

    def field(name: str, label: str, attrs: str, value: str = "") -> str:
        aria = ' aria-invalid="true" aria-describedby="card-error"' if invalid == name else ""
        return (f'<label for="{name}">{label}</label>'
                f'<input id="{name}" name="{name}" value="{escape(value)}" {attrs}{aria}>')

    email = values.get("email") or session.get("customer_email") or ""
    cancel = (f'<p class="foot"><a href="{escape(session["cancel_url"])}">Cancel and return'
              "</a></p>") if session.get("cancel_url") else ""
    merchant = escape(_merchant(request, session))
    if session["mode"] == "setup":
        # Setup mode: the card is saved for the merchant's later charges, nothing is charged now.
        heading = (f'<p class="muted">{merchant}</p><h1 class="amount">Save your card</h1>'
                   f'<p class="muted">You allow {merchant} to charge this card for future payments '
                   "in line with their terms. Nothing is charged now.</p>")
        button = "Save card"
    else:
        total = escape(format_amount(session["amount_total"], session["currency"]))
        heading = f'<p class="muted">Pay {merchant}</p><h1 class="amount">{total}</h1>'
        button = f"Pay {total}"
    return (
        '<div class="card">'
        f'{heading}<ul class="muted">{lines}</ul>{err_html}'
        f'<form method="post" action="{escape(request.path)}" novalidate>'
        + field("email", "Email", 'type="email" autocomplete="email" required', email)
        + field("card_number", "Card number",
                'inputmode="numeric" autocomplete="cc-number" required '
                'placeholder="1234 1234 1234 1234"', values.get("card_number", ""))
        + '<div class="row"><div>'
        + field("exp", "Expiry (MM/YY)", 'inputmode="numeric" autocomplete="cc-exp" required '
                'placeholder="MM/YY"', values.get("exp", ""))
        + "</div><div>"
        + field("cvc", "CVC", 'inputmode="numeric" autocomplete="cc-csc" required '
                'placeholder="123"', "")
        + "</div></div>"
        f'<button type="submit">{button}</button></form>'
        '<p class="muted">Test cards: 4242 4242 4242 4242 succeeds; 4000 0000 0000 0002 is '
        "declined; saved, 4000 0027 6000 3184 needs authentication and 4000 0000 0000 0341 is "
        "declined when charged later; any future expiry, any CVC.</p>"
        f"{cancel}</div>"
    )


def _closed(session: dict[str, Any]) -> web.Response:
    if session["status"] == "complete" and session["mode"] == "setup":
        return message_page("Card saved", "Your card has been saved; nothing was charged. You can close this page.")
    if session["status"] == "complete" and session["__payment_intent_data"].get("capture_method") == "manual":
        return message_page("Card authorised", "Your card has been authorised for this amount; only "
                            "what the merchant captures will be charged. You can close this page.")
    if session["status"] == "complete":
        return message_page("Already paid", "This payment is complete. You can close this page.")
    return message_page("This checkout has expired",
                        "The payment link is no longer valid. Ask for a new payment request.",
                        410)


def _session(request: web.Request) -> dict[str, Any] | None:
    try:
        return checkout.get_session(request.app[SANDBOX], request.match_info["id"], None)
    except StripeError:
        return None


async def show(request: web.Request) -> web.StreamResponse:
    session = _session(request)
    if session is None:
        return message_page("Not found", "This checkout page does not exist.", 404)
    if session["status"] != "open":
        return _closed(session)
    return page("Checkout", _form(request, session, {}, None), lang=session.get("locale") or "en")


def success_redirect(session: dict[str, Any]) -> web.StreamResponse:
    url = session.get("success_url")
    if not url:
        return message_page("Thank you", "Your payment was received. A receipt is on its way.")
    raise web.HTTPSeeOther(url.replace("{CHECKOUT_SESSION_ID}", session["id"]))


async def submit(request: web.Request) -> web.StreamResponse:
    session = _session(request)
    if session is None:
        return message_page("Not found", "This checkout page does not exist.", 404)
    if session["status"] != "open":
        return _closed(session)
    form = await request.post()
    values = {k: str(form.get(k, "")) for k in ("email", "card_number", "exp", "cvc")}
    try:
        session = checkout.pay(request.app[SANDBOX], session["id"], **values)
    except CardError as e:
        # 402 as Stripe's API answers a card error; the page still renders in any browser.
        return page("Checkout", _form(request, session, values, e), status=402)
    except StripeError:
        fresh = _session(request)
        return _closed(fresh or session)
    return success_redirect(session)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/checkout/{id}", show)
    app.router.add_post("/checkout/{id}", submit)
