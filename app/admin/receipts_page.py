"""Receipts in the admin: the clinics' receipts and credit notes, and the seller details they print."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web
from sqlalchemy import select

from app import validation as v
from app.admin.auth import flash, lang_of, load_clinic_for, render, require, translator
from app.errors import DomainError
from app.keys import CLOCK, DB, SETTINGS
from app.models import Clinic, Receipt
from app.receipts.documents import for_clinics, issued_local, method_label, registration_label, service_text
from app.receipts.seller import Sellers

routes = web.RouteTableDef()
PAGE_SIZE = 50
ROLES = ("organisation_admin", "clinic_admin")


@dataclass(frozen=True)
class Row:
    reference: str
    kind: str
    clinic: str
    issued: str
    description: str
    amount: int
    currency: str
    method: str  # the code (card, vipps, card_hold)
    method_text: str  # in the reader's language
    url: str
    original: str | None


@routes.get("/admin/receipts")
@require(*ROLES)
async def receipts(request: web.Request) -> web.Response:
    clinics: list[Clinic] = request["clinics"]
    by_id = {c.id: c for c in clinics}
    chosen = request.query.get("clinic") or ""
    clinic_ids = [chosen] if chosen in by_id else list(by_id)
    page = v.page(request.query.get("page"))
    lang = lang_of(request)
    t = translator(request)
    base = request.app[SETTINGS].public_url
    async with request.app[DB].read() as s:
        found = await for_clinics(s, clinic_ids, page=page, page_size=PAGE_SIZE)
        originals = {r.id: r.reference for r in await s.scalars(
            select(Receipt).where(Receipt.id.in_([f.original_receipt_id for f in found if f.original_receipt_id]))
        )}
    rows = [
        Row(reference=r.reference, kind=r.kind, clinic=by_id[r.clinic_id].name if r.clinic_id in by_id else "",
            issued=issued_local(r, by_id.get(r.clinic_id), lang), description=service_text(r, t),
            amount=-r.amount if r.kind == "credit_note" else r.amount, currency=r.currency, method=r.method,
            method_text=t.gettext(method_label(r.method)),
            url=f"{base}/receipts/{r.token}", original=originals.get(r.original_receipt_id or ""))
        for r in found[:PAGE_SIZE]
    ]
    # A Norwegian sales document must name the seller's organisation number: say so before the next one.
    incomplete = [c for c in clinics if not c.registration_number]
    return render(request, "admin/receipts.html", rows=rows, chosen_clinic=chosen if chosen in by_id else "",
                  page=page, has_next=len(found) > PAGE_SIZE, incomplete=incomplete)


def _sellers(request: web.Request) -> Sellers:
    return Sellers(request.app[DB], clock=request.app[CLOCK])


@routes.get("/admin/clinics/{clinic_id}/receipt-details")
@require(*ROLES)
async def seller_form(request: web.Request) -> web.StreamResponse:
    clinic = await load_clinic_for(request, request.match_info["clinic_id"])
    seller = await _sellers(request).get(clinic.id)
    return _seller_page(request, clinic, seller.legal_name, seller.registration_number, seller.country, {})


@routes.post("/admin/clinics/{clinic_id}/receipt-details")
@require(*ROLES)
async def save_seller(request: web.Request) -> web.StreamResponse:
    clinic = await load_clinic_for(request, request.match_info["clinic_id"])
    form = await request.post()
    name = form.get("legal_name", "")
    number = form.get("registration_number", "")
    name = name[:400] if isinstance(name, str) else ""
    number = number[:64] if isinstance(number, str) else ""
    t = translator(request)
    sellers = _sellers(request)
    try:
        await sellers.set(clinic.id, legal_name=name, registration_number=number)
    except DomainError as e:
        country = (await sellers.get(clinic.id)).country
        field = str(e.params.get("field") or "legal_name")
        return _seller_page(request, clinic, name, number, country, {field: t.gettext(e.message)},
                            status_code=e.status)
    await flash(request, t.gettext("The receipt details of {clinic} were saved.").replace("{clinic}", clinic.name))
    raise web.HTTPSeeOther(f"/admin/clinics/{clinic.id}/receipt-details")


def _seller_page(request: web.Request, clinic: Clinic, name: str, number: str, country: str | None,
                 errors: dict[str, str], status_code: int = 200) -> web.Response:
    t = translator(request)
    return render(request, "admin/receipt_details.html", status_code=status_code, clinic=clinic, legal_name=name,
                  registration_number=number, number_label=t.gettext(registration_label(country)), errors=errors)
