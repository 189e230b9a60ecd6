"""The control surface for tests and demos — not Vipps' API.

JSON in and out under ``/_control/``, for callers on the sandbox's own machine
only (``integrations.local_only``).

``POST /_control/merchants``                          a new test merchant: its keys and MSN
``GET  /_control/payments``                           every payment, with its landing page
``POST /_control/payments/{msn}/{reference}/approve|reject``   the user answers
``GET  /_control/clock``, ``POST /_control/clock/advance``     ``{"minutes"|"seconds": N}``; expiries fire
``POST /_control/faults``                             ``{"kind", "next"?, "path"?, "seconds"?}`` (api.py)
``GET|DELETE /_control/faults``                       the faults still armed / disarm them all
``GET  /_control/webhooks``                           deliveries with their attempts
``POST /_control/webhooks``                           delivery misbehaviour (webhooks.py)
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from integrations.local_only import local_only
from integrations.sandbox_kit import faults

from . import payments
from .api import FAULT_KINDS
from .context import SANDBOX
from .errors import VippsError, invalid, not_found
from .keys import new_merchant
from .store import public
from .webhooks import CONFIG_NUMBERS


async def _body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    try:
        data = json.loads(raw) if raw else {}
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise invalid("body", "Must be JSON") from None
    if not isinstance(data, dict):
        raise invalid("body", "Must be a JSON object")
    return data


def _handle(view):  # type: ignore[no-untyped-def]
    async def handler(request: web.Request) -> web.StreamResponse:
        try:
            return await view(request)  # type: ignore[no-any-return]
        except VippsError as e:
            return e.response()
    return local_only(handler)


def _number(data: dict[str, Any], name: str, high: float) -> float:
    value = data[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= high:
        raise invalid(name, f"Must be a number from 0 to {high:g}")
    return float(value)


async def merchants(request: web.Request) -> web.Response:
    keys = new_merchant(request.app[SANDBOX].store)
    return web.json_response({"client_id": keys.client_id, "client_secret": keys.client_secret,
                              "subscription_key": keys.subscription_key,
                              "merchant_serial_number": keys.merchant_serial_number})


def _row(sb: Any, payment: dict[str, Any]) -> dict[str, Any]:
    return {**public(payment), "landingUrl": payments.landing_url(sb, payment)}


async def all_payments(request: web.Request) -> web.Response:
    sb = request.app[SANDBOX]
    payments.fire_due(sb)
    return web.json_response({"payments": [_row(sb, p) for p in sb.store.all("payment")]})


async def answer(request: web.Request) -> web.Response:
    sb = request.app[SANDBOX]
    m = request.match_info
    payment = payments.answer(sb, payments.key(m["msn"], m["reference"]), m["action"] == "approve")
    if payment is None:
        raise not_found("No such payment")
    return web.json_response(_row(sb, payment))


async def clock(request: web.Request) -> web.Response:
    return web.json_response({"now": payments.stamp(request.app[SANDBOX].store.now())})


async def advance(request: web.Request) -> web.Response:
    data = await _body(request)
    if not any(k in data for k in ("minutes", "seconds")):
        raise invalid("body", "Give minutes or seconds")
    seconds = sum(_number(data, k, 10 ** 6) * f for k, f in (("minutes", 60), ("seconds", 1)) if k in data)
    sb = request.app[SANDBOX]
    now = sb.store.advance_clock(seconds)
    return web.json_response({"now": payments.stamp(now), "expired": payments.fire_due(sb)})


def _refuse(field: str, text: str) -> Exception:
    return invalid(field, text[0].upper() + text[1:])


add_fault, list_faults, clear_faults = faults.control_views(lambda request: request.app[SANDBOX].store,
                                                          _body, FAULT_KINDS, "/", _refuse,
                                                          float_seconds=True)


async def deliveries(request: web.Request) -> web.Response:
    return web.json_response({"deliveries": request.app[SANDBOX].webhooks.log(request.query.get("msn"))})


async def configure_webhooks(request: web.Request) -> web.Response:
    data = await _body(request)
    changes = {k: _number(data, k, 100_000) for k in CONFIG_NUMBERS if k in data}
    if "duplicate" in changes and not 1 <= changes["duplicate"] <= 5:
        raise invalid("duplicate", "Must be from 1 to 5")
    sb = request.app[SANDBOX]
    cfg = sb.webhooks.configure(changes)
    sb.webhooks.wake()
    return web.json_response(cfg)


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_post("/_control/merchants", _handle(merchants))
    r.add_get("/_control/payments", _handle(all_payments))
    r.add_post("/_control/payments/{msn}/{reference}/{action:approve|reject}", _handle(answer))
    r.add_get("/_control/clock", _handle(clock))
    r.add_post("/_control/clock/advance", _handle(advance))
    r.add_post("/_control/faults", _handle(add_fault))
    r.add_get("/_control/faults", _handle(list_faults))
    r.add_delete("/_control/faults", _handle(clear_faults))
    r.add_get("/_control/webhooks", _handle(deliveries))
    r.add_post("/_control/webhooks", _handle(configure_webhooks))
