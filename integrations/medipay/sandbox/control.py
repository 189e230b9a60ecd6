"""The control surface for tests and demos — not MediPay's API.

JSON in and out under ``/_control/``, for callers on the sandbox's own machine
only (``integrations.local_only``): it shows patients' national ids and marks
claims paid.

``GET  /_control/sms[?claim_id=…&to=…]``        the SMS outbox, oldest first
``GET  /_control/claims``                       every claim, as the API shows it
``POST /_control/claims/{id}/choose``           ``{"method": "card"|"vipps"|"invoice"}``
``POST /_control/claims/{id}/pay``              the patient pays the invoice
``POST /_control/clock/advance``                ``{"hours"|"minutes"|"seconds": N}``; fires what fell due
``GET  /_control/clock``                        the sandbox's time
``POST /_control/credit``                       ``{"national_id", "outcome": "approve"|"reject"}``
``POST /_control/faults``                       ``{"next": N, "kind": …, "path"?, "seconds"?}``
``GET|DELETE /_control/faults``                 the faults still armed / disarm them all
``GET  /_control/callbacks``                    events with their deliveries and attempts
``POST /_control/callbacks``                    delivery misbehaviour (callbacks.py)
``POST /_control/callbacks/{event_id}/redeliver``
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from integrations.local_only import local_only
from integrations.medipay.protocol import format_time
from integrations.sandbox_kit import faults

from . import claims
from .api import FAULT_KINDS
from .callbacks import CONFIG_NUMBERS
from .context import SANDBOX
from .errors import MediPayError, bad_request
from .validation import national_id


def _error(e: MediPayError) -> web.Response:
    return e.response()


async def _body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):  # nested too deep is not JSON to us
        raise bad_request("body must be JSON") from None
    if not isinstance(data, dict):
        raise bad_request("body must be a JSON object")
    return data


def _handle(view):  # type: ignore[no-untyped-def]
    async def handler(request: web.Request) -> web.StreamResponse:
        try:
            return await view(request)  # type: ignore[no-any-return]
        except MediPayError as e:
            return _error(e)
    return handler


async def sms(request: web.Request) -> web.Response:
    rows = request.app[SANDBOX].store.all("sms")
    claim_id, to = request.query.get("claim_id"), request.query.get("to")
    rows = [s for s in rows if (not claim_id or s["claim_id"] == claim_id) and (not to or s["to"] == to)]
    return web.json_response({"sms": rows})


async def all_claims(request: web.Request) -> web.Response:
    return web.json_response({"claims": [claims.view(c) for c in request.app[SANDBOX].store.all("claim")]})


async def choose(request: web.Request) -> web.Response:
    data = await _body(request)
    method = data.get("method")
    if method not in claims.METHODS:
        raise bad_request("method must be card, vipps or invoice")
    claim = claims.choose(request.app[SANDBOX], request.match_info["id"], method)
    return web.json_response(claims.view(claim))


async def pay(request: web.Request) -> web.Response:
    claim = claims.pay_invoice(request.app[SANDBOX], request.match_info["id"])
    return web.json_response(claims.view(claim))


async def clock(request: web.Request) -> web.Response:
    return web.json_response({"now": format_time(request.app[SANDBOX].store.now())})


async def advance(request: web.Request) -> web.Response:
    data = await _body(request)
    seconds = 0.0
    units = {"hours": 3600, "minutes": 60, "seconds": 1}
    if not any(k in data for k in units):
        raise bad_request("give hours, minutes or seconds")
    for key, factor in units.items():
        if key in data:
            value = data[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 24 * 3650:
                raise bad_request(f"{key} must be a non-negative number")
            seconds += float(value) * factor
    sb = request.app[SANDBOX]
    now = sb.store.advance_clock(seconds)
    fired = claims.fire_due(sb)
    return web.json_response({"now": format_time(now), "fired": fired})


async def credit(request: web.Request) -> web.Response:
    data = await _body(request)
    outcome = data.get("outcome")
    if outcome not in ("approve", "reject"):
        raise bad_request("outcome must be approve or reject")
    nid = national_id(data.get("national_id"))
    claims.set_credit(request.app[SANDBOX], nid, outcome)
    return web.json_response({"national_id": nid, "outcome": outcome})


add_fault, list_faults, clear_faults = faults.control_views(lambda request: request.app[SANDBOX].store,
                                                          _body, FAULT_KINDS, "/v1/",
                                                          lambda field, text: bad_request(f"{field} {text}"))


async def callback_log(request: web.Request) -> web.Response:
    return web.json_response({"events": request.app[SANDBOX].callbacks.log()})


async def configure_callbacks(request: web.Request) -> web.Response:
    data = await _body(request)
    changes: dict[str, Any] = {}
    for key in CONFIG_NUMBERS:
        if key in data:
            value = data[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 100_000:
                raise bad_request(f"{key} must be a non-negative number")
            changes[key] = value
    if "duplicate" in changes and not 1 <= changes["duplicate"] <= 5:
        raise bad_request("duplicate must be 1..5")
    for flag in ("reverse", "concurrent"):
        if flag in data:
            if not isinstance(data[flag], bool):
                raise bad_request(f"{flag} must be true or false")
            changes[flag] = data[flag]
    sb = request.app[SANDBOX]
    cfg = sb.callbacks.configure(changes)
    sb.callbacks.wake()
    return web.json_response(cfg)


async def redeliver(request: web.Request) -> web.Response:
    delivery = request.app[SANDBOX].callbacks.redeliver(request.match_info["id"])
    if delivery is None:
        raise MediPayError(404, "event_not_found", "No such event, or no callback URL")
    return web.json_response(delivery)


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/_control/sms", local_only(_handle(sms)))
    r.add_get("/_control/claims", local_only(_handle(all_claims)))
    r.add_post("/_control/claims/{id}/choose", local_only(_handle(choose)))
    r.add_post("/_control/claims/{id}/pay", local_only(_handle(pay)))
    r.add_get("/_control/clock", local_only(_handle(clock)))
    r.add_post("/_control/clock/advance", local_only(_handle(advance)))
    r.add_post("/_control/credit", local_only(_handle(credit)))
    r.add_post("/_control/faults", local_only(_handle(add_fault)))
    r.add_get("/_control/faults", local_only(_handle(list_faults)))
    r.add_delete("/_control/faults", local_only(_handle(clear_faults)))
    r.add_get("/_control/callbacks", local_only(_handle(callback_log)))
    r.add_post("/_control/callbacks", local_only(_handle(configure_callbacks)))
    r.add_post("/_control/callbacks/{id}/redeliver", local_only(_handle(redeliver)))
