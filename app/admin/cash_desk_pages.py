"""The cash desk (*Kasse*): bill cards with their statuses, one card's page, and the desk's actions.

The list searches (patient name, card id) and filters (status, book, clinic,
period); *Invoice for manual handling* and *Not exported invoices* are the
same list with one status. The card page shows the lines, both shares, the
payments and *Show MediPay status*; its forms change the shares (the patient
share of an exported card is locked, and the server refuses it too: 409),
invoice the card by hand with or without the admin fee (warning first when the
clinic is not in *manual office*), and *Send to payment* (the pipeline's
``MediPayExporter.send_to_payment``: an open card goes out with the Checkout
SMS, an invoice made by hand as an invoice). A clinic's *manual
office* switch lives on the list page.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from aiohttp import web

from app import validation as v
from app.admin.auth import AdminUser, flash, load_clinic_for, page_error, render, require, translator
from app.admin.confirm import confirm_page, confirmed
from app.admin.labels import Words
from app.backoffice.cash_desk import LISTS, CashDesk, DeskQuery, desk_scope
from app.billing.card_service import BillCards
from app.billing.statuses import STATUSES
from app.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from app.i18n import currency_exponent, format_money, to_minor
from app.i18n.zones import clinic_zone, local_day_bounds, zone
from app.keys import CLOCK, DB, MEDIPAY_EXPORTER

routes = web.RouteTableDef()
ADMINS = ("organisation_admin", "clinic_admin")
BASE = "/admin/cash-desk"
LIST_TITLES = {"manual": "Invoice for manual handling", "not-exported": "Not exported invoices"}


def _desk(request: web.Request) -> CashDesk:
    return CashDesk(request.app[DB], clock=request.app[CLOCK])


def _scope(request: web.Request) -> Any:
    user: AdminUser = request["user"]
    return desk_scope(user.organisation_id, request["clinics"])


def _day(value: str, name: str, tz: ZoneInfo, *, end: bool) -> datetime | None:
    """A day typed into a filter: the whole day in the clinic's zone."""
    if not value:
        return None
    return local_day_bounds(v.day(value, name), tz, end=end)


def _card_zone(card: dict[str, Any]) -> ZoneInfo:
    return zone(card["clinic"]["time_zone"] if card.get("clinic") else None)


@routes.get(BASE)
@require(*ADMINS)
async def cash_desk(request: web.Request) -> web.Response:
    t = translator(request)
    words = Words(t)
    qs = request.query
    chosen_list = qs.get("list", "")
    values = {k: qs.get(k, "").strip()[:100] for k in ("q", "status", "book", "clinic", "from", "to")}
    errors: dict[str, str] = {}
    statuses: tuple[str, ...] = ()
    if chosen_list in LISTS:
        statuses = (LISTS[chosen_list],)
    elif values["status"]:
        if values["status"] in STATUSES:
            statuses = (values["status"],)
        else:
            errors["status"] = t.gettext("Choose a status from the list.")
    clinics = request["clinics"]
    # Days are the chosen clinic's days; across clinics, those of the page's zone (shown by the filter).
    tz = next((clinic_zone(c) for c in clinics if c.id == values["clinic"]), request["zone"])
    try:
        created_from = _day(values["from"], "from", tz, end=False)
    except Invalid as e:
        errors["from"], created_from = t.gettext(e.message), None
    try:
        created_to = _day(values["to"], "to", tz, end=True)
    except Invalid as e:
        errors["to"], created_to = t.gettext(e.message), None
    page = v.page(qs.get("page"))
    desk = _desk(request)
    rows, has_next = await desk.search(_scope(request), DeskQuery(
        text=values["q"] or None, statuses=statuses, book_id=values["book"] or None,
        clinic_id=values["clinic"] or None, created_from=created_from, created_to=created_to, page=page,
    ))
    books = await desk.books(request["user"].organisation_id)
    return render(
        request, "admin/cash_desk.html", status_code=422 if errors else 200,
        rows=rows, has_next=has_next, page=page, values=values, errors=errors, chosen_list=chosen_list,
        list_title=t.gettext(LIST_TITLES[chosen_list]) if chosen_list in LIST_TITLES else None,
        status_options=[("", t.gettext("All statuses"))]
        + [(code, f"{words.status(code)}: {words.status_hint(code)}") for code in STATUSES],
        book_options=[("", t.gettext("All books"))] + [(b.id, b.description) for b in books],
        clinic_options=[("", t.gettext("All clinics"))] + [(c.id, c.name) for c in clinics],
        clinic_names={c.id: c.name for c in clinics}, book_names={b.id: b.description for b in books},
        filter_zone=str(tz), query_string=_keep(values, chosen_list),
    )


