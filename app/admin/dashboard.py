"""The admin dashboard: the clinics you may manage and what waits for you."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from app.admin.auth import ROLES, AdminUser, render, require
from app.keys import DB
from app.models import Clinic, PaymentAppRequest

routes = web.RouteTableDef()


@routes.get("/admin")
@require(*ROLES)
async def dashboard(request: web.Request) -> web.StreamResponse:
    user: AdminUser = request["user"]
    clinics: list[Clinic] = request["clinics"]
    ids = [c.id for c in clinics]
    own_clinic = None
    async with request.app[DB].read() as s:
        pending = list(
            (
                await s.scalars(
                    select(PaymentAppRequest)
                    .where(PaymentAppRequest.clinic_id.in_(ids), PaymentAppRequest.status == "pending")
                    .order_by(PaymentAppRequest.requested_at)
                )
            ).all()
        ) if ids else []
        if user.clinic_id:
            own_clinic = await s.get(Clinic, user.clinic_id)
    pending_by_clinic = {p.clinic_id: p for p in pending}
    return render(
        request,
        "admin/dashboard.html",
        pending_by_clinic=pending_by_clinic,
        approvals=pending if user.role == "organisation_admin" else [],
        clinic_names={c.id: c.name for c in clinics},
        own_clinic=own_clinic,
    )
