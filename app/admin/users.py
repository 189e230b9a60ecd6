"""The Users pages: list, invite (and revoke), create, deactivate (and reactivate), clinician id;
and accepting an invitation."""

from __future__ import annotations

import secrets

from aiohttp import web
from aiohttp_session import get_session

from app.accounts.people import MIN_PASSWORD, NewPerson, People, assignable_roles, can_manage_user
from app.admin.auth import AdminUser, flash, page_error, render, require, translator
from app.admin.confirm import confirm_page, confirmed
from app.errors import DomainError, Forbidden, NotFound
from app.keys import CLOCK, DB, SETTINGS

routes = web.RouteTableDef()
ADMINS = ("organisation_admin", "clinic_admin")
INVITE_CSRF = "invite_csrf"


def people(request: web.Request) -> People:
    return People(request.app[DB], clock=request.app[CLOCK])


def _raise_page(request: web.Request, e: DomainError) -> None:
    if isinstance(e, Forbidden):
        raise page_error(request, 403, "Not allowed", e.message) from e
    if isinstance(e, NotFound):
        raise page_error(request, 404, "Not found", e.message) from e


async def _form_person(request: web.Request) -> tuple[NewPerson, str]:
    form = await request.post()

    def text(name: str, limit: int = 400) -> str:
        value = form.get(name, "")
        return value[:limit] if isinstance(value, str) else ""

    person = NewPerson(
        email=text("email"),
        name=text("name"),
        role=text("role", 40),
        clinic_id=text("clinic_id", 40) or None,
        clinician_ref=text("clinician_ref") or None,
    )
    return person, text("password", 2048)


def _new_user_page(request: web.Request, mode: str, *, person: NewPerson | None = None,
                   errors: dict[str, str] | None = None, status_code: int = 200) -> web.Response:
    user: AdminUser = request["user"]
    t = translator(request)
    roles = [(r, t.gettext(label)) for r, label in _ROLE_LABELS if r in assignable_roles(user)]
    return render(
        request, "admin/user_new.html", status_code=status_code, mode=mode,
        person=person or NewPerson(email="", name="", role="team_member", clinic_id=user.clinic_id),
        role_options=roles, errors=errors or {}, min_password=MIN_PASSWORD,
        clinic_options=[("", t.gettext("None (organisation admins only)"))]
        + [(c.id, c.name) for c in request["clinics"]],
    )


_ROLE_LABELS = (
    ("team_member", "Team member"),
    ("clinic_admin", "Clinic admin"),
    ("organisation_admin", "Organisation admin"),
)


@routes.get("/admin/users")
@require(*ADMINS)
async def users_page(request: web.Request) -> web.StreamResponse:
    actor: AdminUser = request["user"]
    service = people(request)
    users = await service.list_for(actor)
    invitations = await service.pending_invitations(actor)
    clinic_names = {c.id: c.name for c in request["clinics"]}
    return render(
        request, "admin/users.html", users=users, invitations=invitations, clinic_names=clinic_names,
        can_manage={u.id: can_manage_user(actor, u) and u.id != actor.id for u in users},
    )


@routes.get("/admin/users/invite")
@require(*ADMINS)
async def invite_form(request: web.Request) -> web.StreamResponse:
    return _new_user_page(request, "invite")


@routes.post("/admin/users/invite")
@require(*ADMINS)
async def invite(request: web.Request) -> web.StreamResponse:
    person, _ = await _form_person(request)
    t = translator(request)
    try:
        invited = await people(request).invite(request["user"], person)
    except DomainError as e:
        if not e.params.get("field"):
            _raise_page(request, e)
        field = str(e.params.get("field") or "email")
        return _new_user_page(request, "invite", person=person, errors={field: t.gettext(e.message)},
                              status_code=e.status)
    link = f"{request.app[SETTINGS].public_url}/admin/invite/{invited.token}"
    return render(request, "admin/invited.html", invitation=invited.invitation, link=link, status_code=201)


@routes.get("/admin/users/new")
@require(*ADMINS)
async def new_user_form(request: web.Request) -> web.StreamResponse:
    return _new_user_page(request, "create")


@routes.post("/admin/users/new")
@require(*ADMINS)
async def new_user(request: web.Request) -> web.StreamResponse:
    person, password = await _form_person(request)
    t = translator(request)
    try:
        created = await people(request).create(request["user"], person, password)
    except DomainError as e:
        if not e.params.get("field"):
            _raise_page(request, e)
        field = str(e.params.get("field") or "email")
        return _new_user_page(request, "create", person=person, errors={field: t.gettext(e.message)},
                              status_code=e.status)
    await flash(request, t.gettext("{name} can now sign in.").replace("{name}", created.name))
    raise web.HTTPSeeOther("/admin/users")


@routes.post("/admin/users/{user_id}/deactivate")
@require(*ADMINS)
async def deactivate(request: web.Request) -> web.StreamResponse:
    t = translator(request)
    actor: AdminUser = request["user"]
    user_id = request.match_info["user_id"]
    form = await request.post()
    try:
        # Deactivating yourself is refused at once (below); anyone else is confirmed first.
        if not confirmed(form) and user_id != actor.id:
            target = await people(request).managed_user(actor, user_id)
            return confirm_page(
                request, title=t.gettext("Deactivate {name}?").replace("{name}", target.name),
                warning=t.gettext("{name} is signed out at once and cannot sign in until an admin reactivates "
                                  "the account.").replace("{name}", target.name),
                details=[(t.gettext("Name"), target.name), (t.gettext("E-mail"), target.email)],
                action=f"/admin/users/{target.id}/deactivate", confirm_label=t.gettext("Deactivate"),
                back="/admin/users",
            )
        user = await people(request).deactivate(actor, user_id)
    except DomainError as e:
        _raise_page(request, e)
        await flash(request, t.gettext(e.message), "error")
        raise web.HTTPSeeOther("/admin/users") from e
    await flash(request, t.gettext("{name} was deactivated and signed out.").replace("{name}", user.name))
    raise web.HTTPSeeOther("/admin/users")


