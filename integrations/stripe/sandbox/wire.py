"""Stripe's wire protocol around every ``/v1`` view.

In order: API key (which names the platform whose objects the call sees,
``store.OWNER``), injected failures (control surface), ``Stripe-Account``,
form parameters (checked against the SDK's definitions, ``contract.py``),
``Idempotency-Key`` replay (kept 24 hours, as Stripe keeps it), then the view;
Stripe errors become Stripe's JSON error bodies. An injected ``drop_answer``
lets the view act and keep its result, then hangs up. Views are synchronous functions of a
``Call`` returning ``(status, body)`` — nothing awaits between reading and
writing state, which is what keeps idempotent replays and balances exact.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from . import contract, errors
from .context import Sandbox
from .errors import StripeError
from .forms import parse_form, parse_pairs
from .keys import SANDBOX
from .store import PLATFORM, new_id, public
from .validation import SCALAR, STRINGS, as_list, check_known, to_int
from .webhooks import API_VERSION

# The sandbox is test mode: a secret or restricted test key, as the app's config accepts.
# A live key, a publishable key or anything malformed is refused as Stripe refuses it.
_TEST_KEY = re.compile(r"^(sk|rk)_test_[A-Za-z0-9_]{8,}$")
# Stripe keeps an idempotency key's result for 24 hours; after that the key is new again.
IDEMPOTENCY_TTL_S = 24 * 60 * 60


@dataclass
class Call:
    sb: Sandbox
    request: web.Request
    params: dict[str, Any]
    account: str
    api_key: str
    request_id: str
    idempotency_key: str | None


View = Callable[[Call], tuple[int, dict[str, Any]]]


def _api_key(request: web.Request) -> str:
    auth = request.headers.get("Authorization", "").strip()
    if not auth:
        raise errors.no_api_key()
    scheme, _, value = auth.partition(" ")
    value = value.strip()
    if scheme.lower() == "basic":
        try:
            value = base64.b64decode(value).decode().partition(":")[0]
        except ValueError:
            value = ""
    elif scheme.lower() != "bearer":
        raise errors.no_api_key()
    if not value:
        raise errors.no_api_key()
    if not _TEST_KEY.match(value):
        raise errors.bad_api_key(value)
    return value


def _rel_path(request: web.Request) -> str:
    path = request.path
    i = path.find("/v1/")
    return path[i:] if i >= 0 else path


def _take_rule(sb: Sandbox, request: web.Request, account: str) -> dict[str, Any] | None:
    """The first injected-failure rule that matches this call, counted down once."""
    path = _rel_path(request)
    with sb.store.transaction():
        rules = sb.store.get_meta("fail_rules", [])
        rule = next((r for r in rules if path.startswith(r["path_prefix"])
                     and r.get("method", request.method) == request.method
                     and r.get("account", account) == account), None)
        if rule is None:
            return None
        rule["count"] -= 1
        sb.store.set_meta("fail_rules", [r for r in rules if r["count"] > 0])
    return rule


async def _injected_failure(request: web.Request, rule: dict[str, Any] | None) -> None:
    """Fail this call as the control surface asked, before anything happens."""
    if rule is None or rule["mode"] == "drop_answer":
        return
    if rule["mode"] == "rate_limit":
        raise errors.rate_limited()
    if rule["mode"] == "server_error":
        raise errors.server_error()
    if rule["mode"] == "error":
        e = rule["error"]
        raise StripeError(int(e["status"]), e["message"], type=e["type"], code=e.get("code"),
                          param=e.get("param"), decline_code=e.get("decline_code"))
    if rule["mode"] == "timeout":
        await asyncio.sleep(float(rule.get("seconds", 90)))
    # "timeout" after the hang, "disconnect" at once: drop the connection unanswered.
    _hang_up(request)
    raise errors.server_error()


def _hang_up(request: web.Request) -> None:
    if request.transport is not None:
        request.transport.close()


def _account(sb: Sandbox, request: web.Request, api_key: str) -> str:
    acct = request.headers.get("Stripe-Account", "").strip()
    if not acct:
        return PLATFORM
    found = sb.store.get("account", acct)
    if found is None or found.get("__deauthorized"):
        shown = api_key[:8] + "*" * 4 + api_key[-4:]
        raise StripeError(
            403,
            f"The provided key '{shown}' does not have access to account '{acct}' (or that "
            "account does not exist). Application access may have been revoked.",
            code="account_invalid",
        )
    return acct


async def _params(request: web.Request) -> dict[str, Any]:
    raw = request.rel_url.raw_query_string if request.method in ("GET", "DELETE") else await request.text()
    contract.refuse_what_stripe_refuses(request.method, _rel_path(request), raw)
    if request.method in ("GET", "DELETE"):
        return parse_pairs(list(request.query.items()))
    return parse_form(raw)


def _idem_id(call: Call, key: str) -> str:
    digest = hashlib.sha256(f"{call.api_key}|{call.account}|{key}".encode()).hexdigest()
    return "idem_" + digest


def _fingerprint(request: web.Request, params: dict[str, Any]) -> str:
    raw = json.dumps([request.method, _rel_path(request), params], sort_keys=True)
    return hashlib.sha256(raw.encode()).hexdigest()


def api(view: View) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handler(request: web.Request) -> web.StreamResponse:
        sb = request.app[SANDBOX]
        request_id = new_id("req_", 14)
        headers = {"Request-Id": request_id,
                   "Stripe-Version": request.headers.get("Stripe-Version", API_VERSION)}
        key = request.headers.get("Idempotency-Key") if request.method == "POST" else None
        if key:
            headers["Idempotency-Key"] = key
        try:
            api_key = _api_key(request)
            # The key is the platform: everything below sees and makes its objects only.
            with sb.store.scope(api_key):
                # The account is read before the rule so a rule can name one; its own
                # errors come after an injected outage, as a network failure comes first.
                raw_account = request.headers.get("Stripe-Account", "").strip()
                rule = _take_rule(sb, request, raw_account)
                await _injected_failure(request, rule)
                account = _account(sb, request, api_key)
                params = await _params(request)
                call = Call(sb, request, params, account, api_key, request_id, key)
                if key is None:
                    status, body = view(call)
                    response = _json(status, body, headers)
                else:
                    if len(key) > 255:
                        raise StripeError(400, "Idempotency-Key must be at most 255 characters long.",
                                          code="idempotency_key_too_long")
                    response = _idempotent(call, view, key, headers)
            if rule is not None and rule["mode"] == "drop_answer":
                # Stripe acted and kept the result; the answer is lost on the way back.
                _hang_up(request)
                raise web.HTTPInternalServerError()
            return response
        except StripeError as e:
            if request.transport is None or request.transport.is_closing():
                raise web.HTTPInternalServerError() from None
            return e.response(headers)

    return handler


def _idempotent(call: Call, view: View, key: str, headers: dict[str, str]) -> web.Response:
    store = call.sb.store
    fingerprint = _fingerprint(call.request, call.params)
    with store.transaction():
        saved = store.get("idempotency", _idem_id(call, key))
        if saved is not None and store.now() - saved["created"] >= IDEMPOTENCY_TTL_S:
            saved = None  # expired: the key starts afresh
        if saved is not None:
            if saved["fingerprint"] != fingerprint:
                raise StripeError(
                    400,
                    "Keys for idempotent requests can only be used with the same parameters "
                    "they were first used with. Try using a key other than "
                    f"'{key}' if you meant to execute a different request.",
                    type="idempotency_error",
                )
            replay = dict(headers, **{"Idempotent-Replayed": "true",
                                      "Original-Request": saved["request_id"]})
            return _json(saved["status"], saved["body"], replay)
        try:
            status, body = view(call)
        except StripeError as e:
            # Stripe keeps the result once the request has begun to act; refusals of
            # bad parameters and server errors are not kept, so a retry can succeed.
            if e.status in (402, 404) or e.type == "card_error":
                _save(call, key, fingerprint, e.status, e.body())
            raise
        _save(call, key, fingerprint, status, body)
    return _json(status, body, headers)


def _save(call: Call, key: str, fingerprint: str, status: int, body: dict[str, Any]) -> None:
    call.sb.store.put("idempotency", {
        "fingerprint": fingerprint, "status": status, "body": body,
        "request_id": call.request_id, "created": call.sb.store.now(),
    }, call.account, obj_id=_idem_id(call, key))


def _json(status: int, body: dict[str, Any], headers: dict[str, str]) -> web.Response:
    return web.Response(status=status, text=json.dumps(body, indent=2),
                        content_type="application/json", headers=headers)


# expansion and lists ------------------------------------------------------
KIND_BY_PREFIX = {"pi_": "payment_intent", "ch_": "charge", "re_": "refund",
                  "cs_": "checkout.session", "acct_": "account", "evt_": "event", "cus_": "customer",
                  "seti_": "setup_intent", "pm_": "payment_method"}


def _kind_of(obj_id: str) -> str | None:
    return next((k for p, k in KIND_BY_PREFIX.items() if obj_id.startswith(p)), None)


def _expand_one(call: Call, node: Any, parts: list[str], full: str) -> None:
    if not isinstance(node, dict):
        return
    head, rest = parts[0], parts[1:]
    if node.get("object") == "list" and head == "data":
        for item in node["data"]:
            if rest:
                _expand_one(call, item, rest, full)
        return
    if head == "line_items" and node.get("object") == "checkout.session":
        items = node.get("__line_items", [])
        node["line_items"] = {"object": "list", "data": items, "has_more": False,
                              "url": f"/v1/checkout/sessions/{node['id']}/line_items"}
        return
    if head not in node:
        raise StripeError(400, f"This property cannot be expanded ({full}).", param="expand")
    value = node[head]
    if isinstance(value, str):
        kind = _kind_of(value)
        if kind is None:
            raise StripeError(400, f"This property cannot be expanded ({full}).", param="expand")
        target = call.sb.store.get(kind, value)
        if target is not None:
            node[head] = value = target
    if rest:
        _expand_one(call, value, rest, full)


def render(call: Call, obj: dict[str, Any], status: int = 200) -> tuple[int, dict[str, Any]]:
    """Apply ``expand[]`` and strip sandbox bookkeeping."""
    out = json.loads(json.dumps(obj))
    for path in as_list(call.params.get("expand")):
        _expand_one(call, out, str(path).split("."), str(path))
    return status, public(out)


LIST_SPEC = {"limit": SCALAR, "starting_after": SCALAR, "ending_before": SCALAR,
             "expand": STRINGS, "created": SCALAR}


def list_objects(call: Call, kind: str, url: str, extra_spec: dict[str, Any],
                 keep: Callable[[dict[str, Any]], bool] = lambda o: True,
                 ) -> tuple[int, dict[str, Any]]:
    check_known(call.params, {**LIST_SPEC, **extra_spec})
    limit = to_int(call.params.get("limit", 10), "limit", minimum=1)
    if limit > 100:
        raise errors.invalid_param("limit", "This value must be less than or equal to 100.")
    items = [o for o in call.sb.store.all(kind, call.account) if keep(o)]
    after, before = call.params.get("starting_after"), call.params.get("ending_before")
    ids = [o["id"] for o in items]
    if after:
        if after not in ids:
            raise errors.resource_missing(kind, after, "starting_after")
        items = items[ids.index(after) + 1:]
        page, has_more = items[:limit], len(items) > limit
    elif before:
        if before not in ids:
            raise errors.resource_missing(kind, before, "ending_before")
        items = items[:ids.index(before)]
        page, has_more = items[-limit:], len(items) > limit
    else:
        page, has_more = items[:limit], len(items) > limit
    body = {"object": "list", "data": page, "has_more": has_more, "url": url}
    return render(call, body)
