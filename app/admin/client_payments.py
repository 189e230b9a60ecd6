"""Configure > Client payments: link, edit and remove the clinic's Stripe accounts,
choose where each clinician's payments go, and set the platform fee.

Every handler first checks the role (``require``) and the clinic
(``load_clinic_for``), then calls one method of ``StripeAccounts``. The state
shown is Stripe's: the page retrieves each account on load, the return URL
does too, and webhooks keep the rows true in between (the page polls
``…/state`` and reloads when it changes).
"""

from __future__ import annotations

import secrets
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from babel.dates import format_date

from app.admin.auth import AdminUser, flash, lang_of, load_clinic_for, render, require, translator
from app.admin.confirm import confirm_page, confirmed
from app.admin.vipps_settings import merchants
from app.connect.requirements import STATES
from app.errors import Conflict, DomainError, Invalid
from app.i18n import format_money, to_minor
from app.i18n.zones import clinic_zone, format_instant
from app.keys import CLOCK, DB, PAYMENTS, SETTINGS, STRIPE_ACCOUNTS
from app.money import exponent
from app.payments.amount_limits import AmountLimits, limits_view

routes = web.RouteTableDef()
BASE = "/admin/clinics/{clinic_id}/client-payments"
ADMINS = ("organisation_admin", "clinic_admin")
STRIPE_HOSTS = ("https://connect.stripe.com", "https://dashboard.stripe.com")

# The row's status as a short label (the clinicians' account picker); the table shows the finer state.
STATUS_LABELS = {status: STATES["ready" if status == "enabled" else status][0] for status in (
    "enabled", "pending", "restricted", "under_review", "rejected", "disconnected", "removed")}


def _page(request: web.Request, clinic_id: str) -> str:
    return BASE.replace("{clinic_id}", clinic_id)


def _to_stripe(request: web.Request, response: web.Response) -> web.Response:
    """Let this page's forms lead on to Stripe: a form's redirect is checked against form-action."""
    base = request.app[SETTINGS].stripe_base
    hosts = list(STRIPE_HOSTS)
    if base:
        parts = urlsplit(base)
        hosts.append(f"{parts.scheme}://{parts.netloc}")
    csp = response.headers.get("Content-Security-Policy", "")
    allowed = "form-action 'self' " + " ".join(hosts)
    response.headers["Content-Security-Policy"] = csp.replace("form-action 'self'", allowed)
    return response


async def _fail(request: web.Request, clinic_id: str, error: DomainError) -> web.StreamResponse:
    t = translator(request)
    message = t.gettext(error.message)
    said = error.params.get("stripe_message")
    if said:
        # Stripe's own words (English), for the admin to quote to support.
        message += " " + t.gettext("Stripe's answer: {answer}").replace("{answer}", str(said))
    await flash(request, message, "error")
    raise web.HTTPSeeOther(_page(request, clinic_id))


def _deadline(request: web.Request) -> Any:
    """A unix time as the reader's date in the clinic's time zone, e.g. "3. desember 2026"."""
    lang = lang_of(request)
    zone = request["zone"]

    def show(ts: int | None) -> str:
        if not ts:
            return ""
        return format_date(datetime.fromtimestamp(ts, zone).date(), format="long", locale=lang)

    return show


@routes.get(BASE)
@require(*ADMINS)
async def client_payments(request: web.Request) -> web.StreamResponse:
    clinic = await load_clinic_for(request, request.match_info["clinic_id"])
    data = await request.app[STRIPE_ACCOUNTS].overview(clinic.id)
    user: AdminUser = request["user"]
    state = await request.app[STRIPE_ACCOUNTS].state(clinic.id)
    return _to_stripe(
        request,
        render(
            request,
            "admin/client_payments.html",
            data=data,
            clinic=clinic,
            state_version=state["version"],
            status_labels=STATUS_LABELS,
            states=STATES,
            format_deadline=_deadline(request),
            can_set_fee=user.role == "organisation_admin",
            nonce=secrets.token_hex(16),
            fee_percent=_percent(clinic.fee_basis_points),
            limits=limits_view(clinic),
            major=_typed(clinic.currency, lang_of(request)),
            vipps=await merchants(request).get(clinic.id),
        ),
    )


