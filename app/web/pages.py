"""The HTML pages: the two panels, the checkout return page and the demo."""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web

from app.billing.gates import GateStatus, PolicyKind
from app.billing.no_show_view import NO_SHOW_WORDS
from app.billing.serialisers import as_json, request_view
from app.billing.statuses import (
    CARD_LABELS,
    DECLINE_REASONS,
    DEFAULT_DECLINE_REASON,
    ONWARD_LABELS,
    PROBLEM_LABELS,
    REQUEST_ENDED_UNPAID,
    REQUEST_HELD,
    REQUEST_LABELS,
    REQUEST_OPEN,
    REQUEST_PAID,
    CardStatus,
    CheckoutProblem,
    ConsultStatus,
    Onward,
    RequestStatus,
)
from app.connect.routing import NO_ACCOUNT, route_for
from app.errors import DomainError
from app.i18n import SUPPORTED, get_translator, negotiate, negotiate_locale
from app.i18n import format_money as _format_money
from app.i18n.js_strings import JS_STRINGS
from app.keys import CONSULTS, DB, PAYMENTS, SERVICES, SETTINGS
from app.models import Clinic
from app.payments.amount_limits import limits_view

routes = web.RouteTableDef()


# The language switch offers each language in its own name.
LANGUAGE_NAMES = {"nb": "Norsk bokmål", "en": "English", "sv": "Svenska"}


def panel_lang(request: web.Request, consult_language: str) -> str:
    """The panel's language: the reader's own choice (``?lang=``), else their browser's, else the consult's.

    A browser that names only languages we do not have gets English; no
    Accept-Language at all gets the language the host platform gave the consult.
    """
    chosen = request.query.get("lang", "")
    if 0 < len(chosen) <= 16 and chosen.replace("_", "-").split("-", 1)[0].lower() in SUPPORTED:
        return negotiate_locale(chosen)
    header = request.headers.get("Accept-Language")
    return negotiate_locale(header) if header else consult_language


def language_links(lang: str) -> list[dict[str, Any]]:
    """The switch's entries: each language in its own name, the current one marked."""
    current = negotiate(lang)
    return [{"code": code, "name": name, "current": code == current} for code, name in LANGUAGE_NAMES.items()]


def context(lang: str, **extra: Any) -> dict[str, Any]:
    t = get_translator(lang)
    return {
        "_": t.gettext,
        "ngettext": t.ngettext,
        "lang": lang,
        "dir": "ltr",
        "static_url": "/static",
        "format_money": lambda minor, currency: _format_money(minor, currency, lang),
        "i18n_js": {s: t.gettext(s) for s in JS_STRINGS},
        **extra,
    }


def panel_statuses(role: str = "clinician") -> dict[str, Any]:
    """The statuses as the panels' scripts read them from their config: never copied there.

    Each enum by member name (``statuses.request.CHECKOUT_OPEN``), the sets the
    panels decide by, and the labels as msgids for the i18n block: the request
    statuses, and what ``role`` reads of a checkout's problem and of an onward amount.
    """
    return {
        "problem": {s.name: s.value for s in CheckoutProblem},
        "onward": {s.name: s.value for s in Onward},
        "problem_labels": {s.value: PROBLEM_LABELS[role][s] for s in CheckoutProblem},
        "onward_labels": {s.value: ONWARD_LABELS[role][s] for s in Onward},
        "decline_reasons": {**DECLINE_REASONS, "": DEFAULT_DECLINE_REASON},
        "request": {s.name: s.value for s in RequestStatus},
        "card": {s.name: s.value for s in CardStatus},
        "consult": {s.name: s.value for s in ConsultStatus},
        "open": sorted(REQUEST_OPEN),
        "paid": sorted(REQUEST_PAID),
        "ended_unpaid": sorted(REQUEST_ENDED_UNPAID),
        "held": sorted(REQUEST_HELD),
        # A card on file the patient saved: charged off-session from the same dialog as a capture.
        "saved": [str(RequestStatus.CARD_SAVED)],
        "labels": {s.value: REQUEST_LABELS[s] for s in RequestStatus},
        "card_labels": {s.value: CARD_LABELS[s] for s in CardStatus},
        # The waiting room: a gate's status and a policy's kind (app/billing/gates.py).
        "gate": {s.name: s.value for s in GateStatus},
        "policy": {s.name: s.value for s in PolicyKind},
        # A no-show's words by where its fee went (app/billing/no_show_view.py).
        "no_show": NO_SHOW_WORDS,
    }


