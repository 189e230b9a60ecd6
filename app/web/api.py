"""REST for host platforms: consults and payment requests (contract v1)."""

from __future__ import annotations

from aiohttp import web

from app import inputs
from app.accounts.organisations import Caller
from app.billing.serialisers import RequestView, as_json
from app.commands import CaptureBody, CreateConsult, RefundBody
from app.errors import Forbidden, Invalid, NotFound, Unauthenticated
from app.keys import CONSULTS, DB, ORGANISATIONS, PAYMENTS, REFUNDS, SETTINGS
from app.models import Consult, PaymentRequest
from app.payments.hold_service import HoldScope
from app.payments.refunds import Actor, Scope
from app.web.middleware import read_json
from app.web.openapi import SPEC

routes = web.RouteTableDef()


async def caller(request: web.Request) -> Caller:
    header = request.headers.get("Authorization")
    # Headers that are not UTF-8 arrive with surrogates, which no hash can encode; keys are ASCII.
    if header is not None and not header.isascii():
        raise Unauthenticated("unauthenticated", "The API key is not valid.")
    return await request.app[ORGANISATIONS].authenticate(header)


def idempotency_key(request: web.Request) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is not None and (not key.isascii() or not key.isprintable() or not 0 < len(key) <= 255):
        raise Invalid("invalid_field", "Idempotency-Key must be at most 255 printable ASCII characters",
                      field="Idempotency-Key")
    return key


def _id(request: web.Request, name: str) -> str:
    value = request.match_info[name]
    if len(value) > 100:
        raise NotFound("not_found", "Not found.")
    return value


@routes.post("/api/v1/consults")
async def create_consult(request: web.Request) -> web.Response:
    who = await caller(request)
    # The document's own schema (the OpenAPI body is built from it), then its command.
    command = CreateConsult.build(inputs.CONSULT.parse(await read_json(request)))
    return web.json_response(as_json(await request.app[CONSULTS].create(who.organisation_id, command)), status=201)


@routes.get("/api/v1/consults/{consult_id}")
async def get_consult(request: web.Request) -> web.Response:
    who = await caller(request)
    return web.json_response(as_json(await request.app[CONSULTS].get(who.organisation_id, _id(request, "consult_id"))))


@routes.post("/api/v1/consults/{consult_id}/end")
async def end_consult(request: web.Request) -> web.Response:
    who = await caller(request)
    return web.json_response(as_json(await request.app[CONSULTS].end(who.organisation_id, _id(request, "consult_id"))))


@routes.post("/api/v1/consults/{consult_id}/patients/{patient_id}/admit")
async def admit_patient(request: web.Request) -> web.Response:
    """The host let the patient into the call: they have joined (docs/rules.md, rule H4)."""
    who = await caller(request)
    view = await request.app[CONSULTS].admit(who.organisation_id, _id(request, "consult_id"),
                                             _id(request, "patient_id"))
    return web.json_response(as_json(view))


@routes.get("/api/v1/payment-requests/{request_id}")
async def get_payment_request(request: web.Request) -> web.Response:
    who = await caller(request)
    async with request.app[DB].read() as s:
        r = await s.get(PaymentRequest, _id(request, "request_id"))
        consult = await s.get(Consult, r.consult_id) if r else None
    if r is None or consult is None:
        raise NotFound("request_not_found", "No such payment request.")
    if consult.organisation_id != who.organisation_id:
        raise Forbidden("forbidden", "That payment request belongs to another organisation.")
    return web.json_response(as_json(RequestView.from_row(r, request.app[SETTINGS].public_url)))


@routes.post("/api/v1/payment-requests/{request_id}/refunds")
async def refund_payment_request(request: web.Request) -> web.Response:
    who = await caller(request)
    # A misspelt field is refused, never read as "no amount" (which refunds everything).
    command = RefundBody.build(inputs.REFUND.parse(await read_json(request), empty=True)).command(
        _id(request, "request_id"), idempotency_key(request)
    )
    result = await request.app[REFUNDS].refund(
        command.request_id,
        command.amount,
        actor=Actor("api", who.organisation_id),
        source="api",
        idempotency_key=command.idempotency_key,
        scope=Scope(who.organisation_id),
    )
    return web.json_response(as_json(result.refund), status=201)


@routes.post("/api/v1/payment-requests/{request_id}/capture")
async def capture_payment_request(request: web.Request) -> web.Response:
    """Capture up to an authorised card hold, during or after the call (docs/rules.md, rule H2)."""
    who = await caller(request)
    body = CaptureBody.build(inputs.CAPTURE.parse(await read_json(request)))
    view = await request.app[PAYMENTS].capture_hold(_id(request, "request_id"), body.amount, body.description,
                                                    HoldScope(who.organisation_id, actor_id=who.organisation_id))
    return web.json_response(as_json(view))


@routes.post("/api/v1/payment-requests/{request_id}/charge")
async def charge_payment_request(request: web.Request) -> web.Response:
    """Charge a saved card on file off-session, during or after the call (docs/rules.md, rule H6)."""
    who = await caller(request)
    body = CaptureBody.build(inputs.CAPTURE.parse(await read_json(request)))
    view = await request.app[PAYMENTS].charge_saved(_id(request, "request_id"), body.amount, body.description,
                                                    HoldScope(who.organisation_id, actor_id=who.organisation_id))
    return web.json_response(as_json(view))


@routes.post("/api/v1/payment-requests/{request_id}/release")
async def release_payment_request(request: web.Request) -> web.Response:
    """Release an authorised card hold without capturing it (docs/rules.md, rule H3)."""
    who = await caller(request)
    view = await request.app[PAYMENTS].release_hold(_id(request, "request_id"),
                                                    HoldScope(who.organisation_id, actor_id=who.organisation_id))
    return web.json_response(as_json(view))


@routes.get("/api/v1/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    return web.json_response(SPEC)
