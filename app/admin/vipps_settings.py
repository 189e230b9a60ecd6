"""*Client payments > Vipps*: the clinic's Vipps MobilePay merchant, its check with Vipps, on/off, removal.

Every handler checks the role (``require``, as the Stripe and MediPay settings
do) and the clinic (``load_clinic_for``), then calls one method of
``VippsMerchants``. Nothing is saved before Vipps accepted the keys; the
secrets are never shown again, only that they are saved.
"""

from __future__ import annotations

from typing import Any, NoReturn

from aiohttp import web

from app.admin.auth import AdminUser, flash, load_clinic_for, render, require, translator
from app.admin.confirm import confirm_page, confirmed
from app.connect.vipps_merchants import MerchantView, VippsMerchants
from app.errors import DomainError, Invalid, NotFound, Unavailable
from app.keys import SERVICES
from app.models import Clinic

routes = web.RouteTableDef()
BASE = "/admin/clinics/{clinic_id}/client-payments/vipps"
ADMINS = ("organisation_admin", "clinic_admin")
FIELDS = ("merchant_serial_number", "client_id", "client_secret", "subscription_key")


def merchants(request: web.Request) -> VippsMerchants:
    return request.app[SERVICES].vipps_merchants


def _page(clinic_id: str) -> str:
    return BASE.replace("{clinic_id}", clinic_id)


def _text(form: Any, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _message(request: web.Request, error: DomainError) -> str:
    t = translator(request)
    message = t.gettext(error.message)
    said = error.params.get("vipps_message")
    if said:
        # Vipps' own words (often English), for the admin to quote to Vipps MobilePay's support.
        message += " " + t.gettext("Vipps' answer: {answer}").replace("{answer}", str(said))
    return message


async def _back(request: web.Request, clinic: Clinic, message: str, kind: str = "success") -> NoReturn:
    """Back to the settings page (after a POST), with ``message`` (already translated) on it."""
    await flash(request, message, kind)
    raise web.HTTPSeeOther(_page(clinic.id)) from None


async def _show(request: web.Request, clinic: Clinic, *, errors: dict[str, str] | None = None,
                values: dict[str, str] | None = None, status: int = 200) -> web.Response:
    merchant: MerchantView | None = await merchants(request).get(clinic.id)
    errors = errors or {}
    shown = dict(values or {})
    if merchant is not None:
        shown.setdefault("merchant_serial_number", merchant.merchant_serial_number)
        shown.setdefault("client_id", merchant.client_id)
    return render(
        request, "admin/vipps_settings.html", status_code=status, clinic=clinic, merchant=merchant, values=shown,
        errors=errors, field_errors={k: v for k, v in errors.items() if k in FIELDS},
        general_error=errors.get("vipps"),
    )


@routes.get(BASE)
@require(*ADMINS)
async def vipps_settings(request: web.Request) -> web.StreamResponse:
    return await _show(request, await load_clinic_for(request, request.match_info["clinic_id"]))


@routes.post(BASE)
@require(*ADMINS)
async def save_vipps(request: web.Request) -> web.StreamResponse:
    clinic = await load_clinic_for(request, request.match_info["clinic_id"])
    user: AdminUser = request["user"]
    t = translator(request)
    form = await request.post()
    values = {name: _text(form, name)[:300] for name in ("merchant_serial_number", "client_id")}
    enabled = None if "enabled" not in form else "yes" in form.getall("enabled")
    try:
        merchant = await merchants(request).save(
            user.organisation_id, clinic.id, merchant_serial_number=form.get("merchant_serial_number"),
            client_id=form.get("client_id"), client_secret=form.get("client_secret"),
            subscription_key=form.get("subscription_key"), enabled=enabled, actor_id=user.id,
        )
    except Unavailable as e:
        return await _show(request, clinic, errors={"vipps": _message(request, e)}, values=values, status=503)
    except DomainError as e:
        field = str(e.params.get("field") or "vipps")
        return await _show(request, clinic, errors={field: _message(request, e)}, values=values, status=e.status)
    if merchant.enabled:
        await _back(request, clinic, t.gettext("Vipps accepted the keys. They are saved, and patients can pay "
                                               "with Vipps in the call."))
    else:
        await _back(request, clinic,
                    t.gettext("Vipps accepted the keys. They are saved; Vipps is off for this clinic."))


@routes.post(BASE + "/verify")
@require(*ADMINS)
async def verify_vipps(request: web.Request) -> web.StreamResponse:
    clinic = await load_clinic_for(request, request.match_info["clinic_id"])
    user: AdminUser = request["user"]
    t = translator(request)
    try:
        merchant = await merchants(request).verify(user.organisation_id, clinic.id, actor_id=user.id)
    except Unavailable as e:
        return await _show(request, clinic, errors={"vipps": _message(request, e)}, status=503)
    except DomainError as e:
        await _back(request, clinic, _message(request, e), "error")
    if merchant.status == "active":
        await _back(request, clinic, t.gettext("Vipps accepted the keys."))
    else:
        await _back(request, clinic, t.gettext("Vipps did not accept the saved keys. Enter the keys again."), "error")


@routes.post(BASE + "/enabled")
@require(*ADMINS)
async def switch_vipps(request: web.Request) -> web.StreamResponse:
    clinic = await load_clinic_for(request, request.match_info["clinic_id"])
    user: AdminUser = request["user"]
    t = translator(request)
    form = await request.post()
    wanted = _text(form, "enabled")
    try:
        if wanted not in ("yes", "no"):
            raise Invalid("invalid_switch", "Choose whether Vipps is on or off.")
        merchant = await merchants(request).set_enabled(user.organisation_id, clinic.id, wanted == "yes",
                                                        actor_id=user.id)
    except DomainError as e:
        await _back(request, clinic, _message(request, e), "error")
    if merchant.enabled:
        await _back(request, clinic, t.gettext("Vipps is on: patients can pay with Vipps in the call."))
    else:
        await _back(request, clinic, t.gettext("Vipps is off: patients are not offered Vipps in the call."))


@routes.post(BASE + "/remove")
@require(*ADMINS)
async def remove_vipps(request: web.Request) -> web.StreamResponse:
    clinic = await load_clinic_for(request, request.match_info["clinic_id"])
    user: AdminUser = request["user"]
    t = translator(request)
    form = await request.post()
    service = merchants(request)
    try:
        if not confirmed(form):
            merchant = await service.get(clinic.id)
            if merchant is None:
                raise NotFound("vipps_merchant_not_found", "This clinic has no Vipps merchant yet.")
            return confirm_page(
                request, title=t.gettext("Remove Vipps from the clinic?"),
                warning=t.gettext("Patients can no longer pay with Vipps in the call, and the keys are deleted. "
                                  "Payments already made stay in the Vipps MobilePay portal. To use Vipps again, "
                                  "enter the keys again."),
                details=[(t.gettext("Clinic"), clinic.name),
                         (t.gettext("Merchant serial number"), merchant.merchant_serial_number)],
                action=f"{_page(clinic.id)}/remove", confirm_label=t.gettext("Remove Vipps"), back=_page(clinic.id),
            )
        await service.remove(user.organisation_id, clinic.id, actor_id=user.id)
    except Unavailable as e:
        return await _show(request, clinic, errors={"vipps": _message(request, e)}, status=503)
    except DomainError as e:
        await _back(request, clinic, _message(request, e), "error")
    await _back(request, clinic,
                t.gettext("Vipps was removed from the clinic. Patients are not offered Vipps in the call."))
