"""Connect: connected accounts, Account Links and the onboarding page.

What Stripe refuses, the sandbox refuses, with Stripe's error shape:

- values outside Stripe's enums (``type``, ``country``, ``controller[...]``, a
  link's ``type`` and ``collect``);
- ``account_update`` Account Links for an account with a Stripe-hosted Dashboard
  (Express and Standard included): Stripe allows them only where the platform
  collects the requirements (``controller.requirement_collection=application``);
- any Connect call while the platform has not signed up for Connect (the
  control surface switches that off).
"""

from __future__ import annotations

from html import escape
from typing import Any

from aiohttp import web

from . import objects
from .context import Sandbox
from .errors import StripeError, invalid_param, missing_param, resource_missing
from .keys import SANDBOX
from .pages import message_page, page
from .store import PLATFORM, acts_for_owner, new_id
from .validation import (
    MAP,
    SCALAR,
    STRINGS,
    check_email,
    check_known,
    check_metadata,
    check_url,
    one_of,
    require,
)
from .wire import Call, api, list_objects, render

LINK_TTL_S = 300
_BUSINESS_PROFILE = {"name": SCALAR, "url": SCALAR, "mcc": SCALAR, "product_description": SCALAR,
                     "support_email": SCALAR, "support_phone": SCALAR, "support_url": SCALAR}
CREATE_SPEC = {
    "type": SCALAR, "country": SCALAR, "email": SCALAR, "business_type": SCALAR,
    "capabilities": {name: {"requested": SCALAR} for name in
                     ("card_payments", "transfers", "klarna_payments", "mobilepay_payments",
                      "link_payments")},
    "controller": {"fees": {"payer": SCALAR}, "losses": {"payments": SCALAR},
                   "requirement_collection": SCALAR,
                   "stripe_dashboard": {"type": SCALAR}},
    "business_profile": _BUSINESS_PROFILE, "metadata": MAP, "expand": STRINGS,
    "default_currency": SCALAR,
}
UPDATE_SPEC = {"email": SCALAR, "business_profile": _BUSINESS_PROFILE, "metadata": MAP,
               "expand": STRINGS}
LINK_SPEC = {"account": SCALAR, "refresh_url": SCALAR, "return_url": SCALAR, "type": SCALAR,
             "collect": SCALAR, "collection_options": {"fields": SCALAR, "future_requirements": SCALAR},
             "expand": STRINGS}
# Countries where Stripe offers connected accounts (cross-border payouts aside).
COUNTRIES = (
    "AE", "AT", "AU", "BE", "BG", "BR", "CA", "CH", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR",
    "GB", "GI", "GR", "HK", "HR", "HU", "IE", "IT", "JP", "LI", "LT", "LU", "LV", "MT", "MX", "MY",
    "NL", "NO", "NZ", "PL", "PT", "RO", "SE", "SG", "SI", "SK", "TH", "US",
)
DASHBOARDS = {"express": "express", "standard": "full", "custom": "none"}
NO_CONNECT = ("You can only create new accounts if you've signed up for Connect, which you can "
              "learn how to do at https://stripe.com/docs/connect.")
UPDATE_LINK_REFUSED = (
    "You cannot create `account_update` type Account Links for accounts that have access to a "
    "Stripe-hosted Dashboard. Use an `account_onboarding` link to collect outstanding "
    "requirements, or let the account update its details in its Dashboard."
)


def connect_enabled(sb: Sandbox) -> bool:
    return bool(sb.store.get_meta("connect_enabled", True))


def require_connect(call: Call) -> None:
    """Stripe's answer to a platform that has not signed up for Connect."""
    if not connect_enabled(call.sb):
        raise StripeError(400, NO_CONNECT)


def dashboard_of(acct: dict[str, Any]) -> str:
    """``express``, ``full`` or ``none``: the Stripe-hosted Dashboard the account has."""
    controller = acct.get("controller") or {}
    dashboard = (controller.get("stripe_dashboard") or {}).get("type")
    return dashboard or DASHBOARDS.get(acct.get("type") or "", "none")


