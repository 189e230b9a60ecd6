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

from aiohttp import web
from sqlalchemy import select

from app.admin.auth import AdminUser, render, require, translator
from app.backoffice.report_queries import Scope, parse_earnings, parse_settlement
from app.backoffice.reports import Reports, earnings_csv
from app.errors import Invalid
from app.i18n import format_money, to_minor
from app.keys import DB
from app.models import Book

routes = web.RouteTableDef()
ADMINS = ("organisation_admin", "clinic_admin")
PAYMENT_TYPE_LABELS = {"stripe": "In the call (Stripe)", "card": "Card (MediPay)", "vipps": "Vipps (MediPay)",
                       "invoice": "Invoice (MediPay)", "manual": "Registered by hand"}
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
        q = parse_settlement({k: v for k, v in values.items() if v})
        if request.query.get("format") == "csv":
            chunks = [chunk async for chunk in reports.settlement_csv(_scope(request), q)]
            return _csv_response(b"".join(chunks), "settlement")
        report = await reports.settlement(_scope(request), q)
    except Invalid as e:
        error = t.gettext(e.message)
    chart = []
    if report:
        chart = bars([(t.gettext(PAYMENT_TYPE_LABELS.get(row["payment_type"], row["payment_type"]))
                       + f" ({row['currency']})", row["amount"]) for row in report["by_payment_type"]])
    kept = urlencode({k: v for k, v in values.items() if v})
    return render(
        request, "admin/report_settlement.html", status_code=422 if error else 200, report=report, error=error,
        values=values, chart=chart, csv_url="/admin/reports/settlement?" + (kept + "&" if kept else "") + "format=csv",
        payment_type_labels=PAYMENT_TYPE_LABELS,
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
        q = parse_earnings(query)
        report = await Reports(request.app[DB]).medipay_earnings(_scope(request), q)
        if request.query.get("format") == "csv":
            return _csv_response(earnings_csv(report), "medipay-earnings")
    except Invalid as e:
        error = t.gettext(e.message)
    chart = []
    if report:
        chart = bars([(t.gettext("Patient share"), report["patient_share"]),
                      (t.gettext("Admin fees"), report["admin_fees"]),
                      (t.gettext("MediPay's cost"), report["medipay_cost"]),
                      (t.gettext("Net"), report["net"])])
    kept = urlencode({k: v for k, v in values.items() if v})
    return render(
        request, "admin/report_earnings.html", status_code=422 if error else 200, report=report, error=error,
        values=values, chart=chart,
        csv_url="/admin/reports/medipay-earnings?" + (kept + "&" if kept else "") + "format=csv",
        nok=lambda minor: format_money(minor, "NOK", t.lang), **await _options(request),
    )
