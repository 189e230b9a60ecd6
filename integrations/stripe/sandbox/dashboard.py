"""Login Links and the Express dashboard they open.

``POST /v1/accounts/{id}/login_links`` returns Stripe's ``login_link`` object
(``object``, ``created``, ``url``); the link is single use, as Stripe's is, and
only accounts with the Express Dashboard have one (Stripe: "Express accounts").
The page behind it shows what the account's owner would look for first: its
balance state and its payments.
"""

from __future__ import annotations

from html import escape
from typing import Any

from aiohttp import web

from .connect import dashboard_of, require_connect, revoked
from .errors import StripeError, resource_missing
from .keys import SANDBOX
from .objects import format_amount
from .pages import message_page, page
from .store import new_id
from .validation import STRINGS, check_known
from .wire import Call, api, render

LOGIN_LINK_TTL_S = 300


def create_login_link(call: Call) -> tuple[int, dict[str, Any]]:
    check_known(call.params, {"expand": STRINGS})
    require_connect(call)
    acct_id = call.request.match_info["id"]
    acct = call.sb.store.get("account", acct_id)
    if acct is None:
        raise resource_missing("account", acct_id, "account")
    if acct.get("__deauthorized"):
        raise revoked(call.api_key, acct_id)
    if dashboard_of(acct) != "express":
        raise StripeError(
            400,
            "Cannot create a login link for an account that is not an Express account, or "
            "that does not use the Express Dashboard.",
            param="account",
        )
    now = call.sb.store.now()
    token = new_id("", 32)
    call.sb.store.put("login_link", {"id": "llink_" + token, "account": acct_id,
                                     "expires_at": now + LOGIN_LINK_TTL_S, "used": False})
    return render(call, {"object": "login_link", "created": now,
                         "url": f"{call.sb.public_url}/express/{token}"})


def _status(charge: dict[str, Any]) -> str:
    refunded = charge.get("amount_refunded") or 0
    if charge.get("refunded"):
        return "Refunded"
    if refunded:
        return "Partially refunded"
    if not charge.get("paid"):
        return "Failed"
    if not charge.get("captured"):
        # An authorisation (a hold): waiting for capture, or released (canceled or expired).
        return "Canceled" if charge.get("__released") else "Uncaptured"
    return "Succeeded"


def _row(charge: dict[str, Any]) -> str:
    status = _status(charge)
    fee = charge.get("application_fee_amount")
    # What was taken: for a partly captured hold the captured part, not the authorisation.
    amount = charge["amount_captured"] if charge.get("captured") else charge["amount"]
    return (
        f"<tr><td>{escape(charge['id'])}</td>"
        f"<td>{escape(format_amount(amount, charge['currency']))}</td>"
        f"<td>{escape(format_amount(fee, charge['currency'])) if fee else '—'}</td>"
        f"<td>{escape(status)}</td><td>{escape(str(charge.get('description') or ''))}</td></tr>"
    )


async def dashboard_page(request: web.Request) -> web.StreamResponse:
    sb = request.app[SANDBOX]
    link = sb.store.get("login_link", "llink_" + request.match_info["token"])
    if link is None:
        return message_page("Link not found", "This dashboard link does not exist.", 404)
    if link["used"] or link["expires_at"] <= sb.store.now():
        return message_page("Link expired", "This dashboard link has been used or has expired. "
                            "Open the dashboard again from the platform.", 410)
    link["used"] = True
    sb.store.put("login_link", link)
    acct = sb.store.get("account", link["account"]) or {}
    name = (acct.get("business_profile") or {}).get("name") or acct.get("email") or link["account"]
    charges = sb.store.all("charge", link["account"])
    rows = "".join(_row(c) for c in charges) or '<tr><td colspan="5">No payments yet.</td></tr>'
    state = "Payments enabled" if acct.get("charges_enabled") else "Payments not enabled"
    body = (
        f'<div class="card"><h1>{escape(str(name))}</h1>'
        f'<p class="muted">Express dashboard for {escape(link["account"])} — {escape(state)}</p>'
        '<table><caption>Payments</caption><thead><tr><th scope="col">Charge</th>'
        '<th scope="col">Amount</th><th scope="col">Platform fee</th><th scope="col">Status</th>'
        f'<th scope="col">Description</th></tr></thead><tbody>{rows}</tbody></table></div>'
    )
    return page("Express dashboard", body)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1/accounts/{id}/login_links", api(create_login_link))
    app.router.add_get("/express/{token}", dashboard_page)