def _controller(p: dict[str, Any]) -> dict[str, Any]:
    """The account's ``controller`` hash: from ``type`` as Stripe derives it, or as asked."""
    asked = p.get("controller") or {}
    if not asked:
        kind = p["type"]
        if kind == "standard":
            return {"is_controller": True, "type": "application",
                    "fees": {"payer": "account"}, "losses": {"payments": "stripe"},
                    "requirement_collection": "stripe", "stripe_dashboard": {"type": "full"}}
        return {"is_controller": True, "type": "application",
                "fees": {"payer": "application_express" if kind == "express" else "application_custom"},
                "losses": {"payments": "application"},
                "requirement_collection": "stripe" if kind == "express" else "application",
                "stripe_dashboard": {"type": DASHBOARDS[kind]}}
    fees = one_of((asked.get("fees") or {}).get("payer") or "account",
                  ["account", "application"], "controller[fees][payer]")
    losses = one_of((asked.get("losses") or {}).get("payments") or "stripe",
                    ["application", "stripe"], "controller[losses][payments]")
    collection = one_of(asked.get("requirement_collection") or "stripe",
                        ["application", "stripe"], "controller[requirement_collection]")
    dashboard = one_of((asked.get("stripe_dashboard") or {}).get("type") or "full",
                       ["express", "full", "none"], "controller[stripe_dashboard][type]")
    if collection == "application" and dashboard != "none":
        raise invalid_param("controller[requirement_collection]",
                            "`controller[requirement_collection]=application` is only supported "
                            "with `controller[stripe_dashboard][type]=none`.")
    if losses == "application" and fees != "application":
        raise invalid_param("controller[fees][payer]",
                            "When `controller[losses][payments]=application`, "
                            "`controller[fees][payer]` must be `application`.")
    if dashboard == "express" and losses != "application":
        # Stripe-liable Express accounts came with API version 2026-11-18; the sandbox speaks
        # an earlier one.
        raise invalid_param("controller[losses][payments]",
                            "Accounts with `controller[stripe_dashboard][type]=express` require "
                            "`controller[losses][payments]=application`.")
    return {"is_controller": True, "type": "application", "fees": {"payer": fees},
            "losses": {"payments": losses}, "requirement_collection": collection,
            "stripe_dashboard": {"type": dashboard}}


def revoked(api_key: str, acct_id: str) -> StripeError:
    """Stripe's answer for an account the platform cannot reach (any more)."""
    shown = api_key[:8] + "*" * 4 + api_key[-4:]
    return StripeError(
        403,
        f"The provided key '{shown}' does not have access to account '{acct_id}' (or that "
        "account does not exist). Application access may have been revoked.",
        code="account_invalid",
    )


def _get_account(call: Call) -> dict[str, Any]:
    acct_id = call.request.match_info["id"]
    acct = call.sb.store.get("account", acct_id)
    if acct is None:
        raise resource_missing("account", acct_id, "account")
    if acct.get("__deauthorized"):
        raise revoked(call.api_key, acct_id)
    return acct


def create_account(call: Call) -> tuple[int, dict[str, Any]]:
    p = call.params
    check_known(p, CREATE_SPEC)
    require_connect(call)
    if not p.get("type") and not p.get("controller"):
        raise missing_param("type")
    if p.get("type") and p.get("controller"):
        raise invalid_param("controller", "You cannot specify both `type` and `controller`.")
    if p.get("type"):
        one_of(p["type"], ["custom", "express", "standard"], "type")
    if p.get("country") not in (None, ""):
        country = str(p["country"]).upper()
        if country not in COUNTRIES:
            raise invalid_param("country", f"Country '{p['country']}' is unknown or not supported "
                                "for connected accounts.", "country_unsupported")
    if p.get("email"):
        check_email(p["email"], "email")
    p["metadata"] = check_metadata(p.get("metadata"))
    controller = _controller(p)
    acct = objects.account(now=call.sb.store.now(), params=p)
    acct["controller"] = controller
    if p.get("default_currency"):
        acct["default_currency"] = str(p["default_currency"]).lower()
    call.sb.store.put("account", acct, PLATFORM)
    return render(call, acct)


def retrieve_account(call: Call) -> tuple[int, dict[str, Any]]:
    check_known(call.params, {"expand": STRINGS})
    return render(call, _get_account(call))