@routes.get(BASE + "/state")
@require(*ADMINS)
async def client_payments_state(request: web.Request) -> web.StreamResponse:
    clinic = await load_clinic_for(request, request.match_info["clinic_id"])
    response = web.json_response(await request.app[STRIPE_ACCOUNTS].state(clinic.id))
    response.headers["Cache-Control"] = "no-store"
    return response


@routes.post(BASE + "/accounts")
@require(*ADMINS)
async def go_to_stripe(request: web.Request) -> web.StreamResponse:
    clinic = await load_clinic_for(request, request.match_info["clinic_id"])
    user: AdminUser = request["user"]
    form = await request.post()
    label, nonce = form.get("label"), form.get("nonce")
    try:
        url = await request.app[STRIPE_ACCOUNTS].start(
            clinic.id,
            actor_id=user.id,
            email=user.email,
            label=label if isinstance(label, str) else None,
            nonce=nonce if isinstance(nonce, str) else None,
        )
    except DomainError as e:
        return await _fail(request, clinic.id, e)
    raise web.HTTPSeeOther(url)


@routes.get(BASE + "/refresh/{account_id}")
@require(*ADMINS)
async def refresh_link(request: web.Request) -> web.StreamResponse:
    """Stripe's ``refresh_url``: the link was used or expired, so make a new one and go back."""
    clinic = await load_clinic_for(request, request.match_info["clinic_id"])
    link_type = "account_update" if request.query.get("type") == "account_update" else "account_onboarding"
    try:
        url = await request.app[STRIPE_ACCOUNTS].link(
            clinic.id, request.match_info["account_id"], link_type, actor_id=None
        )
    except DomainError as e:
        return await _fail(request, clinic.id, e)
    raise web.HTTPSeeOther(url)


@routes.get(BASE + "/return/{account_id}")
@require(*ADMINS)
async def return_from_stripe(request: web.Request) -> web.StreamResponse:
    """Stripe's ``return_url``: it says nothing of the outcome, so ask Stripe."""
    clinic = await load_clinic_for(request, request.match_info["clinic_id"])
    t = translator(request)
    try:
        due = await request.app[STRIPE_ACCOUNTS].refresh(clinic.id, request.match_info["account_id"])
    except DomainError as e:
        return await _fail(request, clinic.id, e)
    if due is None:
        await flash(request, t.gettext("Stripe could not be reached. The state shown may be out of date."), "error")
    else:
        await flash(request, t.gettext("Back from Stripe. The account's state is shown below."))
    raise web.HTTPSeeOther(_page(request, clinic.id) + "#accounts")


@routes.post(BASE + "/accounts/{account_id}/edit")
@require(*ADMINS)
async def edit_on_stripe(request: web.Request) -> web.StreamResponse:
    clinic = await load_clinic_for(request, request.match_info["clinic_id"])
    user: AdminUser = request["user"]
    try:
        url = await request.app[STRIPE_ACCOUNTS].edit(clinic.id, request.match_info["account_id"], actor_id=user.id)
    except DomainError as e:
        return await _fail(request, clinic.id, e)
    raise web.HTTPSeeOther(url)


@routes.post(BASE + "/accounts/{account_id}/dashboard")
@require(*ADMINS)
async def stripe_dashboard(request: web.Request) -> web.StreamResponse:
    clinic = await load_clinic_for(request, request.match_info["clinic_id"])
    try:
        url = await request.app[STRIPE_ACCOUNTS].dashboard(clinic.id, request.match_info["account_id"])
    except DomainError as e:
        return await _fail(request, clinic.id, e)
    raise web.HTTPSeeOther(url)


