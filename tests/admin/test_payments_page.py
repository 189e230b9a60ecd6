"""The cash desk's Payments page: the list, refunds with a confirm step, and who may do what."""

from __future__ import annotations

import asyncio
import re

from sqlalchemy import func, select

from app.keys import DB
from app.ledger import journal
from app.models import AuditEvent, PaymentRefund, PaymentRequest
from tests.admin.factories import AdminClient, make_clinic, make_user, signed_in
from tests.consults.test_refunds import paid_request
from tests.factories import Live

KEY = re.compile(r'name="idempotency_key" value="([^"]+)"')


def plain(text: str) -> str:
    """Babel puts no-break spaces in money; compare with ordinary ones."""
    return text.replace("\xa0", " ").replace("\u202f", " ")


async def balances(live: Live) -> tuple[int, int]:
    async with live.app[DB].read() as s:
        b = await journal.balances(s, live.demo["clinic_id"])
    assert await live.ledger_balanced()
    return b[("stripe_clearing", "NOK")], b[("patient_revenue", "NOK")]


async def test_clinic_admin_refunds_part_then_org_admin_the_rest(live: Live) -> None:
    request, clinician, _ = await paid_request(live)
    admin = await make_user(live, "clinic_admin")
    async with await signed_in(live, admin) as browser:
        page = await browser.get("/admin/payments")
        assert page.status == 200
        assert request["id"] in page.text and "Kari Nordmann" in page.text and "NOK 450.00" in plain(page.text)

        # Step one asks; nothing is refunded yet.
        ask = await browser.post(f"/admin/payments/{request['id']}/refund", {"amount": "100,50"})
        assert ask.status == 200 and "Confirm refund" in ask.text and "NOK 100.50" in plain(ask.text)
        assert await live.scalar(select(func.count()).select_from(PaymentRefund)) == 0
        key = KEY.search(ask.text)
        assert key
        confirm = {"amount": "100,50", "confirm": "yes", "idempotency_key": key.group(1)}
        # Pressed twice (and once more after): one refund.
        first, second = await asyncio.gather(
            browser.post(f"/admin/payments/{request['id']}/refund", confirm),
            browser.post(f"/admin/payments/{request['id']}/refund", confirm),
        )
        assert first.status == second.status == 303 and first.location == "/admin/payments"
        again = await browser.post(f"/admin/payments/{request['id']}/refund", confirm)
        assert again.status == 303
        after = await browser.get("/admin/payments")
        assert "Refunded NOK 100.50" in plain(after.text) and "Partially refunded" in after.text

    row = await live.scalar(select(PaymentRequest).where(PaymentRequest.id == request["id"]))
    assert row.refunded_amount == 10050 and row.status == "partially_refunded"
    assert await live.scalar(select(func.count()).select_from(PaymentRefund)) == 1
    assert await balances(live) == (34950, -34950)
    await clinician.wait_for("payment:updated", lambda d: d["request"]["refunded_amount"] == 10050)
    audit = await live.rows(select(AuditEvent.actor_type, AuditEvent.actor_id).where(
        AuditEvent.action == "payment.refunded"))
    assert audit == [("user", admin.id)]

    boss = await make_user(live, "organisation_admin")
    async with await signed_in(live, boss) as browser:
        await browser.get("/admin/payments")
        ask = await browser.post(f"/admin/payments/{request['id']}/refund", {"amount": ""})
        assert "NOK 349.50" in plain(ask.text)
        key = KEY.search(ask.text)
        assert key
        done = await browser.post(f"/admin/payments/{request['id']}/refund",
                                  {"amount": "", "confirm": "yes", "idempotency_key": key.group(1)}, follow=True)
        assert done.status == 200 and "Refunded NOK 349.50" in plain(done.text)
        # Nothing left: the form is gone, and a forged post is refused with a message.
        await browser.get("/admin/payments")
        late = await browser.post(f"/admin/payments/{request['id']}/refund",
                                  {"confirm": "yes", "idempotency_key": "other"}, follow=True)
        assert "already been refunded in full" in late.text
    assert await balances(live) == (0, 0)