def update_account(call: Call) -> tuple[int, dict[str, Any]]:
    check_known(call.params, UPDATE_SPEC)
    acct = _get_account(call)
    p = call.params
    previous: dict[str, Any] = {}
    if "email" in p:
        previous["email"] = acct["email"]
        acct["email"] = check_email(p["email"], "email") if p["email"] else None
    if "metadata" in p:
        previous["metadata"] = acct["metadata"]
        if p["metadata"] == "":
            acct["metadata"] = {}
        else:
            merged = {**acct["metadata"], **p["metadata"]}
            acct["metadata"] = {k: v for k, v in merged.items() if v != ""}
            check_metadata(acct["metadata"])
    if "business_profile" in p:
        previous["business_profile"] = dict(acct["business_profile"])
        acct["business_profile"].update(p["business_profile"])
    with call.sb.store.transaction():
        call.sb.store.put("account", acct, PLATFORM)
        call.sb.webhooks.emit("account.updated", acct, account=acct["id"],
                              request_id=call.request_id,
                              idempotency_key=call.idempotency_key,
                              previous_attributes=previous)
    return render(call, acct)


def delete_account(call: Call) -> tuple[int, dict[str, Any]]:
    acct = _get_account(call)
    call.sb.store.delete(acct["id"])
    return 200, {"id": acct["id"], "object": "account", "deleted": True}


def list_accounts(call: Call) -> tuple[int, dict[str, Any]]:
    return list_objects(call, "account", "/v1/accounts", {})


def create_account_link(call: Call) -> tuple[int, dict[str, Any]]:
    p = call.params
    check_known(p, LINK_SPEC)
    require_connect(call)
    acct_id = require(p, "account")
    link_type = one_of(require(p, "type"), ["account_onboarding", "account_update"], "type")
    if p.get("collect") not in (None, ""):
        one_of(p["collect"], ["currently_due", "eventually_due"], "collect")
    options = p.get("collection_options") or {}
    if options.get("fields") not in (None, ""):
        one_of(options["fields"], ["currently_due", "eventually_due"], "collection_options[fields]")
    if options.get("future_requirements") not in (None, ""):
        one_of(options["future_requirements"], ["include", "omit"],
               "collection_options[future_requirements]")
    acct = call.sb.store.get("account", acct_id)
    if acct is None:
        raise resource_missing("account", acct_id, "account")
    if acct.get("__deauthorized"):
        raise revoked(call.api_key, acct_id)
    if link_type == "account_update" and dashboard_of(acct) != "none":
        raise invalid_param("type", UPDATE_LINK_REFUSED)
    refresh = check_url(require(p, "refresh_url"), "refresh_url")
    ret = check_url(require(p, "return_url"), "return_url")
    now = call.sb.store.now()
    token = new_id("", 32)
    call.sb.store.put("account_link", {
        "id": "alink_" + token, "account": acct_id, "refresh_url": refresh, "return_url": ret,
        "type": link_type, "expires_at": now + LINK_TTL_S, "state": "new",
    })
    return render(call, {"object": "account_link", "created": now,
                         "expires_at": now + LINK_TTL_S,
                         "url": f"{call.sb.public_url}/connect/onboard/{token}"})


@acts_for_owner
def onboard(sb: Sandbox, acct_id: str) -> dict[str, Any]:
    """Complete onboarding: charges and payouts on, nothing left due."""
    acct = sb.store.get("account", acct_id)
    if acct is None:
        raise resource_missing("account", acct_id, "account")
    previous = {"charges_enabled": acct["charges_enabled"],
                "details_submitted": acct["details_submitted"],
                "payouts_enabled": acct["payouts_enabled"],
                "requirements": acct["requirements"], "capabilities": acct["capabilities"]}
    acct.update(charges_enabled=True, details_submitted=True, payouts_enabled=True,
                requirements=objects.requirements([], None))
    acct["capabilities"] = {name: "active" for name in acct["capabilities"]} or \
        {"card_payments": "active", "transfers": "active"}
    acct["tos_acceptance"] = {"date": sb.store.now(), "ip": "127.0.0.1",
                              "user_agent": "Stripe sandbox"}
    with sb.store.transaction():
        sb.store.put("account", acct, PLATFORM)
        sb.webhooks.emit("account.updated", acct, account=acct_id,
                         previous_attributes=previous)
    return acct