@routes.post(BASE + "/accounts/{account_id}/default")
@require(*ADMINS)
async def make_default(request: web.Request) -> web.StreamResponse:
    clinic = await load_clinic_for(request, request.match_info["clinic_id"])
    user: AdminUser = request["user"]
    try:
        await request.app[STRIPE_ACCOUNTS].set_default(clinic.id, request.match_info["account_id"], actor_id=user.id)
    except DomainError as e:
        return await _fail(request, clinic.id, e)
    await flash(request, translator(request).gettext("The default account was changed."))
    raise web.HTTPSeeOther(_page(request, clinic.id) + "#accounts")


@routes.get(BASE + "/accounts/{account_id}/remove")
@require(*ADMINS)
async def confirm_remove(request: web.Request) -> web.StreamResponse:
    clinic = await load_clinic_for(request, request.match_info["clinic_id"])
    service = request.app[STRIPE_ACCOUNTS]
    try:
        open_requests = await service.open_requests(clinic.id, request.match_info["account_id"])
    except DomainError as e:
        return await _fail(request, clinic.id, e)
    return await _remove_page(request, clinic.id, open_requests)


@routes.post(BASE + "/accounts/{account_id}/remove")
@require(*ADMINS)
async def remove(request: web.Request) -> web.StreamResponse:
    clinic = await load_clinic_for(request, request.match_info["clinic_id"])
    user: AdminUser = request["user"]
    try:
        await request.app[STRIPE_ACCOUNTS].remove(clinic.id, request.match_info["account_id"], actor_id=user.id)
    except Conflict as e:
        if e.code == "account_has_open_requests":
            return await _remove_page(request, clinic.id, list(e.params.get("requests") or []), status=409)
        return await _fail(request, clinic.id, e)
    except DomainError as e:
        return await _fail(request, clinic.id, e)
    await flash(request, translator(request).gettext("The account was removed. No new payment requests will use it."))
    raise web.HTTPSeeOther(_page(request, clinic.id) + "#accounts")


async def _remove_page(
    request: web.Request, clinic_id: str, open_requests: list[dict[str, Any]], status: int = 200
) -> web.StreamResponse:
    data = await request.app[STRIPE_ACCOUNTS].overview(clinic_id, refresh=False)
    account = next((a for a in data["accounts"] if a["id"] == request.match_info["account_id"]), None)
    if account is None:
        raise web.HTTPNotFound()
    return render(
        request,
        "admin/client_payments_remove.html",
        status_code=status,
        data=data,
        account=account,
        open_requests=open_requests,
        refused=status == 409,
    )


@routes.post(BASE + "/requests/{request_id}/cancel")
@require(*ADMINS)
async def cancel_request(request: web.Request) -> web.StreamResponse:
    """Cancel an open request left behind (say, by a call that never ended), so that the
    account can be removed: confirmed first; Stripe's session is closed, the panels told."""
    clinic = await load_clinic_for(request, request.match_info["clinic_id"])
    user: AdminUser = request["user"]
    t = translator(request)
    form = await request.post()
    account_id = form.get("account_id")
    back = _page(request, clinic.id)
    if isinstance(account_id, str) and account_id.isascii() and account_id.replace("_", "").isalnum():
        back += f"/accounts/{account_id}/remove"
    payments = request.app[PAYMENTS]
    request_id = request.match_info["request_id"]
    try:
        if not confirmed(form):
            r = await payments.clinic_request(request_id, clinic.id)
            return confirm_page(
                request, title=t.gettext("Cancel the payment request?"),
                warning=t.gettext("The patient can no longer pay it, and is told so at once if the call is open. "
                                  "This cannot be undone."),
                details=[(t.gettext("Amount"), format_money(r.amount, r.currency, t.lang)),
                         (t.gettext("Description"), r.description),
                         (t.gettext("Asked for"), format_instant(r.created_at, clinic_zone(clinic), t.lang))],
                action=f"{_page(request, clinic.id)}/requests/{r.id}/cancel",
                hidden={"account_id": account_id} if isinstance(account_id, str) else None,
                confirm_label=t.gettext("Cancel the request"), back=back,
            )
        await payments.cancel_stale(request_id, clinic_id=clinic.id, organisation_id=user.organisation_id,
                                    actor_id=user.id)
    except DomainError as e:
        await flash(request, t.gettext(e.message), "error")
        raise web.HTTPSeeOther(back) from None
    await flash(request, t.gettext("The payment request was cancelled."))
    raise web.HTTPSeeOther(back)


