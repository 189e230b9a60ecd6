"""The ``/consult`` namespace: who may connect, and what each role may send.

Every handler parses its payload into its typed command (``app/commands.py``,
checked by the schema of ``app/inputs.py``: unknown fields, wrong types and
out-of-range values are refused), calls one service method with it, and
answers with an ack made from the view the service returns
(``app/billing/serialisers.py``): ``{"ok": true, …}`` or
``{"ok": false, "error": {"code", "message", "field"?}}``. No
event is dropped silently and no input crashes a handler.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import is_dataclass
from typing import Any

import socketio
from aiohttp import web

from app.billing.card_views import CardSummary
from app.billing.serialisers import as_json
from app.collection.fallback import MediPayFallback
from app.commands import (
    CancelRequest,
    CaptureHold,
    MarkPresent,
    OpenCheckout,
    PayWithVipps,
    PreviewBillCard,
    RefundPayment,
    ReleaseHold,
    RequestPayment,
    SendBillCard,
)
from app.consults.notifier import NAMESPACE, clinician_room, consult_room, patient_room
from app.consults.participant import Participant
from app.consults.service import ConsultService
from app.errors import DomainError
from app.i18n import error_message, get_translator, negotiate, negotiate_locale
from app.keys import CONSULTS, PAYMENTS, REFUNDS, SERVICES
from app.payments.amount_limits import limits_view
from app.payments.refunds import RefundService
from app.payments.requests import PaymentService
from app.realtime.limits import RateLimiter, loggable
from app.realtime.overload import LOAD_GATE, retry_after_seconds
from app.realtime.server import ClientEvent

log = logging.getLogger(__name__)
# Names python-socketio gives the server's own events; never accepted from a client.
RESERVED_EVENTS = frozenset({"connect", "disconnect", "connect_error", "message"})
# Connects reading their consult's state at once; the pool holds 100 connections (app/db.py).
JOIN_CONCURRENCY = 16


class ConsultNamespace(socketio.AsyncNamespace):
    def __init__(self, app: web.Application) -> None:
        super().__init__(NAMESPACE)
        # The services are made at start-up, after the namespace is registered.
        self._app = app
        self.limiter = RateLimiter(rate_per_second=2.0, burst=10)
        self._joins = asyncio.Semaphore(JOIN_CONCURRENCY)

    @property
    def consults(self) -> ConsultService:
        return self._app[CONSULTS]

    @property
    def payments(self) -> PaymentService:
        return self._app[PAYMENTS]

    @property
    def refunds(self) -> RefundService:
        return self._app[REFUNDS]

    @property
    def fallback(self) -> MediPayFallback:
        return self._app[SERVICES].fallback

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        token = auth.get("token") if isinstance(auth, dict) else None
        try:
            claims = self.consults.claims(token)
            # The rooms first, the state read after: whatever changes meanwhile is pushed, so a
            # reload or reconnect misses nothing. A refused connect leaves its rooms again.
            await self.enter_room(sid, consult_room(claims.consult_id))
            if claims.role == "clinician":
                await self.enter_room(sid, clinician_room(claims.consult_id))
            else:
                await self.enter_room(sid, patient_room(claims.consult_id, claims.participant_id))
            # The consult still running, its state and its cards in one read: a reconnect storm makes
            # thousands, which take their turn here rather than every pooled connection (and then
            # time out waiting for one, 30 s later, with requests and webhooks waiting behind them).
            async with self._joins:
                who, state, bill_cards, limits = await self.consults.join(claims)
        except DomainError as e:
            # No consult to take the language from: the panel's own, if it sent one. python-socketio's
            # own ConnectionRefusedError: its message is what the panel hears (the built-in one's is not).
            raise socketio.exceptions.ConnectionRefusedError(
                get_translator(socket_lang(auth, "nb")).gettext(e.message)) from None
        except Exception:
            # Never a connect left without an answer: the panel hears it failed and may try again.
            log.exception("connect failed for %s", sid)
            raise socketio.exceptions.ConnectionRefusedError(
                get_translator(socket_lang(auth, "nb")).gettext("Something went wrong. Please try again.")
            ) from None
        # The panel's language (the patient's own choice, or their browser's) for what this socket is told.
        await self.save_session(sid, {"token": token, "role": who.role, "id": who.id, "consult_id": who.consult.id,
                                      "lang": socket_lang(auth, who.consult.language)})
        state = as_json(state)
        # The bill cards of the call and their MediPay state (a patient sees only their own).
        state["cards"] = [as_json(CardSummary.from_row(card)) for card in bill_cards]
        if who.role == "clinician":
            # The clinic's maximum and confirmation threshold: the panel asks before it sends.
            state["limits"] = limits_view(limits)
        # To this socket, held by this process: never through Redis to every other process as well.
        await self.emit("consult:state", state, to=sid, ignore_queue=True)

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        self.limiter.forget(sid)

    async def on_payment_request(self, sid: str, data: Any = None, *_: Any) -> dict[str, Any]:
        if isinstance(data, dict) and data.get("patient_ids") is not None:
            # Several patients of a group consult: {"ok": true, "requests": [...]}, and "request" with one.
            return await self._handle(sid, lambda who: self._request_group(who, data), None)
        return await self._handle(sid, lambda who: self.payments.request(who, RequestPayment.parse(data)), "request")

    async def _request_group(self, who: Participant, data: dict[str, Any]) -> dict[str, Any]:
        made = [as_json(view) for view in
                (await self.payments.request_group(who, RequestPayment.parse(data))).requests]
        return {"requests": made, **({"request": made[0]} if len(made) == 1 else {})}

    async def on_payment_cancel(self, sid: str, data: Any = None, *_: Any) -> dict[str, Any]:
        return await self._handle(sid, lambda who: self.payments.cancel(who, CancelRequest.parse(data)), "request")

    async def on_payment_checkout(self, sid: str, data: Any = None, *_: Any) -> dict[str, Any]:
        return await self._handle(sid, lambda who: self.payments.checkout(who, OpenCheckout.parse(data)), "url")

    async def on_payment_vipps(self, sid: str, data: Any = None, *_: Any) -> dict[str, Any]:
        # The patient pays with Vipps; answers {"ok": true, "vipps": {request_id, status, flow, url, reference}}.
        async def pay(who: Participant) -> Any:
            token = (await self.get_session(sid)).get("token")
            # Vipps sends a phone browser back to the patient's own panel in the call.
            back = f"{self._app[SERVICES].settings.public_url}/join/{token}"
            return await self.payments.pay_with_vipps(who, PayWithVipps.parse(data), return_url=back)

        return await self._handle(sid, pay, "vipps")

    async def on_payment_capture(self, sid: str, data: Any = None, *_: Any) -> dict[str, Any]:
        # A card hold captured (up to its amount): answers {"ok": true, "request": {…}}, now ``paid``.
        async def capture(who: Participant) -> Any:
            cmd = CaptureHold.parse(data)
            return await self.payments.capture_in_call(who, cmd.request_id, cmd.amount, cmd.description,
                                                       cmd.idempotency_key)

        return await self._handle(sid, capture, "request")

    async def on_payment_charge_saved(self, sid: str, data: Any = None, *_: Any) -> dict[str, Any]:
        # A saved card on file charged off-session: answers {"ok": true, "request": {…}}, now ``paid``.
        async def charge(who: Participant) -> Any:
            cmd = CaptureHold.parse(data)
            return await self.payments.charge_in_call(who, cmd.request_id, cmd.amount, cmd.description,
                                                      cmd.idempotency_key)

        return await self._handle(sid, charge, "request")

    async def on_payment_release(self, sid: str, data: Any = None, *_: Any) -> dict[str, Any]:
        # A card hold released without a capture: answers {"ok": true, "request": {…}}, now ``released``.
        return await self._handle(
            sid, lambda who: self.payments.release_in_call(who, ReleaseHold.parse(data).request_id), "request"
        )

    async def on_patient_present(self, sid: str, data: Any = None, *_: Any) -> dict[str, Any]:
        # The patient's gate opened while their panel was connected: they are in the call now.
        # Answers {"ok": true, "joined_at": "…"}; gate_closed while it is not open (docs/rules.md, rule H4).
        async def present(who: Participant) -> Any:
            MarkPresent.parse(data, empty=True)
            return {"joined_at": await self.consults.present(who)}

        return await self._handle(sid, present, None)

    async def on_payment_refund(self, sid: str, data: Any = None, *_: Any) -> dict[str, Any]:
        # Answers {"ok": true, "refund": {…}, "request": {…}}.
        return await self._handle(sid, lambda who: self.refunds.refund_in_call(who, RefundPayment.parse(data)), None)

    async def on_bill_card_send(self, sid: str, data: Any = None, *_: Any) -> dict[str, Any]:
        # Send what the patient did not pay in the call on to MediPay (SMS → card, Vipps or invoice).
        return await self._handle(
            sid, lambda who: self.fallback.send(who, SendBillCard.parse(data, empty=True)), None
        )

    async def on_bill_card_preview(self, sid: str, data: Any = None, *_: Any) -> dict[str, Any]:
        # What the patient would be asked by SMS, before anything is sent: the clinician confirms it.
        return await self._handle(
            sid, lambda who: self.fallback.preview(who, PreviewBillCard.parse(data, empty=True)), None
        )

    async def trigger_event(self, event: str, *args: Any) -> Any:
        if not isinstance(event, ClientEvent):
            # The server's own connect and disconnect.
            return await super().trigger_event(event, *args)
        sid = args[0] if args else ""
        lang = await self._lang(sid)
        gate = self._app[LOAD_GATE]
        # Each handler's events are measured apart (what one costs, how fast they finish); the
        # names a client makes up share one entry, so they cannot grow the gate's table.
        kind = event if self._handles(event) else ""
        # Past the load bound a new event is answered at once, not queued behind the backlog.
        retry_ms = gate.refuse(kind)
        if retry_ms is not None:
            busy = _error("busy", "The service is busy. Please try again in a moment.", lang)
            busy["error"].update(retry_after=retry_after_seconds(retry_ms), retry_after_ms=retry_ms)
            return busy
        with gate.working(event=kind):
            return await self._dispatch(event, sid, lang, args)

    async def _dispatch(self, event: ClientEvent, sid: str, lang: str, args: tuple[Any, ...]) -> Any:
        # Every event a client sends counts, whatever its name: unknown names and
        # refused ones cost the server work too.
        if not self.limiter.allow(sid):
            return _error("rate_limited", "Too many requests. Please wait a moment.", lang)
        if event in RESERVED_EVENTS:
            # A client's "disconnect" would clear its own rate limit; its "connect" would
            # run the connect handler again with whatever auth it sends.
            log.info("reserved event %s refused from %s", loggable(event), sid)
            return _error("reserved_event", "Unknown event.", lang)
        # python-socketio maps "payment:request" to on_payment:request; route the
        # contract's colon names to the handlers, and answer unknown events.
        if self._handles(event):
            return await super().trigger_event(event.replace(":", "_"), *args)
        log.info("unknown event %s from %s", loggable(event), sid)
        return _error("unknown_event", "Unknown event.", lang)

    def _handles(self, event: str) -> bool:
        """Whether a client's event has a handler (the contract's colon names; never a reserved one)."""
        name = event.replace(":", "_")
        return event not in RESERVED_EVENTS and name.isidentifier() and hasattr(self, f"on_{name}")

    async def _lang(self, sid: str) -> str:
        """The language of the socket's consult (saved at connect), for acks refused before a handler runs."""
        try:
            session = await self.get_session(sid)
        except KeyError:
            return "nb"
        lang = session.get("lang")
        return lang if isinstance(lang, str) else "nb"

    async def _handle(
        self, sid: str, call: Callable[[Participant], Awaitable[Any]], key: str | None
    ) -> dict[str, Any]:
        """Ack ``{"ok": true, key: result}``; with no key, the result's own fields. Views become JSON here."""
        lang = "nb"
        try:
            session = await self.get_session(sid)
            # The token is checked again on every event: consults end, tokens expire.
            who = await self.consults.participant(session.get("token"))
            lang = socket_lang(session, who.consult.language)
            result = await call(who)
        except DomainError as e:
            return _error(e.code, e.message, lang, e.params, field=e.params.get("field"))
        except Exception:
            log.exception("handler failed for %s", sid)
            return _error("internal_error", "Something went wrong. Please try again.", lang)
        if is_dataclass(result):
            result = as_json(result)
        return {"ok": True, key: result} if key is not None else {"ok": True, **result}


def socket_lang(data: Any, default: str) -> str:
    """The ``lang`` a panel connected with (or kept in its session), if we have it; else ``default``."""
    lang = data.get("lang") if isinstance(data, dict) else None
    if isinstance(lang, str) and 0 < len(lang) <= 16 and negotiate(lang) == lang.split("-", 1)[0].lower():
        return negotiate_locale(lang)
    return default


def _error(
    code: str, message: str, lang: str, params: Mapping[str, object] | None = None, *, field: object = None
) -> dict[str, Any]:
    error = {"code": code, "message": error_message(message, params or {}, lang)}
    if isinstance(field, str):
        error["field"] = field  # which field of the payload was refused
    return {"ok": False, "error": error}