@routes.post("/admin/users/{user_id}/reactivate")
@require(*ADMINS)
async def reactivate(request: web.Request) -> web.StreamResponse:
    t = translator(request)
    try:
        user = await people(request).reactivate(request["user"], request.match_info["user_id"])
    except DomainError as e:
        _raise_page(request, e)
        await flash(request, t.gettext(e.message), "error")
        raise web.HTTPSeeOther("/admin/users") from e
    await flash(request, t.gettext("{name} can sign in again.").replace("{name}", user.name))
    raise web.HTTPSeeOther("/admin/users")


@routes.post("/admin/users/invitations/{invitation_id}/revoke")
@require(*ADMINS)
async def revoke_invitation(request: web.Request) -> web.StreamResponse:
    t = translator(request)
    actor: AdminUser = request["user"]
    invitation_id = request.match_info["invitation_id"]
    form = await request.post()
    try:
        if not confirmed(form):
            inv = await people(request).open_invitation(actor, invitation_id)
            return confirm_page(
                request, title=t.gettext("Revoke the invitation?"),
                warning=t.gettext("The invitation link stops working at once. You can invite the person again."),
                details=[(t.gettext("Name"), inv.name), (t.gettext("E-mail"), inv.email)],
                action=f"/admin/users/invitations/{inv.id}/revoke", confirm_label=t.gettext("Revoke the invitation"),
                back="/admin/users",
            )
        inv = await people(request).revoke_invitation(actor, invitation_id)
    except DomainError as e:
        _raise_page(request, e)
        await flash(request, t.gettext(e.message), "error")
        raise web.HTTPSeeOther("/admin/users") from e
    await flash(request, t.gettext("The invitation to {email} was revoked.").replace("{email}", inv.email))
    raise web.HTTPSeeOther("/admin/users")


@routes.post("/admin/users/{user_id}/clinician-ref")
@require(*ADMINS)
async def clinician_ref(request: web.Request) -> web.StreamResponse:
    t = translator(request)
    form = await request.post()
    value = form.get("clinician_ref", "")
    try:
        user = await people(request).set_clinician_ref(
            request["user"], request.match_info["user_id"], value if isinstance(value, str) else ""
        )
    except DomainError as e:
        _raise_page(request, e)
        await flash(request, t.gettext(e.message), "error")
        raise web.HTTPSeeOther("/admin/users") from e
    await flash(request, t.gettext("Saved the clinician id of {name}.").replace("{name}", user.name))
    raise web.HTTPSeeOther("/admin/users")


# --- accepting an invitation (not signed in) -------------------------------------------


async def _invite_csrf(request: web.Request) -> str:
    session = await get_session(request)
    token = session.get(INVITE_CSRF)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session[INVITE_CSRF] = token
    return token


@routes.get("/admin/invite/{token}")
async def invitation_page(request: web.Request) -> web.StreamResponse:
    try:
        inv = await people(request).invitation(request.match_info["token"])
    except NotFound as e:
        raise page_error(request, 404, "Not found", e.message) from e
    request["csrf_token"] = await _invite_csrf(request)
    return render(request, "admin/invitation.html", invitation=inv, errors={}, name=inv.name,
                  min_password=MIN_PASSWORD)


@routes.post("/admin/invite/{token}")
async def accept_invitation(request: web.Request) -> web.StreamResponse:
    t = translator(request)
    session = await get_session(request)
    form = await request.post()
    expected, sent = session.get(INVITE_CSRF), form.get("csrf_token")
    # compare_digest refuses non-ASCII text with a TypeError: compare bytes.
    if not isinstance(expected, str) or not isinstance(sent, str) or \
            not secrets.compare_digest(expected.encode(), sent.encode(errors="replace")):
        raise page_error(request, 403, "Not allowed", "The form has expired. Go back, reload the page and try again.")
    token = request.match_info["token"]
    service = people(request)
    name = form.get("name", "")
    password = form.get("password", "")
    name = name[:400] if isinstance(name, str) else ""
    password = password[:2048] if isinstance(password, str) else ""
    try:
        inv = await service.invitation(token)
        if password != form.get("password_again", ""):
            request["csrf_token"] = sent
            return render(request, "admin/invitation.html", status_code=422, invitation=inv, name=name,
                          min_password=MIN_PASSWORD,
                          errors={"password_again": t.gettext("The two passwords are not the same.")})
        await service.accept(token, name=name, password=password)
    except NotFound as e:
        raise page_error(request, 404, "Not found", e.message) from e
    except DomainError as e:
        field = str(e.params.get("field") or "password")
        request["csrf_token"] = sent
        return render(request, "admin/invitation.html", status_code=e.status, invitation=inv, name=name,
                      min_password=MIN_PASSWORD, errors={field: t.gettext(e.message)})
    session.pop(INVITE_CSRF, None)
    await flash(request, t.gettext("Your account is ready. Sign in with your e-mail and new password."))
    raise web.HTTPSeeOther("/admin/sign-in")