@routes.post(BASE + "/clinicians")
@require(*ADMINS)
async def assign_clinician(request: web.Request) -> web.StreamResponse:
    clinic = await load_clinic_for(request, request.match_info["clinic_id"])
    user: AdminUser = request["user"]
    form = await request.post()
    ref, account = form.get("clinician_ref"), form.get("account_id")
    try:
        await request.app[STRIPE_ACCOUNTS].assign(
            clinic.id,
            ref if isinstance(ref, str) else "",
            account if isinstance(account, str) and account else None,
            actor_id=user.id,
        )
    except DomainError as e:
        return await _fail(request, clinic.id, e)
    await flash(request, translator(request).gettext("Saved where this clinician's payments go."))
    raise web.HTTPSeeOther(_page(request, clinic.id) + "#clinicians")


@routes.post(BASE + "/fee")
@require("organisation_admin")
async def set_fee(request: web.Request) -> web.StreamResponse:
    clinic = await load_clinic_for(request, request.match_info["clinic_id"])
    user: AdminUser = request["user"]
    form = await request.post()
    try:
        bp = _minor_or_none(form.get("fee_percent"), "NOK", "fee_percent")
        fixed = _minor_or_none(form.get("fee_fixed"), clinic.currency, "fee_fixed")
        await request.app[STRIPE_ACCOUNTS].set_fee(clinic.id, bp, fixed, actor_id=user.id)
    except DomainError as e:
        return await _fail(request, clinic.id, e)
    await flash(request, translator(request).gettext("The platform fee was saved."))
    raise web.HTTPSeeOther(_page(request, clinic.id) + "#fee")


@routes.post(BASE + "/limits")
@require(*ADMINS)
async def set_limits(request: web.Request) -> web.StreamResponse:
    """The clinic's guard rails on in-call requests: a maximum, and a threshold to confirm above."""
    clinic = await load_clinic_for(request, request.match_info["clinic_id"])
    user: AdminUser = request["user"]
    form = await request.post()
    try:
        maximum = _minor_or_none(form.get("max_amount"), clinic.currency, "max_amount", "invalid_limit", AMOUNT_HINT)
        threshold = _minor_or_none(form.get("confirm_above"), clinic.currency, "confirm_above", "invalid_limit",
                                   AMOUNT_HINT)
        await AmountLimits(request.app[DB], clock=request.app[CLOCK]).set(
            clinic.id, maximum, threshold, actor_id=user.id
        )
    except DomainError as e:
        return await _fail(request, clinic.id, e)
    await flash(request, translator(request).gettext("The amount limits were saved."))
    raise web.HTTPSeeOther(_page(request, clinic.id) + "#limits")


AMOUNT_HINT = "Enter the amount as a number, for example 450 or 450,50."


def _minor_or_none(value: Any, currency: str, name: str, code: str = "invalid_fee",
                   message: str = "Enter the fee as a number, for example 2.5 or 3.00.") -> int | None:
    """Typed in major units ("2,5" % or "3.00"); a percentage with two decimals is basis points."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return to_minor(value.replace("%", "").strip(), currency)
    except ValueError:
        raise Invalid(code, message, field=name) from None


def _typed(currency: str, lang: str) -> Any:
    """An amount as it is typed in a form field (no sign, no grouping), e.g. ``5000,00`` in nb."""
    places = exponent(currency)

    def show(minor: int) -> str:
        number = f"{Decimal(minor).scaleb(-places):.{places}f}"
        return number.replace(".", ",") if lang in ("nb", "sv") else number

    return show


def _percent(basis_points: int) -> str:
    whole, rest = divmod(basis_points, 100)
    return f"{whole}.{rest:02d}".rstrip("0").rstrip(".") if basis_points else ""
