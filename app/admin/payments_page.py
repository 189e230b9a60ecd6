"""The cash desk's Payments page: in-call payments of the clinics one may manage, and refunds.

A refund takes two steps without any script: the row's form asks (amount
optional: all that remains), a confirmation page shows exactly what will go
back to whom, and only its *Confirm refund* button refunds. The confirmation
page carries an idempotency key, so pressing it twice, or resubmitting it,
refunds once.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web
from sqlalchemy import select

from app import validation as v
from app.admin.auth import AdminUser, can_manage_clinic, flash, render, require, translator
from app.billing.statuses import REQUEST_PAID
from app.errors import DomainError
from app.i18n import error_message, format_money, to_minor
from app.keys import DB, REFUNDS, SETTINGS
from app.models import BillCard, Clinic, PaymentRequest
from app.payments.refunds import Actor, Scope

routes = web.RouteTableDef()
PAGE_SIZE = 50
ROLES = ("organisation_admin", "clinic_admin")


@dataclass(frozen=True)
class Row:
    id: str
    clinic_id: str
    clinic: str
    paid_at: datetime | None
    patient: str
    description: str
    amount: int
    refunded: int
    currency: str
    status: str
    receipt: str | None = None
    receipt_url: str | None = None

    @property
    def remaining(self) -> int:
        return self.amount - self.refunded


def _row(r: PaymentRequest, card: BillCard | None, clinic_name: str, base: str = "") -> Row:
    return Row(
        id=r.id,
        clinic_id=r.clinic_id,
        clinic=clinic_name,
        paid_at=r.paid_at,
        patient=card.patient_name if card else r.patient_id,
        description=r.description,
        amount=r.amount,
        refunded=r.refunded_amount,
        currency=r.currency,
        status=r.status,
        receipt=r.receipt_reference,
        receipt_url=f"{base}/receipts/{r.receipt_token}" if r.receipt_token else None,
    )


@routes.get("/admin/payments")
@require(*ROLES)
async def payments(request: web.Request) -> web.Response:
    clinics: list[Clinic] = request["clinics"]
    names = {c.id: c.name for c in clinics}
    chosen = request.query.get("clinic") or ""
    clinic_ids = [chosen] if chosen in names else list(names)
    page = v.page(request.query.get("page"))
    rows: list[Row] = []
    async with request.app[DB].read() as s:
        found = await s.execute(
            select(PaymentRequest, BillCard)
            .join(BillCard, BillCard.id == PaymentRequest.bill_card_id, isouter=True)
            .where(PaymentRequest.clinic_id.in_(clinic_ids), PaymentRequest.status.in_(REQUEST_PAID))
            .order_by(PaymentRequest.paid_at.desc(), PaymentRequest.id)
            .offset((page - 1) * PAGE_SIZE)
            .limit(PAGE_SIZE + 1)
        )
        rows = [_row(r, card, names.get(r.clinic_id, ""), request.app[SETTINGS].public_url) for r, card in found.all()]
    return render(
        request,
        "admin/payments.html",
        rows=rows[:PAGE_SIZE],
        chosen_clinic=chosen if chosen in names else "",
        page=page,
        has_next=len(rows) > PAGE_SIZE,
        status_label=_status_label(request),
    )


@routes.post("/admin/payments/{request_id}/refund")
@require(*ROLES)
async def refund(request: web.Request) -> web.StreamResponse:
    user: AdminUser = request["user"]
    t = translator(request)
    found = await _payment_for(request, request.match_info["request_id"])
    if isinstance(found, web.Response):
        return found
    r, clinic = found
    form = await request.post()
    text = str(form.get("amount") or "").strip()
    amount: int | None = None
    if text:
        try:
            amount = to_minor(text, r.currency)
        except ValueError:
            await flash(request, t.gettext("Enter the amount as a number, for example 450 or 450,50."), "error")
            raise web.HTTPSeeOther("/admin/payments") from None
        if amount <= 0:
            await flash(request, t.gettext("Enter a refund amount greater than zero."), "error")
            raise web.HTTPSeeOther("/admin/payments")
    if form.get("confirm") != "yes":
        async with request.app[DB].read() as s:
            card = await s.get(BillCard, r.bill_card_id)
        row = _row(r, card, clinic.name)
        return render(
            request,
            "admin/payment_refund_confirm.html",
            row=row,
            amount=amount if amount is not None else row.remaining,
            amount_field=text,
            idempotency_key=secrets.token_urlsafe(24),
            status_label=_status_label(request),
            )
    key = str(form.get("idempotency_key") or "") or None
    try:
        result = await request.app[REFUNDS].refund(
            r.id,
            amount,
            actor=Actor("user", user.id),
            source="cash_desk",
            idempotency_key=key,
            scope=Scope(user.organisation_id, clinic_ids=frozenset(c.id for c in request["clinics"])),
        )
    except DomainError as e:
        await flash(request, error_message(e.message, e.params, t.lang), "error")
        raise web.HTTPSeeOther("/admin/payments") from None
    done = result.refund
    await flash(
        request,
        t.gettext("Refunded %(amount)s of “%(description)s”.")
        % {"amount": format_money(done.amount, done.currency, t.lang), "description": r.description},
    )
    raise web.HTTPSeeOther("/admin/payments")


async def _payment_for(request: web.Request, request_id: str) -> tuple[PaymentRequest, Clinic] | web.Response:
    """The payment and its clinic, or the 404/403 page to answer with."""
    r = clinic = None
    if 0 < len(request_id) <= 40:
        async with request.app[DB].read() as s:
            r = await s.get(PaymentRequest, request_id)
            clinic = await s.get(Clinic, r.clinic_id) if r is not None else None
    if r is None or clinic is None:
        return _refused(request, 404, "Not found", "There is no such payment.")
    if not can_manage_clinic(request["user"], clinic):
        return _refused(request, 403, "Not allowed", "You do not have access to this page.")
    return r, clinic


def _refused(request: web.Request, status: int, title: str, message: str) -> web.Response:
    t = translator(request)
    return render(
        request,
        "admin/error.html",
        status_code=status,
        status=status,
        title=t.gettext(title),
        message=t.gettext(message),
    )


def _status_label(request: web.Request) -> Any:
    t = translator(request)
    labels = {"paid": "Paid", "partially_refunded": "Partially refunded", "refunded": "Refunded"}
    return lambda status: t.gettext(labels.get(status, status))
