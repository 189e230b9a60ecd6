"""Reports: the settlement report and MediPay earnings, as pages with filters, a table, a chart and CSV.

The numbers come from ``app.backoffice.reports``, the same service as the REST
reports. An organisation admin sees every clinic; a clinic admin only their
own (the ``unit`` filter cannot reach past it). The chart is a server-drawn
SVG of the table's numbers; the table carries the same numbers for screen
readers.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy import select

from app.admin.auth import AdminUser, render, require, translator
from app.admin.labels import PAYMENT_TYPES, Words
from app.backoffice.exports import (
    XLSX_TYPE,
    Reader,
    earnings_local_csv,
    earnings_xlsx,
    settlement_local_csv,
    settlement_xlsx,
)
from app.backoffice.report_queries import Scope, parse_earnings, parse_settlement
from app.backoffice.reports import Reports, earnings_csv
from app.errors import Invalid
from app.i18n import clinic_zone, format_money, to_minor
from app.keys import DB
from app.models import Book

routes = web.RouteTableDef()
ADMINS = ("organisation_admin", "clinic_admin")
PAYMENT_TYPE_LABELS = PAYMENT_TYPES
SETTLEMENT_FIELDS = ("exported", "unit", "book_id", "basis_type", "payment_type", "from", "to")
EARNINGS_FIELDS = ("from", "to", "price_per_card", "price_percent", "unit", "book_id")


def _scope(request: web.Request) -> Scope:
    user: AdminUser = request["user"]
    if user.role == "organisation_admin":
        return Scope(user.organisation_id)
    return Scope(user.organisation_id, frozenset(c.id for c in request["clinics"]))


def _values(request: web.Request, names: tuple[str, ...]) -> dict[str, str]:
    return {k: request.query.get(k, "").strip()[:100] for k in names}


async def _options(request: web.Request) -> dict[str, Any]:
    t = translator(request)
    user: AdminUser = request["user"]
    async with request.app[DB].read() as s:
        books = (await s.scalars(select(Book).where(Book.organisation_id == user.organisation_id)
                                 .order_by(Book.description))).all()
    return {
        "unit_options": [("", t.gettext("All clinics"))] + [(c.id, c.name) for c in request["clinics"]],
        "book_options": [("", t.gettext("All books"))] + [(b.id, b.description) for b in books],
    }


def _csv_response(body: bytes, name: str) -> web.Response:
    return web.Response(body=body, content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}.csv"',
                                 "Cache-Control": "no-store"})


def _xlsx_response(body: bytes, name: str) -> web.Response:
    return web.Response(body=body, content_type=XLSX_TYPE,
                        headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"',
                                 "Cache-Control": "no-store"})


def _zone(request: web.Request, unit: str) -> ZoneInfo:
    """Dates are days of the chosen clinic, else of the page's zone (the organisation's default)."""
    return next((clinic_zone(c) for c in request["clinics"] if c.id == unit), request["zone"])


def _reader(request: web.Request) -> Reader:
    t = translator(request)
    clinics = request["clinics"]
    words = Words(t)
    return Reader(t=t, clinic_names={c.id: c.name for c in clinics},
                  clinic_zones={c.id: clinic_zone(c) for c in clinics}, default_zone=request["zone"],
                  payment_type=words.payment_type, hold_line=words.hold_line, collected_by=words.collected_by)


def _links(base: str, values: dict[str, str]) -> dict[str, str]:
    kept = urlencode({k: v for k, v in values.items() if v})
    prefix = base + "?" + (kept + "&" if kept else "")
    return {"csv_url": prefix + "format=csv", "csv_local_url": prefix + "format=csv-local",
            "xlsx_url": prefix + "format=xlsx"}


def bars(items: list[tuple[str, int]]) -> list[dict[str, Any]]:
    """Bar geometry for the SVG chart: each bar's width as a share of the largest (0–100)."""
    top = max((abs(v) for _, v in items), default=0)
    return [{"label": label, "value": value, "width": (abs(value) * 100 // top) if top else 0}
            for label, value in items]


@routes.get("/admin/reports/settlement")
@require(*ADMINS)
async def settlement_page(request: web.Request) -> web.StreamResponse:
    t = translator(request)
    values = _values(request, SETTLEMENT_FIELDS)
    reports = Reports(request.app[DB])
    report, error = None, None
    try:
        q = parse_settlement({k: v for k, v in values.items() if v}, _zone(request, values["unit"]))
        fmt = request.query.get("format")
        if fmt == "csv":
            chunks = [chunk async for chunk in reports.settlement_csv(_scope(request), q)]
            return _csv_response(b"".join(chunks), "settlement")
        if fmt == "csv-local":
            batches = reports.settlement_batches(_scope(request), q)
            body = await settlement_local_csv(batches, _reader(request), await reports.hold_lines(_scope(request), q))
            return _csv_response(body, "settlement")
        if fmt == "xlsx":
            batches = reports.settlement_batches(_scope(request), q)
            body = await settlement_xlsx(batches, _reader(request), await reports.hold_lines(_scope(request), q))
            return _xlsx_response(body, "settlement")
        report = await reports.settlement(_scope(request), q)
    except Invalid as e:
        error = t.gettext(e.message)
    chart = []
    if report:
        chart = bars([(t.gettext(PAYMENT_TYPE_LABELS.get(row["payment_type"], row["payment_type"]))
                       + f" ({row['currency']})", row["amount"]) for row in report["by_payment_type"]])
    return render(
        request, "admin/report_settlement.html", status_code=422 if error else 200, report=report, error=error,
        values=values, chart=chart, **_links("/admin/reports/settlement", values),
        zone=_zone(request, values["unit"]), payment_type_labels=PAYMENT_TYPE_LABELS,
        payment_type_options=[("", t.gettext("All"))] + [(k, t.gettext(v)) for k, v in PAYMENT_TYPE_LABELS.items()],
        **await _options(request),
    )


@routes.get("/admin/reports/medipay-earnings")
@require(*ADMINS)
async def earnings_page(request: web.Request) -> web.StreamResponse:
    t = translator(request)
    values = _values(request, EARNINGS_FIELDS)
    report, error = None, None
    try:
        query = {k: v for k, v in values.items() if v}
        if values["price_per_card"]:
            # Typed in kroner ("3,50"); the service takes minor units.
            try:
                query["price_per_card"] = str(to_minor(values["price_per_card"], "NOK"))
            except ValueError:
                raise Invalid("invalid_parameter", "Enter the price per card as a number, for example 3,50.",
                              field="price_per_card") from None
        q = parse_earnings(query, _zone(request, values["unit"]))
        report = await Reports(request.app[DB]).medipay_earnings(_scope(request), q)
        fmt = request.query.get("format")
        if fmt == "csv":
            return _csv_response(earnings_csv(report), "medipay-earnings")
        if fmt == "csv-local":
            return _csv_response(earnings_local_csv(report, _reader(request)), "medipay-earnings")
        if fmt == "xlsx":
            return _xlsx_response(earnings_xlsx(report, _reader(request)), "medipay-earnings")
    except Invalid as e:
        error = t.gettext(e.message)
    chart = []
    if report:
        chart = bars([(t.gettext("Patient share"), report["patient_share"]),
                      (t.gettext("Admin fees"), report["admin_fees"]),
                      (t.gettext("MediPay's cost"), report["medipay_cost"]),
                      (t.gettext("Net"), report["net"])])
    return render(
        request, "admin/report_earnings.html", status_code=422 if error else 200, report=report, error=error,
        values=values, chart=chart, **_links("/admin/reports/medipay-earnings", values),
        zone=_zone(request, values["unit"]),
        nok=lambda minor: format_money(minor, "NOK", t.lang), **await _options(request),
    )
