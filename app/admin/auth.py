"""What every admin page builds on: who is signed in, what they may do, and the page frame.

    @routes.get("/admin/clinics/{clinic_id}/things")
    @require("organisation_admin", "clinic_admin")
    async def things(request):
        clinic = await load_clinic_for(request, request.match_info["clinic_id"])
        return render(request, "admin/things.html", clinic=clinic)

``require`` answers, in this order: not signed in (no, expired or revoked
session) → 303 to the sign-in page, back here after; a role not listed → 403;
a state-changing method without the session's CSRF token (form field
``csrf_token`` or header ``X-CSRF-Token``) → 403. Then it sets
``request["user"]`` and calls the handler. The roles it was given stay on the
handler as ``__admin_roles__``, which the authorization-matrix test reads.

Clinic checks are the handler's job (``load_clinic_for`` or
``can_manage_clinic``), because only the handler knows which clinic a request
is about.
"""

from __future__ import annotations

import functools
import hmac
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

import aiohttp_jinja2
from aiohttp import web
from aiohttp_session import Session, get_session
from sqlalchemy import select

from app.accounts.clinic_settings import zone_for
from app.accounts.sessions import ROLES, AdminUser, SignedIn
from app.admin.labels import Words
from app.billing.statuses import CARD_LABELS
from app.i18n import Translator, get_translator, negotiate_locale
from app.i18n.zones import clinic_zone, format_instant
from app.keys import ADMIN_SESSIONS, DB
from app.models import Clinic
from app.web.pages import context

__all__ = [
    "ROLES",
    "AdminUser",
    "can_manage_clinic",
    "flash",
    "load_clinic_for",
    "page_error",
    "render",
    "require",
    "translator",
]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SIGN_IN = "/admin/sign-in"
COOKIE_TOKEN = "t"  # the session token inside the encrypted cookie
RANK = {"team_member": 0, "clinic_admin": 1, "organisation_admin": 2}

# (path template, label msgid). Shown when the route exists and the user's role may open it.
NAV = (
    ("/admin", "Dashboard"),
    ("/admin/clinics/{clinic_id}/client-payments", "Client payments"),
    ("/admin/payments", "Payments"),
    ("/admin/receipts", "Receipts"),
    ("/admin/cash-desk", "Cash desk"),
    ("/admin/reports/settlement", "Reports"),
    ("/admin/export-settings", "Export settings"),
    ("/admin/users", "Users"),
    ("/admin/audit", "Audit trail"),
)


# --- who and what ------------------------------------------------------------------------


def can_manage_clinic(user: AdminUser, clinic: Clinic) -> bool:
    if clinic.organisation_id != user.organisation_id:
        return False
    if user.role == "organisation_admin":
        return True
    if user.role == "clinic_admin":
        return clinic.id == user.clinic_id
    return False


def lang_of(request: web.Request) -> str:
    """The reader's language from their browser, with a region we format for (``"en-AU"``); English if none we have."""
    return negotiate_locale(request.headers.get("Accept-Language"))


def translator(request: web.Request) -> Translator:
    """The reader's language, for messages built in Python (flashes, form errors)."""
    return get_translator(lang_of(request))


def safe_next(value: str | None) -> str:
    """Only a local admin path may be a redirect target (no open redirects)."""
    if not value or not value.startswith("/admin") or value.startswith("//") or "\\" in value:
        return "/admin"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return "/admin"
    return value


def sign_in_url(request: web.Request) -> str:
    target = request.path_qs if request.method == "GET" else request.path
    return f"{SIGN_IN}?next={quote(target, safe='')}"


async def signed_in(request: web.Request) -> SignedIn | None:
    """The request's signed-in session, or None. Cached on the request."""
    if "signed_in" in request:
        return request["signed_in"]  # type: ignore[no-any-return]
    session = await get_session(request)
    request["admin_cookie"] = session
    result = await request.app[ADMIN_SESSIONS].resolve(session.get(COOKIE_TOKEN))
    if result is None and COOKIE_TOKEN in session:
        session.pop(COOKIE_TOKEN, None)  # stale: drop it so the browser stops sending it
    request["signed_in"] = result
    return result


