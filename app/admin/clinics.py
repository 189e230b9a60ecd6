"""Clinic pages: create a clinic, its settings (the time zone, the payment policy for new consults), and ask
for / approve / reject its payment app."""

from __future__ import annotations

from decimal import Decimal

from aiohttp import web
from babel import Locale

from app.accounts.clinic_settings import ClinicSettings
from app.accounts.payment_app import PaymentApp
from app.admin.auth import flash, lang_of, load_clinic_for, page_error, render, require, translator
from app.errors import DomainError, Forbidden, Invalid, NotFound
from app.i18n import babel_locale, error_message, to_minor
from app.i18n.zones import clinic_zone, format_instant, zone_names
from app.keys import CLOCK, DB
from app.models import Clinic
from app.money import exponent
from app.payments.clinic_policy import ClinicPolicies
from app.payments.policies import PolicyKind
from app.regions import CURRENCIES, country_for_currency

routes = web.RouteTableDef()


def payment_app(request: web.Request) -> PaymentApp:
    return PaymentApp(request.app[DB], clock=request.app[CLOCK])


async def _decide(request: web.Request, action: str) -> web.StreamResponse:
    clinic = await load_clinic_for(request, request.match_info["clinic_id"])
    t = translator(request)
    service = payment_app(request)
    try:
        if action == "request":
            await service.request(request["user"], clinic.id)
            message = "The payment app was requested for {clinic}. An organisation admin will decide."
        elif action == "approve":
            await service.approve(request["user"], clinic.id)
            message = "The payment app is enabled for {clinic}."
        else:
            await service.reject(request["user"], clinic.id)
            message = "The request for the payment app for {clinic} was rejected."
    except (Forbidden, NotFound) as e:
        raise page_error(request, e.status, "Not allowed" if e.status == 403 else "Not found", e.message) from e
    except DomainError as e:
        await flash(request, t.gettext(e.message), "error")
        raise web.HTTPSeeOther("/admin") from e
    await flash(request, t.gettext(message).replace("{clinic}", clinic.name))
    raise web.HTTPSeeOther("/admin")


@routes.post("/admin/clinics/{clinic_id}/payment-app/request")
@require("clinic_admin")
async def request_payment_app(request: web.Request) -> web.StreamResponse:
    return await _decide(request, "request")


@routes.post("/admin/clinics/{clinic_id}/payment-app/approve")
@require("organisation_admin")
async def approve_payment_app(request: web.Request) -> web.StreamResponse:
    return await _decide(request, "approve")


@routes.post("/admin/clinics/{clinic_id}/payment-app/reject")
@require("organisation_admin")
async def reject_payment_app(request: web.Request) -> web.StreamResponse:
    return await _decide(request, "reject")


def currency_options(lang: str) -> list[tuple[str, str]]:
    """Each currency with the country its clinic is in, named in the reader's language: "AUD — Australia"."""
    territories = Locale.parse(babel_locale(lang)).territories
    return [(c, f"{c} — {territories.get(country_for_currency(c), country_for_currency(c))}") for c in CURRENCIES]


def _zone_options() -> list[tuple[str, str]]:
    return [(name, name.replace("_", " ")) for name in zone_names()]


def _new_clinic_page(request: web.Request, *, name: str = "", currency: str = "NOK", time_zone: str = "",
                     errors: dict[str, str] | None = None, status_code: int = 200) -> web.Response:
    return render(request, "admin/clinic_new.html", status_code=status_code, name=name, currency=currency,
                  currencies=currency_options(lang_of(request)), errors=errors or {}, time_zone=time_zone,
                  zone_options=[("", translator(request).gettext("The usual zone of the currency's country"))]
                  + _zone_options())


@routes.get("/admin/clinics/new")
@require("organisation_admin")
async def new_clinic_form(request: web.Request) -> web.StreamResponse:
    return _new_clinic_page(request)


