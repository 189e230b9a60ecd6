"""The ``/v1`` routes for payments: Checkout Sessions, PaymentIntents (and capturing or
canceling a hold), Charges, Refunds and Events. Connect's routes live in ``connect.py``."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from . import checkout, intents, refunds, saved_cards
from .errors import resource_missing
from .validation import SCALAR, STRINGS, check_known
from .wire import Call, api, list_objects, render

GET_SPEC = {"expand": STRINGS}


def create_session(call: Call) -> tuple[int, dict[str, Any]]:
    session = checkout.create_session(call.sb, call.account, call.params)
    return render(call, session)


def retrieve_session(call: Call) -> tuple[int, dict[str, Any]]:
    check_known(call.params, GET_SPEC)
    sid = call.request.match_info["id"]
    return render(call, checkout.get_session(call.sb, sid, call.account))


def list_sessions(call: Call) -> tuple[int, dict[str, Any]]:
    checkout.sweep(call.sb)
    want_pi = call.params.get("payment_intent")
    want_status = call.params.get("status")
    want_ref = call.params.get("client_reference_id")

    def keep(s: dict[str, Any]) -> bool:
        return ((not want_pi or s["payment_intent"] == want_pi)
                and (not want_status or s["status"] == want_status)
                and (not want_ref or s["client_reference_id"] == want_ref))

    return list_objects(call, "checkout.session", "/v1/checkout/sessions",
                        {"payment_intent": SCALAR, "status": SCALAR,
                         "client_reference_id": SCALAR, "customer": SCALAR}, keep)


def expire_session(call: Call) -> tuple[int, dict[str, Any]]:
    check_known(call.params, GET_SPEC)
    session = checkout.get_session(call.sb, call.request.match_info["id"], call.account)
    session = checkout.expire(call.sb, session, call.account, call.request_id,
                              call.idempotency_key)
    return render(call, session)


def session_line_items(call: Call) -> tuple[int, dict[str, Any]]:
    sid = call.request.match_info["id"]
    session = checkout.get_session(call.sb, sid, call.account)
    items = session["__line_items"]
    check_known(call.params, {"limit": SCALAR, "starting_after": SCALAR,
                              "ending_before": SCALAR, "expand": STRINGS})
    return render(call, {"object": "list", "data": items, "has_more": False,
                         "url": f"/v1/checkout/sessions/{sid}/line_items"})


def _retrieve(kind: str, param: str):  # type: ignore[no-untyped-def]
    def view(call: Call) -> tuple[int, dict[str, Any]]:
        check_known(call.params, GET_SPEC)
        obj_id = call.request.match_info["id"]
        obj = call.sb.store.get(kind, obj_id, call.account)
        if obj is None:
            raise resource_missing(kind, obj_id, param)
        return render(call, obj)
    return view


def retrieve_intent(call: Call) -> tuple[int, dict[str, Any]]:
    check_known(call.params, GET_SPEC)
    return render(call, intents.current(call.sb, call.request.match_info["id"], call.account))


def capture_intent(call: Call) -> tuple[int, dict[str, Any]]:
    pi = intents.capture(call.sb, call.request.match_info["id"], call.account, call.params,
                         request_id=call.request_id, idempotency_key=call.idempotency_key)
    return render(call, pi)


def cancel_intent(call: Call) -> tuple[int, dict[str, Any]]:
    pi = intents.cancel(call.sb, call.request.match_info["id"], call.account, call.params,
                        request_id=call.request_id, idempotency_key=call.idempotency_key)
    return render(call, pi)


def create_intent(call: Call) -> tuple[int, dict[str, Any]]:
    """A saved card charged off-session; a decline answers 402 with the PaymentIntent in the error."""
    pi, declined = saved_cards.create_intent(call.sb, call.account, call.params, request_id=call.request_id,
                                             idempotency_key=call.idempotency_key)
    if declined is not None:
        # Answered, not raised: Stripe keeps the failed attempt (and replays it for the same key).
        return declined.status, declined.body()
    return render(call, pi)


def create_customer(call: Call) -> tuple[int, dict[str, Any]]:
    return render(call, saved_cards.create_customer(call.sb, call.account, call.params))


def create_refund(call: Call) -> tuple[int, dict[str, Any]]:
    refund = refunds.create_refund(call.sb, call.account, call.params,
                                   request_id=call.request_id,
                                   idempotency_key=call.idempotency_key)
    return render(call, refund)


def list_refunds(call: Call) -> tuple[int, dict[str, Any]]:
    ch, pi = call.params.get("charge"), call.params.get("payment_intent")
    return list_objects(
        call, "refund", "/v1/refunds", {"charge": SCALAR, "payment_intent": SCALAR},
        lambda r: (not ch or r["charge"] == ch) and (not pi or r["payment_intent"] == pi))


def list_events(call: Call) -> tuple[int, dict[str, Any]]:
    t = call.params.get("type")
    return list_objects(call, "event", "/v1/events",
                        {"type": SCALAR, "types": STRINGS, "delivery_success": SCALAR},
                        lambda e: not t or e["type"] == t)


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_post("/v1/checkout/sessions", api(create_session))
    r.add_get("/v1/checkout/sessions", api(list_sessions))
    r.add_get("/v1/checkout/sessions/{id}", api(retrieve_session))
    r.add_post("/v1/checkout/sessions/{id}/expire", api(expire_session))
    r.add_get("/v1/checkout/sessions/{id}/line_items", api(session_line_items))
    r.add_post("/v1/payment_intents", api(create_intent))
    r.add_get("/v1/payment_intents/{id}", api(retrieve_intent))
    r.add_post("/v1/customers", api(create_customer))
    r.add_get("/v1/customers/{id}", api(_retrieve("customer", "customer")))
    r.add_get("/v1/setup_intents/{id}", api(_retrieve("setup_intent", "intent")))
    r.add_get("/v1/payment_methods/{id}", api(_retrieve("payment_method", "payment_method")))
    r.add_post("/v1/payment_intents/{id}/capture", api(capture_intent))
    r.add_post("/v1/payment_intents/{id}/cancel", api(cancel_intent))
    r.add_get("/v1/charges/{id}", api(_retrieve("charge", "charge")))
    r.add_post("/v1/refunds", api(create_refund))
    r.add_get("/v1/refunds", api(list_refunds))
    r.add_get("/v1/refunds/{id}", api(_retrieve("refund", "refund")))
    r.add_get("/v1/events", api(list_events))
    r.add_get("/v1/events/{id}", api(_retrieve("event", "id")))
