"""REST for accounting systems: the settlement report and MediPay earnings (JSON, or CSV with ``format=csv``)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from aiohttp import web

from app.accounts.clinic_settings import zone_for
from app.backoffice.report_queries import (
    EARNINGS_PARAMS,
    SETTLEMENT_PARAMS,
    Scope,
    output_format,
    parse_earnings,
    parse_settlement,
)
from app.backoffice.reports import Reports, earnings_csv
from app.errors import Invalid
from app.keys import DB
from app.web.api import caller

routes = web.RouteTableDef()


def _known(request: web.Request, allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(request.query) - set(allowed))
    if unknown:
        raise Invalid("invalid_parameter", f"unknown parameter: {unknown[0][:50]}", field=unknown[0][:50])


async def _zone(request: web.Request, organisation_id: str) -> ZoneInfo:
    """Dates are days of the clinic ``unit`` names, or of the organisation's default clinic."""
    return await zone_for(request.app[DB], organisation_id, request.query.get("unit"))


def _csv_headers(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}.csv"', "Cache-Control": "no-store"}


@routes.get("/api/v1/reports/settlement")
async def settlement(request: web.Request) -> web.StreamResponse:
    who = await caller(request)
    _known(request, SETTLEMENT_PARAMS)
    fmt = output_format(request.query)
    q = parse_settlement(request.query, await _zone(request, who.organisation_id))
    reports = Reports(request.app[DB])
    scope = Scope(who.organisation_id)
    if fmt == "json":
        return web.json_response(await reports.settlement(scope, q))
    rows = reports.settlement_csv(scope, q)
    first = await anext(rows)  # the filters are checked before the answer starts
    response = web.StreamResponse(headers=_csv_headers("settlement"))
    response.content_type = "text/csv"
    response.charset = "utf-8"
    await response.prepare(request)
    await response.write(first)
    async for chunk in rows:
        await response.write(chunk)
    await response.write_eof()
    return response


@routes.get("/api/v1/reports/medipay-earnings")
async def medipay_earnings(request: web.Request) -> web.Response:
    who = await caller(request)
    _known(request, EARNINGS_PARAMS)
    fmt = output_format(request.query)
    q = parse_earnings(request.query, await _zone(request, who.organisation_id))
    report = await Reports(request.app[DB]).medipay_earnings(Scope(who.organisation_id), q)
    if fmt == "json":
        return web.json_response(report)
    return web.Response(body=earnings_csv(report), content_type="text/csv", charset="utf-8",
                        headers=_csv_headers("medipay-earnings"))