async def _csrf_ok(request: web.Request, expected: str) -> bool:
    sent = request.headers.get("X-CSRF-Token")
    if sent is None and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        value = form.get("csrf_token")
        sent = value if isinstance(value, str) else None
    return bool(sent) and hmac.compare_digest(sent.encode(), expected.encode())  # type: ignore[union-attr]


async def _manageable_clinics(request: web.Request, user: AdminUser) -> list[Clinic]:
    if user.role == "team_member":
        return []
    query = select(Clinic).where(Clinic.organisation_id == user.organisation_id)
    if user.role == "clinic_admin":
        query = query.where(Clinic.id == (user.clinic_id or ""))
    async with request.app[DB].read() as s:
        return list((await s.scalars(query.order_by(Clinic.name, Clinic.id))).all())


async def _page_zone(request: web.Request, user: AdminUser, clinics: list[Clinic]) -> ZoneInfo:
    """The zone a page's dates are in: the clinic it is about, the reader's own, else the organisation's default."""
    wanted = request.match_info.get("clinic_id") or user.clinic_id
    for clinic in clinics:
        if clinic.id == wanted:
            return clinic_zone(clinic)
    if clinics:
        return clinic_zone(min(clinics, key=lambda c: (c.created_at, c.id)))
    return await zone_for(request.app[DB], user.organisation_id, user.clinic_id)


def require(*roles: str) -> Callable[[Handler], Handler]:
    """Decorate an admin handler: signed in, one of ``roles``, CSRF on unsafe methods."""
    unknown = set(roles) - set(ROLES)
    if not roles or unknown:
        raise ValueError(f"require() needs roles from {ROLES}, got {roles}")

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def wrapper(request: web.Request) -> web.StreamResponse:
            who = await signed_in(request)
            if who is None:
                raise web.HTTPSeeOther(sign_in_url(request))
            request["user"] = who.user
            request["csrf_token"] = who.csrf_token
            if who.user.role not in roles:
                return forbidden(request)
            if request.method in UNSAFE_METHODS and not await _csrf_ok(request, who.csrf_token):
                return forbidden(request, "The form has expired. Go back, reload the page and try again.")
            request["clinics"] = await _manageable_clinics(request, who.user)
            request["zone"] = await _page_zone(request, who.user, request["clinics"])
            return await handler(request)

        wrapper.__admin_roles__ = tuple(roles)  # type: ignore[attr-defined]
        return wrapper

    return decorate


async def load_clinic_for(request: web.Request, clinic_id: str) -> Clinic:
    """The clinic, if the signed-in user may manage it; else a 404 or 403 page (raised)."""
    user: AdminUser = request["user"]
    clinic = None
    if 0 < len(clinic_id) <= 40:
        async with request.app[DB].read() as s:
            clinic = await s.get(Clinic, clinic_id)
    if clinic is None:
        raise page_error(request, 404, "Not found", "There is no such clinic.")
    if not can_manage_clinic(user, clinic):
        raise page_error(request, 403, "Not allowed", "You do not have access to this page.")
    return clinic


# --- pages ------------------------------------------------------------------------------


async def flash(request: web.Request, message: str, kind: str = "success") -> None:
    """A one-time notice for the next page (after a POST's redirect). ``message`` is already translated."""
    session = await get_session(request)
    session["flash"] = [*session.get("flash", []), [kind, message]][-5:]


def _routes_roles(app: web.Application) -> dict[str, tuple[str, ...]]:
    found: dict[str, tuple[str, ...]] = {}
    for route in app.router.routes():
        if route.method == "GET" and route.resource is not None:
            roles = getattr(route.handler, "__admin_roles__", None)
            if roles is not None:
                found[route.resource.canonical] = roles
    return found