def error_page(request: web.Request, lang: str, status: int, title: str, message: str) -> web.Response:
    t = get_translator(lang)
    return aiohttp_jinja2.render_template(
        "error.html",
        request,
        context(lang, status=status, title=t.gettext(title), message=t.gettext(message)),
        status=status,
    )


def _frame_headers(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
    # The panels live inside the host platform's page: allow framing by it.
    ancestors = request.app[SETTINGS].frame_ancestors
    response.headers["Content-Security-Policy"] = (
        f"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src 'self' ws: wss:; frame-ancestors {ancestors}; base-uri 'none'; form-action 'self'"
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@routes.get("/join/{token}")
async def join(request: web.Request) -> web.StreamResponse:
    lang = negotiate(request.headers.get("Accept-Language"))
    token = request.match_info["token"]
    try:
        who = await request.app[CONSULTS].participant(token)
    except DomainError as e:
        # A link of a consult that is over shows what it left: the receipts, never an error code.
        ended = await request.app[CONSULTS].after_end(token)
        if ended is not None:
            response = aiohttp_jinja2.render_template(
                "consult_ended.html", request,
                context(ended.consult.language, role=ended.role, requests=ended.requests, no_show=ended.no_show,
                        consult=ended.consult),
            )
            return _frame_headers(request, response)
        return _frame_headers(request, error_page(request, lang, 401, "Payment", e.message))
    lang = panel_lang(request, who.consult.language)
    state = await request.app[CONSULTS].state(who)
    can_request, blocked, limits = True, None, None
    # The patient chooses Vipps or card when the clinic takes Vipps (an active merchant, switched on).
    vipps = who.role == "patient" and await request.app[SERVICES].vipps_payments.offered(who.consult.clinic_id)
    if who.role == "clinician":
        # Told before typing an amount, not after: the same routing the request itself uses.
        async with request.app[DB].read() as s:
            clinic = await s.get(Clinic, who.consult.clinic_id)
            route = await route_for(s, clinic, who.consult.clinician_id) if clinic is not None else None
        limits = limits_view(clinic)
        if route is None or route.account is None:
            can_request = False
            blocked = get_translator(lang).gettext(route.reason if route and route.reason else NO_ACCOUNT)
    template = "panel_clinician.html" if who.role == "clinician" else "panel_patient.html"
    response = aiohttp_jinja2.render_template(
        template,
        request,
        context(
            lang,
            token=token,
            consult=as_json(state.consult),
            # The patient's gate before the call: the waiting room shows it before the socket connects.
            gate=as_json(state.me).get("gate"),
            socket_url="",
            socket_path="/socket.io/",
            can_request=can_request,
            blocked_reason=blocked,
            limits=limits,
            statuses=panel_statuses(who.role),
            languages=language_links(lang),
            vipps=vipps,
        ),
    )
    return _frame_headers(request, response)


@routes.get("/checkout/return")
async def checkout_return(request: web.Request) -> web.StreamResponse:
    """After Stripe Checkout. The outcome comes from our own look-up, never from the URL.

    Stripe fills in ``session_id`` only on the way back from a payment; without
    it the patient came by the cancel link, and the request is made payable again.
    """
    lang = negotiate(request.headers.get("Accept-Language"))
    request_id = request.query.get("request_id", "")
    payments = request.app[PAYMENTS]
    pr = None
    if 0 < len(request_id) <= 100:
        left = "session_id" not in request.query
        pr = await (payments.left_checkout(request_id) if left else payments.refresh(request_id))
    outcome = "unknown"
    view = None
    if pr is not None:
        view = request_view(pr, request.app[SETTINGS].public_url)
        async with request.app[DB].read() as s:
            from app.models import Consult

            consult = await s.get(Consult, pr.consult_id)
        lang = panel_lang(request, consult.language) if consult else lang
        outcome = {
            "paid": "paid",
            "refunded": "paid",
            "partially_refunded": "paid",
            "requested": "left" if pr.problem == CheckoutProblem.LEFT else "pending",
            "checkout_open": "pending",
            "cancelled": "cancelled",
            "expired": "expired",
            "failed": "failed",
            # A card hold (docs/rules.md, rule H1): authorised, charged after the call.
            "authorised": "authorised",
            "released": "cancelled",
            # A card on file (rule H6): saved, charged after the call.
            "card_saved": "card_saved",
        }.get(pr.status, "unknown")
    response = aiohttp_jinja2.render_template(
        "checkout_return.html", request, context(lang, outcome=outcome, request=view)
    )
    return _frame_headers(request, response)
