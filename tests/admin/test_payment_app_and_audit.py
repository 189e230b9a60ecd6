"""The payment app: requested by a clinic admin, approved or rejected by an organisation admin; the audit page."""

from __future__ import annotations

from sqlalchemy import select

from app.models import AuditEvent, Clinic, PaymentAppRequest
from tests.admin.factories import make_clinic, make_user, signed_in


async def clinic_row(live, clinic_id: str) -> Clinic:
    return await live.scalar(select(Clinic).where(Clinic.id == clinic_id))


async def test_new_clinics_start_without_the_payment_app_and_the_demo_is_approved_by_the_system(live):
    clinic = await make_clinic(live, live.demo["organisation_id"], name="Fresh", enabled=False)
    assert (await clinic_row(live, clinic.id)).payment_app_enabled is False
    assert (await clinic_row(live, live.demo["clinic_id"])).payment_app_enabled is True
    seeded = await live.scalar(
        select(AuditEvent).where(AuditEvent.clinic_id == live.demo["clinic_id"],
                                 AuditEvent.action == "payment_app.approved")
    )
    assert seeded.actor_type == "system"


async def test_request_then_approve(live):
    clinic = await make_clinic(live, live.demo["organisation_id"], name="Fjord", enabled=False)
    clinic_admin = await make_user(live, "clinic_admin", clinic_id=clinic.id)
    org_admin = await make_user(live, "organisation_admin")
    async with await signed_in(live, clinic_admin) as ca, await signed_in(live, org_admin) as oa:
        page = await ca.get("/admin")
        assert "Request the payment app" in page.text
        assert (await ca.post(f"/admin/clinics/{clinic.id}/payment-app/request")).status == 303
        page = await ca.get("/admin")
        assert "Requested, waiting for approval" in page.text
        await ca.post(f"/admin/clinics/{clinic.id}/payment-app/request")
        assert "already been requested" in (await ca.get("/admin")).text
        assert (await ca.post(f"/admin/clinics/{clinic.id}/payment-app/approve")).status == 403  # not theirs to decide
        dash = await oa.get("/admin")
        assert 'data-testid="approvals"' in dash.text and "Payment app for Fjord" in dash.text
        assert (await oa.post(f"/admin/clinics/{clinic.id}/payment-app/approve")).status == 303
        assert "The payment app is enabled for Fjord." in (await oa.get("/admin")).text
    assert (await clinic_row(live, clinic.id)).payment_app_enabled is True
    req = await live.scalar(select(PaymentAppRequest).where(PaymentAppRequest.clinic_id == clinic.id))
    assert req.status == "approved" and req.requested_by == clinic_admin.id and req.decided_by == org_admin.id
    trail = await live.rows(
        select(AuditEvent.action, AuditEvent.actor_id).where(AuditEvent.clinic_id == clinic.id).order_by(AuditEvent.id)
    )
    assert [a for a in trail if a[0].startswith("payment_app.")] == [
        ("payment_app.requested", clinic_admin.id), ("payment_app.approved", org_admin.id)
    ]


async def test_reject_keeps_it_off_and_a_new_request_is_possible(live):
    clinic = await make_clinic(live, live.demo["organisation_id"], name="Vik", enabled=False)
    clinic_admin = await make_user(live, "clinic_admin", clinic_id=clinic.id)
    org_admin = await make_user(live, "organisation_admin")
    async with await signed_in(live, clinic_admin) as ca, await signed_in(live, org_admin) as oa:
        await ca.post(f"/admin/clinics/{clinic.id}/payment-app/request")
        await oa.get("/admin")
        assert (await oa.post(f"/admin/clinics/{clinic.id}/payment-app/reject")).status == 303
        assert (await clinic_row(live, clinic.id)).payment_app_enabled is False
        await oa.post(f"/admin/clinics/{clinic.id}/payment-app/reject")
        assert "no pending request" in (await oa.get("/admin")).text
        assert (await ca.post(f"/admin/clinics/{clinic.id}/payment-app/request")).status == 303
    statuses = [s for (s,) in await live.rows(
        select(PaymentAppRequest.status).where(PaymentAppRequest.clinic_id == clinic.id)
        .order_by(PaymentAppRequest.requested_at))]
    assert sorted(statuses) == ["pending", "rejected"]


