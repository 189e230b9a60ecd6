"""The audit trail page: read-only, newest first, filtered and paginated."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from aiohttp import web
from sqlalchemy import func, select

from app import validation as v
from app.admin.audit_text import action_label, sentence
from app.admin.auth import AdminUser, render, require, translator
from app.errors import Invalid
from app.i18n.zones import clinic_zone, local_day_bounds
from app.keys import DB
from app.models import AuditEvent, Clinic, Consult, User

routes = web.RouteTableDef()
PAGE_SIZE = 50


@dataclass(frozen=True)
class Filters:
    clinic_id: str = ""
    action: str = ""
    date_from: date | None = None
    date_to: date | None = None
    page: int = 1

    def query(self, page: int) -> str:
        from urllib.parse import urlencode

        params = {
            "clinic_id": self.clinic_id,
            "action": self.action,
            "from": self.date_from.isoformat() if self.date_from else "",
            "to": self.date_to.isoformat() if self.date_to else "",
            "page": str(page),
        }
        return urlencode({k: v for k, v in params.items() if v})


def _date(q: Any, name: str, errors: dict[str, str]) -> date | None:
    value = q.get(name, "").strip()[:40]
    if not value:
        return None
    try:
        return v.day(value, name)
    except Invalid as e:
        errors[name] = e.message
        return None


def parse_filters(q: Any, clinic_ids: set[str], errors: dict[str, str] | None = None) -> Filters:
    """The page's filters; a bad date is left out and its message put in ``errors`` (msgids)."""
    errors = {} if errors is None else errors
    clinic_id = q.get("clinic_id", "")
    return Filters(
        clinic_id=clinic_id if clinic_id in clinic_ids else "",
        action=q.get("action", "")[:64],
        date_from=_date(q, "from", errors),
        date_to=_date(q, "to", errors),
        page=v.page(q.get("page")),
    )


@routes.get("/admin/audit")
@require("organisation_admin", "clinic_admin")
async def audit_page(request: web.Request) -> web.StreamResponse:
    user: AdminUser = request["user"]
    clinics: list[Clinic] = request["clinics"]
    errors: dict[str, str] = {}
    f = parse_filters(request.query, {c.id for c in clinics}, errors)
    where = [AuditEvent.organisation_id == user.organisation_id]
    if user.role == "clinic_admin":
        where.append(AuditEvent.clinic_id == (user.clinic_id or ""))
    if f.clinic_id:
        where.append(AuditEvent.clinic_id == f.clinic_id)
    if f.action:
        where.append(AuditEvent.action == f.action)
    # Days are those of the chosen clinic, or of the page's zone (named in the table's header).
    zone = next((clinic_zone(c) for c in clinics if c.id == f.clinic_id), request["zone"])
    if f.date_from:
        where.append(AuditEvent.at >= local_day_bounds(f.date_from, zone))
    if f.date_to:
        where.append(AuditEvent.at < local_day_bounds(f.date_to, zone, end=True))
    scope = [w for w in where[:2]] if user.role == "clinic_admin" else where[:1]
    async with request.app[DB].read() as s:
        total = await s.scalar(select(func.count()).select_from(AuditEvent).where(*where)) or 0
        events = list(
            (
                await s.scalars(
                    select(AuditEvent)
                    .where(*where)
                    .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
                    .limit(PAGE_SIZE)
                    .offset((f.page - 1) * PAGE_SIZE)
                )
            ).all()
        )
        actions = list((await s.scalars(select(AuditEvent.action).where(*scope).distinct())).all())
        people = (await s.execute(select(User.id, User.name, User.clinician_ref)
                                  .where(User.organisation_id == user.organisation_id))).all()
        names = {uid: name for uid, name, _ in people}
        # A clinician acts in a call by the host platform's id: their user's name, else the name the call gave.
        clinicians = {ref: name for _, name, ref in people if ref}
        consult_ids = {str(e.details.get("consult_id")) for e in events
                       if e.actor_type == "clinician" and isinstance(e.details, dict) and e.details.get("consult_id")}
        if consult_ids:
            for ref, name in (await s.execute(select(Consult.clinician_id, Consult.clinician_name)
                                              .where(Consult.id.in_(sorted(consult_ids))))).all():
                clinicians.setdefault(ref, name)
    pages = max(1, -(-total // PAGE_SIZE))
    t = translator(request)
    return render(
        request,
        "admin/audit.html",
        status_code=422 if errors else 200,
        errors={k: t.gettext(m) for k, m in errors.items()},
        events=events,
        total=total,
        filters=f,
        pages=pages,
        action_options=[("", t.gettext("All actions"))]
        + sorted(((a, action_label(a, t)) for a in actions), key=lambda o: o[1].casefold()),
        clinic_options=[("", t.gettext("Every clinic"))] + [(c.id, c.name) for c in clinics],
        user_names=names,
        sentences={e.id: sentence(e, t, names, clinicians) for e in events},
        zone=zone,
        clinic_names={c.id: c.name for c in clinics},
        prev_url=f"/admin/audit?{f.query(f.page - 1)}" if f.page > 1 else None,
        next_url=f"/admin/audit?{f.query(f.page + 1)}" if f.page < pages else None,
    )