RESTRICTED_DUE = ["individual.verification.document", "external_account"]
APPLICATION = {"id": "ca_ConsultPaySandbox0001", "object": "application", "name": "ConsultPay"}


@acts_for_owner
def restrict(sb: Sandbox, acct_id: str, due: list[str] | None = None) -> dict[str, Any]:
    """Stripe needs more from the account by a deadline that has passed: charges stop."""
    acct = sb.store.get("account", acct_id)
    if acct is None:
        raise resource_missing("account", acct_id, "account")
    due = list(due or RESTRICTED_DUE)
    previous = {"charges_enabled": acct["charges_enabled"],
                "payouts_enabled": acct["payouts_enabled"],
                "requirements": acct["requirements"]}
    acct.update(charges_enabled=False, payouts_enabled=False,
                requirements=objects.requirements(due, "requirements.past_due"))
    acct["capabilities"] = {name: "inactive" for name in acct["capabilities"]}
    with sb.store.transaction():
        sb.store.put("account", acct, PLATFORM)
        sb.webhooks.emit("account.updated", acct, account=acct_id,
                         previous_attributes=previous)
    return acct


@acts_for_owner
def deauthorize(sb: Sandbox, acct_id: str) -> dict[str, Any]:
    """The account disconnects from the platform: the platform loses access to it."""
    acct = sb.store.get("account", acct_id)
    if acct is None:
        raise resource_missing("account", acct_id, "account")
    acct["__deauthorized"] = True
    with sb.store.transaction():
        sb.store.put("account", acct, PLATFORM)
        # Connect style: the application object, with the account on the event.
        event = sb.webhooks.emit("account.application.deauthorized", dict(APPLICATION),
                                 account=acct_id)
    return event


def _link(request: web.Request) -> dict[str, Any] | None:
    return request.app[SANDBOX].store.get("account_link",
                                          "alink_" + request.match_info["token"])


async def onboarding_page(request: web.Request) -> web.StreamResponse:
    sb = request.app[SANDBOX]
    link = _link(request)
    if link is None:
        return message_page("Link not found", "This onboarding link does not exist.", 404)
    # Account Links are single use: a second visit, or a late one, starts over.
    if link["state"] != "new" or link["expires_at"] <= sb.store.now():
        raise web.HTTPFound(link["refresh_url"])
    link["state"] = "visited"
    sb.store.put("account_link", link)
    acct = sb.store.get("account", link["account"]) or {}
    name = (acct.get("business_profile") or {}).get("name") or acct.get("email") or acct.get("id")
    body = (
        '<div class="card"><h1>Set up payments</h1>'
        f'<p class="muted">Account <strong>{escape(str(name))}</strong> '
        f"({escape(link['account'])}) on the ConsultPay platform.</p>"
        "<p>In the sandbox, no documents are needed: completing onboarding turns on "
        "card payments and payouts for this account.</p>"
        f'<form method="post" action="{escape(request.path)}">'
        '<button type="submit">Complete onboarding</button></form>'
        f'<p class="foot"><a href="{escape(link["return_url"])}">Return without finishing</a>'
        "</p></div>"
    )
    return page("Set up payments", body)


async def onboarding_submit(request: web.Request) -> web.StreamResponse:
    sb = request.app[SANDBOX]
    link = _link(request)
    if link is None:
        return message_page("Link not found", "This onboarding link does not exist.", 404)
    if link["state"] == "completed" or link["expires_at"] <= sb.store.now():
        raise web.HTTPSeeOther(link["refresh_url"])
    link["state"] = "completed"
    sb.store.put("account_link", link)
    try:
        onboard(sb, link["account"])
    except StripeError:
        return message_page("Account not found", "This account no longer exists.", 404)
    raise web.HTTPSeeOther(link["return_url"])


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_post("/v1/accounts", api(create_account))
    r.add_get("/v1/accounts", api(list_accounts))
    r.add_get("/v1/accounts/{id}", api(retrieve_account))
    r.add_post("/v1/accounts/{id}", api(update_account))
    r.add_delete("/v1/accounts/{id}", api(delete_account))
    r.add_post("/v1/account_links", api(create_account_link))
    r.add_get("/connect/onboard/{token}", onboarding_page)
    r.add_post("/connect/onboard/{token}", onboarding_submit)
