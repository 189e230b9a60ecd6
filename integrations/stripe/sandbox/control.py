"""The control surface for tests and demos — not Stripe's API.

JSON in and out under ``/_control/``: the event and delivery log, webhook
misbehaviour, injected API failures (outages, lost answers, scripted refusals
for the next calls on a path, method or account), scripted payments, onboarding,
accounts in each state Stripe can put them (restricted, under review, rejected,
…) and disconnected, the platform's Connect switch, a hold's authorisation
lapsing now, and the sandbox clock. It
answers callers on the sandbox's own machine only (``integrations.local_only``).
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from integrations.local_only import local_only

from . import account_states, checkout, connect, intents
from .cards import CardError
from .errors import SCRIPTED, StripeError
from .keys import SANDBOX

# Outages (the call fails before Stripe acts), ``drop_answer`` (Stripe acts and keeps the
# result, the answer is lost), and ``error``: a scripted refusal from ``errors.SCRIPTED``.
FAIL_MODES = ("timeout", "disconnect", "server_error", "rate_limit", "drop_answer", "error")


def _bad(message: str, status: int = 400) -> web.Response:
    return web.json_response({"error": {"message": message}}, status=status)


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        data = json.loads(await request.text() or "{}")
    except json.JSONDecodeError:
        raise web.HTTPBadRequest(text="body must be JSON") from None
    if not isinstance(data, dict):
        raise web.HTTPBadRequest(text="body must be a JSON object")
    return data


async def events(request: web.Request) -> web.Response:
    return web.json_response({"events": request.app[SANDBOX].webhooks.log()})


async def webhooks(request: web.Request) -> web.Response:
    data = await _body(request)
    changes: dict[str, Any] = {}
    if "duplicate" in data:
        if not isinstance(data["duplicate"], int) or not 1 <= data["duplicate"] <= 3:
            return _bad("duplicate must be 1..3")
        changes["duplicate"] = data["duplicate"]
    for flag in ("shuffle", "concurrent"):
        if flag in data:
            changes[flag] = bool(data[flag])
    for num in ("delay_ms", "max_attempts", "retry_base_s", "retry_cap_s", "timeout_s"):
        if num in data:
            if not isinstance(data[num], (int, float)) or data[num] < 0:
                return _bad(f"{num} must be a non-negative number")
            changes[num] = data[num]
    return web.json_response(request.app[SANDBOX].webhooks.configure(changes))


async def redeliver(request: web.Request) -> web.Response:
    delivery = request.app[SANDBOX].webhooks.redeliver(request.match_info["id"])
    if delivery is None:
        return _bad("no such event, or no webhook URL", 404)
    return web.json_response(delivery)


async def fail(request: web.Request) -> web.Response:
    data = await _body(request)
    mode = data.get("mode")
    if mode not in FAIL_MODES:
        return _bad(f"mode must be one of {', '.join(FAIL_MODES)}")
    count = data.get("count", 1)
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        return _bad("count must be a positive whole number")
    rule: dict[str, Any] = {"path_prefix": str(data.get("path_prefix") or "/v1/"), "mode": mode,
                            "count": count}
    if "seconds" in data:
        if not isinstance(data["seconds"], (int, float)) or data["seconds"] < 0:
            return _bad("seconds must be a non-negative number")
        rule["seconds"] = float(data["seconds"])
    if data.get("method") is not None:
        if data["method"] not in ("GET", "POST", "DELETE"):
            return _bad("method must be GET, POST or DELETE")
        rule["method"] = data["method"]
    if data.get("account") is not None:
        if not isinstance(data["account"], str):
            return _bad("account must be an account id")
        rule["account"] = data["account"]
    if mode == "error":
        if data.get("error") not in SCRIPTED:
            return _bad(f"error must be one of {', '.join(SCRIPTED)}")
        rule["error"] = SCRIPTED[data["error"]]
    store = request.app[SANDBOX].store
    with store.transaction():
        rules = store.get_meta("fail_rules", []) + [rule]
        store.set_meta("fail_rules", rules)
    return web.json_response({"rules": rules})


async def pay(request: web.Request) -> web.Response:
    data = await _body(request)
    sb = request.app[SANDBOX]
    outcome = data.get("async")
    if outcome not in (None, "succeeded", "failed"):
        return _bad("async must be succeeded or failed")
    if "delay_s" in data:
        sb.async_delay_s = float(data["delay_s"])
    try:
        session = checkout.pay(
            sb, request.match_info["id"],
            card_number=str(data.get("card_number", "4242424242424242")),
            exp=str(data.get("exp", "12/40")), cvc=str(data.get("cvc", "123")),
            email=str(data.get("email", "")), async_outcome=outcome,
        )
    except CardError as e:
        return web.json_response({"error": {"type": "card_error", "code": e.code,
                                            "decline_code": e.decline_code,
                                            "message": e.message}}, status=402)
    except StripeError as e:
        return web.json_response(e.body(), status=e.status)
    url = session.get("success_url")
    return web.json_response({
        "session": session["id"], "status": session["status"],
        "payment_status": session["payment_status"],
        "payment_intent": session["payment_intent"],
        "redirect": url.replace("{CHECKOUT_SESSION_ID}", session["id"]) if url else None,
    })


async def onboard(request: web.Request) -> web.Response:
    try:
        acct = connect.onboard(request.app[SANDBOX], request.match_info["id"])
    except StripeError as e:
        return web.json_response(e.body(), status=e.status)
    return web.json_response({"id": acct["id"], "charges_enabled": acct["charges_enabled"]})


async def restrict(request: web.Request) -> web.Response:
    """Put an account into "restricted": requirements past due, charges off (account.updated)."""
    data = await _body(request)
    due = data.get("due")
    if due is not None and (not isinstance(due, list) or not all(isinstance(d, str) for d in due)):
        return _bad("due must be a list of requirement names")
    try:
        acct = connect.restrict(request.app[SANDBOX], request.match_info["id"], due)
    except StripeError as e:
        return web.json_response(e.body(), status=e.status)
    return web.json_response({"id": acct["id"], "charges_enabled": acct["charges_enabled"],
                              "requirements": acct["requirements"]})


async def account_state(request: web.Request) -> web.Response:
    """Put an account under review, rejected, past due, due soon, …: see ``account_states.set_state``."""
    data = await _body(request)
    due = data.get("due")
    if due is not None and (not isinstance(due, list) or not all(isinstance(d, str) for d in due)):
        return _bad("due must be a list of requirement names")
    deadline = data.get("deadline")
    if deadline is not None and (not isinstance(deadline, int) or isinstance(deadline, bool)):
        return _bad("deadline must be a unix timestamp")
    errors = data.get("errors")
    if errors is not None and (not isinstance(errors, list) or not all(isinstance(e, dict) for e in errors)):
        return _bad("errors must be a list of {requirement, code, reason}")
    reason = data.get("reason")
    try:
        acct = account_states.set_state(request.app[SANDBOX], request.match_info["id"], str(data.get("state")),
                                 due=due, deadline=deadline, errors=errors,
                                 reason=reason if isinstance(reason, str) else None)
    except StripeError as e:
        return web.json_response(e.body(), status=e.status)
    return web.json_response({"id": acct["id"], "charges_enabled": acct["charges_enabled"],
                              "payouts_enabled": acct["payouts_enabled"],
                              "requirements": acct["requirements"]})


async def platform(request: web.Request) -> web.Response:
    """The platform's own settings: ``{"connect": false}`` is a platform not signed up for Connect."""
    data = await _body(request)
    store = request.app[SANDBOX].store
    if "connect" in data:
        if not isinstance(data["connect"], bool):
            return _bad("connect must be true or false")
        with store.transaction():
            store.set_meta("connect_enabled", data["connect"])
    return web.json_response({"connect": connect.connect_enabled(request.app[SANDBOX])})