async def test_org_admin_creates_a_clinic_and_enables_it_directly(live):
    org_admin = await make_user(live, "organisation_admin")
    async with await signed_in(live, org_admin) as oa:
        await oa.get("/admin/clinics/new")
        bad = await oa.post("/admin/clinics/new", {"name": " ", "currency": "NOK"})
        assert bad.status == 422 and "Enter a name." in bad.text
        assert (await oa.post("/admin/clinics/new", {"name": "Nordlys", "currency": "SEK"})).status == 303
        clinic = await live.scalar(select(Clinic).where(Clinic.name == "Nordlys"))
        assert clinic.currency == "SEK" and clinic.payment_app_enabled is False
        assert (await oa.post(f"/admin/clinics/{clinic.id}/payment-app/approve")).status == 303
    assert (await clinic_row(live, clinic.id)).payment_app_enabled is True
    actions = [a for (a,) in await live.rows(
        select(AuditEvent.action).where(AuditEvent.clinic_id == clinic.id).order_by(AuditEvent.id))]
    assert actions == ["clinic.created", "payment_app.approved"]


async def test_audit_page_scope_filters_pagination_and_read_only(live):
    sibling = await make_clinic(live, live.demo["organisation_id"], name="Sibling", enabled=False)
    sibling_admin = await make_user(live, "clinic_admin", clinic_id=sibling.id)
    clinic_admin = await make_user(live, "clinic_admin")
    org_admin = await make_user(live, "organisation_admin")
    async with await signed_in(live, sibling_admin) as sa:
        await sa.post(f"/admin/clinics/{sibling.id}/payment-app/request")
    async with await signed_in(live, org_admin) as oa, await signed_in(live, clinic_admin) as ca:
        page = await oa.get("/admin/audit")
        assert page.status == 200 and "payment_app.requested" in page.text and "payment_app.approved" in page.text
        assert '<form method="post"' not in page.text.split("<main", 1)[1]  # nothing on it edits anything
        only = await oa.get("/admin/audit?action=payment_app.requested")
        assert 'data-action="payment_app.requested"' in only.text and 'data-action="user.signed_in"' not in only.text
        mine = await ca.get("/admin/audit")
        assert "payment_app.requested" not in mine.text  # another clinic's event
        assert 'data-action="user.signed_in"' in mine.text
        forced = await ca.get(f"/admin/audit?clinic_id={sibling.id}")
        assert "payment_app.requested" not in forced.text
        future = await oa.get("/admin/audit?from=2099-01-01")
        assert "Nothing matches these filters." in future.text
        # A bad date is said so on the page (the rest of the filters still apply); a bad page is page 1.
        junk = await oa.get("/admin/audit?page=abc&from=not-a-date")
        assert junk.status == 422 and "YYYY-MM-DD" in junk.text


async def test_audit_page_is_paginated_newest_first(live):
    from datetime import timedelta

    from app import audit
    from app.keys import CLOCK, DB

    org_admin = await make_user(live, "organisation_admin")
    start = live.app[CLOCK].now() - timedelta(days=1)
    async with live.app[DB].write() as s:
        for n in range(60):
            audit.record(s, organisation_id=live.demo["organisation_id"], clinic_id=live.demo["clinic_id"],
                         actor_type="system", actor_id="test", action="test.numbered", subject_type="n",
                         subject_id=f"n-{n:02d}", at=start + timedelta(minutes=n))
    async with await signed_in(live, org_admin) as oa:
        first = await oa.get("/admin/audit?action=test.numbered")
        assert first.text.count('data-action="test.numbered"') == 50
        assert first.text.index("n-59") < first.text.index("n-58") and "n-09" not in first.text
        assert "Page 1 of 2" in first.text and 'rel="next"' in first.text
        second = await oa.get("/admin/audit?action=test.numbered&page=2")
        assert second.text.count('data-action="test.numbered"') == 10 and "n-00" in second.text
