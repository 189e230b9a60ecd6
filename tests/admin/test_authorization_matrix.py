"""Every admin route × every role × own / other clinic: the forbidden combinations are refused.

Routes are read from the app's router, so pages added later are covered
without touching this file. A route states its roles with ``require(...)``
(kept on the handler as ``__admin_roles__``); only the pages a stranger must
reach (sign-in, an invitation link) may go without.

For each route and actor:
- anonymous → 303 to the sign-in page;
- a role the route does not list → 403;
- a listed role aimed at a clinic it may not manage (another organisation's,
  or for a clinic admin another clinic of the same organisation) → 403
  (404 where the thing itself is not visible, e.g. another organisation's user);
- a listed role on its own clinic but without the CSRF token (unsafe methods) → 403;
and a refused request changes nothing in the database.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from app.keys import DB
from app.models import Base
from tests.admin.factories import AdminClient, make_clinic, make_user, signed_in
from tests.factories import Live

PUBLIC = {("GET", "/admin/sign-in"), ("POST", "/admin/sign-in"), ("GET", "/admin/invite/{token}"),
          ("POST", "/admin/invite/{token}")}
ACTORS = ("anonymous", "team_member", "clinic_admin", "organisation_admin")
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
# Tables whose rows may change on any request: the session's sliding last_seen_at.
VOLATILE = {"admin_sessions", "alembic_version"}


def admin_routes(live: Live) -> list[tuple[str, str, Any]]:
    found = []
    for route in live.app.router.routes():
        resource = route.resource
        if resource is None or route.method in ("HEAD", "*"):
            continue
        path = resource.canonical
        if path == "/admin" or path.startswith("/admin/"):
            found.append((route.method, path, route.handler))
    return sorted(found, key=lambda r: (r[1], r[0]))


async def snapshot(live: Live) -> dict[str, list[Any]]:
    async with live.app[DB].read() as s:
        out = {}
        for table in Base.metadata.sorted_tables:
            if table.name in VOLATILE:
                continue
            rows = (await s.execute(select(table))).all()
            out[table.name] = sorted(repr(tuple(r)) for r in rows)
        return out


@pytest.fixture
async def world(live: Live) -> dict[str, Any]:
    org = live.demo["organisation_id"]
    own = live.demo["clinic_id"]
    sibling = await make_clinic(live, org, name="Sibling clinic")
    foreign = await make_clinic(live, None, name="Foreign clinic")
    foreign_user = await make_user(live, "team_member", organisation_id=foreign.organisation_id, clinic_id=foreign.id)
    sibling_user = await make_user(live, "team_member", clinic_id=sibling.id)
    users = {role: await make_user(live, role, clinic_id=own if role != "organisation_admin" else None)
             for role in ACTORS[1:]}
    clients: dict[str, AdminClient] = {"anonymous": AdminClient(live.url)}
    for role, user in users.items():
        clients[role] = await signed_in(live, user)
    world = {"own": own, "sibling": sibling.id, "foreign": foreign.id, "foreign_user": foreign_user.id,
             "sibling_user": sibling_user.id, "clients": clients}
    yield world
    for client in clients.values():
        await client.close()


def fill(path: str, clinic_id: str, other: str) -> str:
    path = path.replace("{clinic_id}", clinic_id)
    return re.sub(r"\{[^}]+\}", other, path)


def cases(method: str, path: str, roles: tuple[str, ...], world: dict[str, Any]):
    """(actor, url, expected statuses, why) for every combination that must be refused."""
    has_clinic = "{clinic_id}" in path
    has_user = "{user_id}" in path
    for actor in ACTORS:
        targets = [("own", world["own"])]
        if has_clinic:
            targets += [("foreign", world["foreign"])]
            if actor == "clinic_admin":
                targets += [("sibling", world["sibling"])]
        for label, clinic in targets:
            other_ids = [("foreign user", world["foreign_user"])] if has_user else [("placeholder", "x-none")]
            if has_user and actor == "clinic_admin":
                other_ids.append(("sibling user", world["sibling_user"]))
            for other_label, other in other_ids:
                url = fill(path, clinic, other)
                if actor == "anonymous":
                    yield actor, url, {303}, "anonymous", True
                elif actor not in roles:
                    yield actor, url, {403}, f"role {actor} not in {roles}", True
                elif label != "own":
                    yield actor, url, {403}, f"{label} clinic", True
                elif has_user and other_label != "placeholder":
                    yield actor, url, {403, 404}, other_label, True
                elif method in UNSAFE:
                    yield actor, url, {403}, "no CSRF token", False


async def test_every_admin_route_states_its_roles(live):
    routes = admin_routes(live)
    assert len(routes) >= 10
    missing = [(m, p) for m, p, h in routes if (m, p) not in PUBLIC and not getattr(h, "__admin_roles__", None)]
    assert not missing, f"admin routes without require(...): {missing}"


async def test_authorization_matrix(live, world):
    checked = 0
    for method, path, handler in admin_routes(live):
        if (method, path) in PUBLIC:
            continue
        roles = handler.__admin_roles__
        for actor, url, expected, why, with_csrf in cases(method, path, roles, world):
            client: AdminClient = world["clients"][actor]
            before = await snapshot(live) if method in UNSAFE else None
            if method in UNSAFE:
                if actor != "anonymous" and client.csrf_token is None:
                    await client.get("/admin")
                reply = await client.request(
                    method, url, data={"csrf_token": client.csrf_token or ""} if with_csrf else {}
                )
            else:
                reply = await client.request(method, url)
            assert reply.status in expected, f"{actor} {method} {url} ({why}): {reply.status}"
            if reply.status == 303:
                assert reply.location and reply.location.startswith("/admin/sign-in"), reply.location
            if before is not None:
                assert await snapshot(live) == before, f"{actor} {method} {url} ({why}) changed the database"
            checked += 1
    assert checked > 50
    # It must not pass because the sessions died: every signed-in client still reaches its dashboard.
    for actor in ACTORS[1:]:
        assert (await world["clients"][actor].get("/admin")).status == 200