async def test_bad_amounts_are_refused_before_stripe(live: Live) -> None:
    request, _, _ = await paid_request(live)
    admin = await make_user(live, "clinic_admin")
    async with await signed_in(live, admin) as browser:
        await browser.get("/admin/payments")
        for bad in ("abc", "-5", "0", "1,234"):
            reply = await browser.post(f"/admin/payments/{request['id']}/refund",
                                       {"amount": bad, "confirm": "yes", "idempotency_key": bad}, follow=True)
            assert reply.status == 200 and 'role="status"' in reply.text, bad
        too_much = await browser.post(f"/admin/payments/{request['id']}/refund",
                                      {"amount": "451", "confirm": "yes", "idempotency_key": "x"}, follow=True)
        assert "larger than what remains" in too_much.text
    assert await live.scalar(select(func.count()).select_from(PaymentRefund)) == 0


async def test_roles_and_clinics_that_may_not(live: Live) -> None:
    request, _, _ = await paid_request(live)
    path = f"/admin/payments/{request['id']}/refund"
    form = {"confirm": "yes", "idempotency_key": "k"}

    async with AdminClient(live.url) as anonymous:
        assert (await anonymous.get("/admin/payments")).status == 303
        assert (await anonymous.post(path, form, csrf=False)).status == 303

    member = await make_user(live, "team_member", clinician_ref="u-1")
    async with await signed_in(live, member) as browser:
        assert (await browser.get("/admin/payments")).status == 403
        assert (await browser.post(path, form)).status == 403

    sibling = await make_clinic(live, live.demo["organisation_id"], name="Sibling clinic")
    other_admin = await make_user(live, "clinic_admin", clinic_id=sibling.id)
    async with await signed_in(live, other_admin) as browser:
        page = await browser.get("/admin/payments")
        assert page.status == 200 and request["id"] not in page.text
        assert (await browser.post(path, form)).status == 403

    stranger_clinic = await make_clinic(live)
    stranger = await make_user(live, "organisation_admin", organisation_id=stranger_clinic.organisation_id)
    async with await signed_in(live, stranger) as browser:
        page = await browser.get("/admin/payments")
        assert page.status == 200 and request["id"] not in page.text
        assert (await browser.post(path, form)).status == 403
        assert (await browser.post("/admin/payments/pr_nope/refund", form)).status == 404

    admin = await make_user(live, "clinic_admin")
    async with await signed_in(live, admin) as browser:
        await browser.get("/admin/payments")
        assert (await browser.post(path, form, csrf=False)).status == 403
        assert (await browser.post(path, form, csrf="forged")).status == 403

    assert await live.scalar(select(func.count()).select_from(PaymentRefund)) == 0
    assert await balances(live) == (45000, -45000)


async def test_a_refund_stripe_refuses_says_why_and_changes_nothing(live: Live) -> None:
    """The clinic's account cannot pay it back (balance): the admin is told what to check, not "try again"."""
    request, _, _ = await paid_request(live)
    admin = await make_user(live, "clinic_admin")
    await live.sandbox_control("POST", "/fail", {"path_prefix": "/v1/refunds", "method": "POST", "mode": "error",
                                                 "error": "balance_insufficient"})
    async with await signed_in(live, admin) as browser:
        await browser.get("/admin/payments")
        refused = await browser.post(f"/admin/payments/{request['id']}/refund",
                                     {"amount": "100", "confirm": "yes", "idempotency_key": "k-1"}, follow=True)
        assert refused.status == 200
        assert ("The clinic&#39;s Stripe account cannot make this refund now (balance_insufficient)" in refused.text
                or "The clinic's Stripe account cannot make this refund now (balance_insufficient)" in refused.text)
        assert "The refund could not be made" not in refused.text
    row = await live.scalar(select(PaymentRequest).where(PaymentRequest.id == request["id"]))
    assert row.refunded_amount == 0 and row.status == "paid"
    assert await balances(live) == (45000, -45000)