def _nav(request: web.Request, user: AdminUser, clinics: list[Clinic], t: Translator) -> list[tuple[str, str, bool]]:
    routes = _routes_roles(request.app)
    current = request.match_info.get("clinic_id")
    clinic_id = next(
        (c.id for c in clinics if c.id == current),
        next((c.id for c in clinics if c.id == user.clinic_id), clinics[0].id if clinics else None),
    )
    items = []
    for template, label in NAV:
        roles = routes.get(template)
        if roles is None or user.role not in roles:
            continue
        if "{clinic_id}" in template:
            if clinic_id is None:
                continue
            href = template.replace("{clinic_id}", clinic_id)
        else:
            href = template
        active = request.path == href or (href != "/admin" and request.path.startswith(href + "/"))
        items.append((href, t.gettext(label), active))
    return items


def render(request: web.Request, template: str, *, status_code: int = 200, **ctx: Any) -> web.Response:
    """Render an admin page with the common context.

    Templates get ``_``/``ngettext``/``lang``/``format_money``/``static_url``/``i18n_js``
    (as every page), plus ``user``, ``csrf_token``, ``nav`` (href, label, active),
    ``clinics`` (those the user may manage), ``flashes`` ((kind, message) pairs),
    ``zone`` (the page's time zone; a handler may pass its own), ``clinic_zones``
    (clinic id → zone) and ``format_when(instant, zone=None)``: local time in the
    reader's language, in ``zone`` or the page's.
    """
    lang = lang_of(request)
    t = get_translator(lang)
    user: AdminUser | None = request.get("user")
    clinics: list[Clinic] = request.get("clinics", [])
    flashes: list[Any] = []
    cookie: Session | None = request.get("admin_cookie")
    if cookie is not None and cookie.get("flash"):
        flashes = [tuple(item) for item in cookie.pop("flash")]
    zone: ZoneInfo = ctx.pop("zone", None) or request.get("zone") or clinic_zone(None)
    base = context(
        lang,
        zone=zone,
        clinic_zones={c.id: clinic_zone(c) for c in clinics},
        format_when=lambda value, tz=None: format_instant(value, tz or zone, lang),
        words=Words(t),
        user=user,
        csrf_token=request.get("csrf_token", ""),
        nav=_nav(request, user, clinics, t) if user is not None else [],
        clinics=clinics,
        flashes=flashes,
        role_label=lambda role: t.gettext(ROLE_LABELS.get(role, role)),
        card_label=lambda code: t.gettext(CARD_LABELS.get(code, code)),
    )
    base.update(ctx)
    response = aiohttp_jinja2.render_template(template, request, base, status=status_code)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    )
    response.headers["X-Frame-Options"] = "DENY"
    return response


ROLE_LABELS = {
    "organisation_admin": "Organisation admin",
    "clinic_admin": "Clinic admin",
    "team_member": "Team member",
}


def forbidden(request: web.Request, message: str = "You do not have access to this page.") -> web.Response:
    return _error_response(request, 403, "Not allowed", message)


def _error_response(request: web.Request, status: int, title: str, message: str) -> web.Response:
    t = translator(request)
    return render(
        request, "admin/error.html", status_code=status, status=status, title=t.gettext(title),
        message=t.gettext(message),
    )


def page_error(request: web.Request, status: int, title: str, message: str) -> web.HTTPException:
    """A rendered 4xx page to raise from a handler (``title``/``message`` are msgids)."""
    page = _error_response(request, status, title, message)
    cls = {400: web.HTTPBadRequest, 403: web.HTTPForbidden, 404: web.HTTPNotFound, 409: web.HTTPConflict}.get(
        status, web.HTTPBadRequest
    )
    return cls(text=page.text, content_type="text/html", headers={"Cache-Control": "no-store"})
