"""REST for host and accounting systems: bill cards (contract v1)."""

from __future__ import annotations

from aiohttp import web

from app import inputs
from app.billing.card_input import parse_query
from app.billing.card_service import BillCards
from app.billing.serialisers import as_json
from app.errors import NotFound
from app.keys import CLOCK, DB, MEDIPAY_EXPORTER
from app.web.api import caller
from app.web.middleware import read_json

routes = web.RouteTableDef()


def _cards(request: web.Request) -> BillCards:
    return BillCards(request.app[DB], clock=request.app[CLOCK])


def _card_id(request: web.Request) -> str:
    value = request.match_info["card_id"]
    if len(value) > 100:
        raise NotFound("card_not_found", "No such bill card.")
    return value


@routes.get("/api/v1/bill-cards")
async def list_cards(request: web.Request) -> web.Response:
    who = await caller(request)
    return web.json_response(await _cards(request).list(who.organisation_id, parse_query(request.query)))


@routes.post("/api/v1/bill-cards")
async def create_card(request: web.Request) -> web.Response:
    who = await caller(request)
    body = inputs.BILL_CARD.parse(await read_json(request))
    card = await _cards(request).create(who.organisation_id, body, actor_id=who.organisation_id)
    return web.json_response(card, status=201)


@routes.get("/api/v1/bill-cards/{card_id}")
async def get_card(request: web.Request) -> web.Response:
    who = await caller(request)
    return web.json_response(await _cards(request).get(who.organisation_id, _card_id(request)))


@routes.patch("/api/v1/bill-cards/{card_id}")
async def change_card(request: web.Request) -> web.Response:
    who = await caller(request)
    body = inputs.BILL_CARD_CHANGE.parse(await read_json(request))
    card = await _cards(request).change(who.organisation_id, _card_id(request), body, actor_id=who.organisation_id)
    return web.json_response(card)


@routes.post("/api/v1/bill-cards/{card_id}/send-to-payment")
async def send_to_payment(request: web.Request) -> web.Response:
    who = await caller(request)
    card = await request.app[MEDIPAY_EXPORTER].send_to_payment(
        who.organisation_id, _card_id(request), actor_id=who.organisation_id
    )
    return web.json_response(as_json(card))