def _keep(values: dict[str, str], chosen_list: str) -> str:
    kept = {k: v for k, v in values.items() if v}
    if chosen_list in LISTS:
        kept["list"] = chosen_list
    return urlencode(kept)


async def _load(request: web.Request, card_id: str) -> dict[str, Any]:
    """The card for the desk, if the reader may see it; else a 404/403 page (raised)."""
    try:
        return await _desk(request).card(_scope(request), card_id)
    except NotFound:
        raise page_error(request, 404, "Not found", "There is no such bill card.") from None
    except Forbidden:
        raise page_error(request, 403, "Not allowed", "You do not have access to this page.") from None


async def _card_page(request: web.Request, card_id: str, *, error: str | None = None,
                     status: int = 200) -> web.Response:
    card = await _load(request, card_id)
    lang = translator(request).lang
    return render(
        request, "admin/cash_desk_card.html", status_code=status, card=card, error=error,
        zone=_card_zone(card), major=lambda minor: _major(minor, card["currency"], lang),
    )


def _major(minor: int, currency: str, lang: str) -> str:
    """The amount as typed in a form field (no currency sign, no grouping), e.g. ``450,00`` in nb."""
    exponent = currency_exponent(currency)
    number = f"{Decimal(minor).scaleb(-exponent):.{exponent}f}"
    return number.replace(".", ",") if lang in ("nb", "sv") else number


@routes.get(BASE + "/cards/{card_id}")
@require(*ADMINS)
async def card_page(request: web.Request) -> web.Response:
    return await _card_page(request, request.match_info["card_id"])


@routes.post(BASE + "/cards/{card_id}/shares")
@require(*ADMINS)
async def change_shares(request: web.Request) -> web.StreamResponse:
    user: AdminUser = request["user"]
    t = translator(request)
    card_id = request.match_info["card_id"]
    card = await _load(request, card_id)  # the access checks, before anything changes
    form = await request.post()
    change: dict[str, int] = {}
    for name in ("patient_share", "refund_share"):
        raw = form.get(name)
        if not isinstance(raw, str) or not raw.strip():
            continue
        try:
            value = to_minor(raw, card["currency"])
        except ValueError:
            return await _card_page(request, card_id, status=422,
                                    error=t.gettext("Enter the amount as a number, for example 450 or 450,50."))
        if value != card[name]:
            change[name] = value
    if not change:
        await flash(request, t.gettext("Nothing was changed."))
        raise web.HTTPSeeOther(f"{BASE}/cards/{card_id}")
    try:
        await BillCards(request.app[DB], clock=request.app[CLOCK]).change(
            user.organisation_id, card_id, change, actor_id=user.id
        )
    except DomainError as e:
        return await _card_page(request, card_id, status=e.status, error=t.gettext(e.message))
    await flash(request, t.gettext("The shares were saved."))
    raise web.HTTPSeeOther(f"{BASE}/cards/{card_id}")