@routes.post("/admin/clinics/new")
@require("organisation_admin")
async def new_clinic(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    name = form.get("name", "")
    currency = form.get("currency", "")
    time_zone = form.get("time_zone", "")
    name = name[:400] if isinstance(name, str) else ""
    currency = currency[:3] if isinstance(currency, str) else ""
    time_zone = time_zone[:100] if isinstance(time_zone, str) else ""
    t = translator(request)
    try:
        clinic = await payment_app(request).create_clinic(request["user"], name=name, currency=currency,
                                                          time_zone=time_zone)
    except DomainError as e:
        field = str(e.params.get("field") or "name")
        return _new_clinic_page(request, name=name, currency=currency, time_zone=time_zone,
                                errors={field: t.gettext(e.message)}, status_code=e.status)
    await flash(request, t.gettext("The clinic {clinic} was created.").replace("{clinic}", clinic.name))
    raise web.HTTPSeeOther("/admin")


# The payment policies an admin chooses from, in words (English msgids).
POLICY_LABELS: dict[str, str] = {
    PolicyKind.IN_CALL: "Pay in the call (the clinician asks for payment during the consultation)",
    PolicyKind.BEFORE_JOIN: "Pay before joining (a fixed amount, paid in the waiting room)",
    PolicyKind.HOLD: "Card hold (authorised in the waiting room, charged after the call)",
    PolicyKind.CARD_ON_FILE: "Card on file (saved in the waiting room, charged after the call)",
}


def _typed(minor: int | None, currency: str, lang: str) -> str:
    """An amount as typed in a field (``450,00`` in nb and sv), or empty."""
    if minor is None:
        return ""
    places = exponent(currency)
    text = f"{Decimal(minor).scaleb(-places):.{places}f}"
    return text.replace(".", ",") if lang in ("nb", "sv") else text


def _policy_form(clinic: Clinic, lang: str) -> dict[str, str]:
    return {"kind": clinic.payment_policy or PolicyKind.IN_CALL,
            "amount": _typed(clinic.policy_amount, clinic.currency, lang),
            "description": clinic.policy_description or "",
            "no_show_fee": _typed(clinic.no_show_fee, clinic.currency, lang)}


def _settings_page(request: web.Request, clinic: Clinic, *, time_zone: str, errors: dict[str, str] | None = None,
                   status_code: int = 200, policy: dict[str, str] | None = None,
                   policy_errors: dict[str, str] | None = None) -> web.Response:
    now = request.app[CLOCK].now()
    t = translator(request)
    return render(request, "admin/clinic_settings.html", status_code=status_code, clinic=clinic,
                  time_zone=time_zone, zone_options=_zone_options(), errors=errors or {},
                  local_now=format_instant(now, clinic_zone(clinic), t.lang),
                  policy=policy or _policy_form(clinic, t.lang), policy_errors=policy_errors or {},
                  policy_options=[(k, t.gettext(label)) for k, label in POLICY_LABELS.items()])


@routes.get("/admin/clinics/{clinic_id}/settings")
@require("organisation_admin", "clinic_admin")
async def clinic_settings(request: web.Request) -> web.StreamResponse:
    clinic = await load_clinic_for(request, request.match_info["clinic_id"])
    return _settings_page(request, clinic, time_zone=clinic.time_zone)


@routes.post("/admin/clinics/{clinic_id}/settings")
@require("organisation_admin", "clinic_admin")
async def save_clinic_settings(request: web.Request) -> web.StreamResponse:
    clinic = await load_clinic_for(request, request.match_info["clinic_id"])
    t = translator(request)
    form = await request.post()
    time_zone = form.get("time_zone", "")
    time_zone = time_zone[:100] if isinstance(time_zone, str) else ""
    try:
        changed = await ClinicSettings(request.app[DB], clock=request.app[CLOCK]).set_time_zone(
            request["user"], clinic.id, time_zone)
    except DomainError as e:
        return _settings_page(request, clinic, time_zone=time_zone, errors={"time_zone": t.gettext(e.message)},
                              status_code=e.status)
    if changed:
        await flash(request, t.gettext("The time zone of {clinic} is now {zone}.").replace("{clinic}", clinic.name)
                    .replace("{zone}", time_zone))
    else:
        await flash(request, t.gettext("Nothing was changed."))
    raise web.HTTPSeeOther(f"/admin/clinics/{clinic.id}/settings")


def _minor(value: object, currency: str, name: str) -> int | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return to_minor(value[:40], currency)
    except ValueError:
        raise Invalid("invalid_amount", "Enter the amount as a number, for example 450 or 450,50.",
                      field=name) from None


@routes.post("/admin/clinics/{clinic_id}/payment-policy")
@require("organisation_admin", "clinic_admin")
async def save_payment_policy(request: web.Request) -> web.StreamResponse:
    """The clinic's default payment policy for new consults (the host's own policy wins)."""
    clinic = await load_clinic_for(request, request.match_info["clinic_id"])
    t = translator(request)
    form = await request.post()
    typed = {name: str(form.get(name, ""))[:400] for name in ("kind", "amount", "description", "no_show_fee")}
    try:
        gated = typed["kind"] in (PolicyKind.BEFORE_JOIN, PolicyKind.HOLD, PolicyKind.CARD_ON_FILE)
        # Paying in the call has no amount of its own: what was typed for another choice is let go.
        amount = _minor(typed["amount"], clinic.currency, "amount") if gated else None
        no_show_fee = _minor(typed["no_show_fee"], clinic.currency, "no_show_fee")
        changed = await ClinicPolicies(request.app[DB], clock=request.app[CLOCK]).set(
            clinic.id, kind=typed["kind"], amount=amount, description=typed["description"] if gated else None,
            no_show_fee=no_show_fee, actor_id=request["user"].id)
    except DomainError as e:
        field = str(e.params.get("field") or "kind")
        text = error_message(e.message, e.params, t.lang)
        return _settings_page(request, clinic, time_zone=clinic.time_zone, policy=typed,
                              policy_errors={field: text}, status_code=e.status)
    await flash(request, t.gettext("The payment policy for new consults was saved.") if changed
                else t.gettext("Nothing was changed."))
    raise web.HTTPSeeOther(f"/admin/clinics/{clinic.id}/settings#payment-policy")