async def deauthorize(request: web.Request) -> web.Response:
    """The account disconnects from the platform (account.application.deauthorized)."""
    try:
        event = connect.deauthorize(request.app[SANDBOX], request.match_info["id"])
    except StripeError as e:
        return web.json_response(e.body(), status=e.status)
    return web.json_response({"id": request.match_info["id"], "event": event["id"]})


async def lapse(request: web.Request) -> web.Response:
    """A hold's authorisation expires now, as at its ``capture_before``: the PaymentIntent is
    canceled with ``cancellation_reason`` "expired" (``charge.expired``, ``payment_intent.canceled``)."""
    sb = request.app[SANDBOX]
    pi_id = request.match_info["id"]
    try:
        with sb.store.scope(None):
            account = sb.store.account_of(pi_id)
            if account is None:
                return _bad(f"No such payment_intent: '{pi_id}'", 404)
            pi = intents.lapse(sb, pi_id, account)
    except StripeError as e:
        return web.json_response(e.body(), status=e.status)
    return web.json_response({"id": pi["id"], "status": pi["status"],
                              "cancellation_reason": pi["cancellation_reason"]})


async def advance_clock(request: web.Request) -> web.Response:
    data = await _body(request)
    seconds = data.get("seconds")
    if not isinstance(seconds, (int, float)) or seconds < 0:
        return _bad("seconds must be a non-negative number")
    sb = request.app[SANDBOX]
    now = sb.store.advance_clock(seconds)
    checkout.sweep(sb)
    return web.json_response({"now": now})


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/_control/events", local_only(events))
    r.add_post("/_control/webhooks", local_only(webhooks))
    r.add_post("/_control/events/{id}/redeliver", local_only(redeliver))
    r.add_post("/_control/fail", local_only(fail))
    r.add_post("/_control/checkout/sessions/{id}/pay", local_only(pay))
    r.add_post("/_control/accounts/{id}/onboard", local_only(onboard))
    r.add_post("/_control/accounts/{id}/restrict", local_only(restrict))
    r.add_post("/_control/accounts/{id}/deauthorize", local_only(deauthorize))
    r.add_post("/_control/accounts/{id}/state", local_only(account_state))
    r.add_post("/_control/platform", local_only(platform))
    r.add_post("/_control/payment_intents/{id}/lapse", local_only(lapse))
    r.add_post("/_control/clock/advance", local_only(advance_clock))
