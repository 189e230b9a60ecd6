"""Client payments refuses the wrong roles, other clinics and forged forms, and changes nothing then."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.models import AuditEvent, Clinic, ClinicianAccount, StripeAccount
from tests.admin.factories import AdminClient, make_clinic, make_user, signed_in
from tests.connect.helpers import page
from tests.factories import Live


async def _snapshot(live: Live) -> tuple:
    return (
        await live.scalar(select(func.count()).select_from(StripeAccount)),
        await live.rows(select(StripeAccount.id, StripeAccount.status, StripeAccount.is_default)),
        await live.scalar(select(func.count()).select_from(ClinicianAccount)),
        await live.rows(select(Clinic.id, Clinic.fee_basis_points, Clinic.fee_fixed, Clinic.stripe_account_id)),
        await live.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.subject_type != "user")),
    )


def _routes(clinic_id: str, row_id: str) -> list[tuple[str, str, dict]]:
    base = page(clinic_id)
    return [
        ("GET", base, {}),
        ("GET", base + "/state", {}),
        ("POST", base + "/accounts", {"label": "Intruder", "nonce": "x1"}),
        ("GET", f"{base}/refresh/{row_id}", {}),
        ("GET", f"{base}/return/{row_id}", {}),
        ("POST", f"{base}/accounts/{row_id}/edit", {}),
        ("POST", f"{base}/accounts/{row_id}/dashboard", {}),
        ("POST", f"{base}/accounts/{row_id}/default", {}),
        ("GET", f"{base}/accounts/{row_id}/remove", {}),
        ("POST", f"{base}/accounts/{row_id}/remove", {}),
        ("POST", base + "/clinicians", {"clinician_ref": "u-1", "account_id": row_id}),
        ("POST", base + "/fee", {"fee_percent": "50"}),
    ]


async def _try_all(live: Live, client: AdminClient, clinic_id: str, row_id: str, expect: int) -> None:
    for method, path, form in _routes(clinic_id, row_id):
        if method == "GET":
            reply = await client.get(path)
        else:
            await client.get("/admin")
            reply = await client.post(path, form)
        assert reply.status == expect, (method, path, reply.status)
        if expect == 303:
            assert reply.location and reply.location.startswith("/admin/sign-in"), (path, reply.location)


@pytest.mark.parametrize("who", ["anonymous", "team_member", "clinic_admin_elsewhere", "org_admin_elsewhere"])
async def test_refused_and_nothing_changes(live: Live, who: str) -> None:
    clinic_id = live.demo["clinic_id"]
    row_id = await live.scalar(select(StripeAccount.id).where(StripeAccount.clinic_id == clinic_id))
    sibling = await make_clinic(live, live.demo["organisation_id"], name="Sibling clinic")
    if who == "anonymous":
        client = AdminClient(live.url)
        expect = 303
    elif who == "team_member":
        client = await signed_in(live, await make_user(live, "team_member", clinician_ref="u-1"))
        expect = 403
    elif who == "clinic_admin_elsewhere":
        client = await signed_in(live, await make_user(live, "clinic_admin", clinic_id=sibling.id))
        expect = 403
    else:
        other = await make_clinic(live, None, name="Other org clinic")
        client = await signed_in(live, await make_user(live, "organisation_admin",
                                                       organisation_id=other.organisation_id))
        expect = 403
    before = await _snapshot(live)
    try:
        await _try_all(live, client, clinic_id, row_id, expect)
    finally:
        await client.close()
    assert await _snapshot(live) == before


async def test_an_account_of_another_clinic_is_not_found(live: Live) -> None:
    """A clinic admin may not reach another clinic's account through their own clinic's URLs."""
    demo_row = await live.scalar(select(StripeAccount.id).where(StripeAccount.clinic_id == live.demo["clinic_id"]))
    sibling = await make_clinic(live, live.demo["organisation_id"], name="Sibling clinic")
    client = await signed_in(live, await make_user(live, "clinic_admin", clinic_id=sibling.id))
    before = await _snapshot(live)
    try:
        base = page(sibling.id)
        assert (await client.get(f"{base}/accounts/{demo_row}/remove")).status in (303, 404)
        await client.get(base)
        for suffix in ("remove", "default", "edit", "dashboard"):
            reply = await client.post(f"{base}/accounts/{demo_row}/{suffix}", follow=True)
            assert "Unknown Stripe account." in reply.text or reply.status == 404, suffix
    finally:
        await client.close()
    assert await _snapshot(live) == before


async def test_forms_without_the_csrf_token_are_refused(live: Live) -> None:
    clinic_id = live.demo["clinic_id"]
    client = await signed_in(live, await make_user(live, "organisation_admin"))
    before = await _snapshot(live)
    try:
        for path, form in ((page(clinic_id) + "/fee", {"fee_percent": "10"}),
                           (page(clinic_id) + "/accounts", {"label": "Forged"})):
            assert (await client.post(path, form, csrf=False)).status == 403
            assert (await client.post(path, form, csrf="forged")).status == 403
    finally:
        await client.close()
    assert await _snapshot(live) == before