@routes.post(BASE + "/cards/{card_id}/invoice")
@require(*ADMINS)
async def invoice_by_hand(request: web.Request) -> web.StreamResponse:
    user: AdminUser = request["user"]
    t = translator(request)
    card_id = request.match_info["card_id"]
    desk = _desk(request)
    card = await _load(request, card_id)
    form = await request.post()
    include_fee = form.get("include_fee") == "yes"
    manual_office = bool(card["clinic"] and card["clinic"]["manual_office"])
    if not manual_office and form.get("confirm") != "yes":
        # Without manual office the hourly export would also take the card: say so before going on.
        return render(request, "admin/cash_desk_invoice_confirm.html", card=card, include_fee=include_fee,
                      zone=_card_zone(card))
    try:
        await desk.invoice_by_hand(_scope(request), card_id, include_fee=include_fee, actor_id=user.id)
    except Conflict as e:
        return await _card_page(request, card_id, status=409, error=t.gettext(e.message))
    if include_fee:
        await flash(request, t.gettext("The invoice was made with the admin fee."))
    else:
        await flash(request, t.gettext("The invoice was made without the admin fee."))
    raise web.HTTPSeeOther(f"{BASE}/cards/{card_id}")


@routes.post("/admin/clinics/{clinic_id}/manual-office")
@require(*ADMINS)
async def manual_office(request: web.Request) -> web.StreamResponse:
    user: AdminUser = request["user"]
    clinic = await load_clinic_for(request, request.match_info["clinic_id"])
    t = translator(request)
    form = await request.post()
    on = form.get("manual_office") == "on"
    await _desk(request).set_manual_office(user.organisation_id, clinic.id, on, actor_id=user.id)
    if on:
        await flash(request, t.gettext("Manual office is on for %(clinic)s: cards are no longer exported every "
                                       "hour; send them one by one.") % {"clinic": clinic.name})
    else:
        await flash(request, t.gettext("Manual office is off for %(clinic)s: cards are exported to MediPay every "
                                       "hour.") % {"clinic": clinic.name})
    raise web.HTTPSeeOther(BASE + "#manual-office")


@routes.post(BASE + "/cards/{card_id}/send")
@require(*ADMINS)
async def send_to_payment(request: web.Request) -> web.StreamResponse:
    """*Send to payment*: the pipeline queues the card due now and exports it at once."""
    user: AdminUser = request["user"]
    t = translator(request)
    card_id = request.match_info["card_id"]
    card = await _load(request, card_id)  # the access checks, before anything changes
    if not confirmed(await request.post()):
        # It texts the patient: say what goes to whom, and send only on the second press.
        patient = card.get("patient") or {}
        invoice = card["status"] == "invoice_generated"
        return confirm_page(
            request, title=t.gettext("Send to payment now?"),
            warning=t.gettext("The invoice is exported to MediPay at once.") if invoice else t.gettext(
                "The card is exported to MediPay at once: the patient gets an SMS with a link to MediPay Checkout."),
            details=[(t.gettext("Patient"), str(patient.get("name") or "")),
                     (t.gettext("Mobile"), str(patient.get("mobile") or "—")),
                     (t.gettext("Patient share"), format_money(card["patient_share"], card["currency"], t.lang))],
            action=f"{BASE}/cards/{card_id}/send", confirm_label=t.gettext("Send to payment"),
            back=f"{BASE}/cards/{card_id}", danger=False,
        )
    try:
        card = await request.app[MEDIPAY_EXPORTER].send_to_payment(
            user.organisation_id, card_id, actor_type="user", actor_id=user.id
        )
    except DomainError as e:
        await flash(request, t.gettext(e.message), "error")
        raise web.HTTPSeeOther(f"{BASE}/cards/{card_id}") from None
    if card.status in ("open_exported", "invoice_exported"):
        await flash(request, t.gettext("The card was sent to MediPay."))
    else:
        await flash(request, t.gettext("The card is queued for MediPay; its status shows when MediPay has answered."))
    raise web.HTTPSeeOther(f"{BASE}/cards/{card_id}")
