"""Guard rails on amounts: a per-clinic maximum, and a confirmation above a per-clinic threshold.

Driven as the clinician's panel and the clinic's admin would: over Socket.IO and through
the admin's forms. Whatever is refused leaves nothing behind (no request, no card line).
"""

from __future__ import annotations

from sqlalchemy import func, select

from app.models import AuditEvent, BillCardLine, Clinic, PaymentRequest
from tests.admin.factories import make_user, signed_in
from tests.factories import Live

NOK_1_000_000 = 100_000_000


async def _count(live: Live, model: type) -> int:
    return int(await live.scalar(select(func.count()).select_from(model)))


async def test_a_million_is_refused_and_nothing_changes(live: Live) -> None:
    _, clinician, patient = await live.call_pair(language="en")
    ack = await clinician.call("payment:request", {"amount": NOK_1_000_000, "description": "Consultation",
                                                   "confirmed": True})
    assert ack["ok"] is False, ack
    assert ack["error"]["code"] == "amount_above_maximum"
    assert "NOK 50,000.00" in ack["error"]["message"].replace("\xa0", " "), ack
    assert await _count(live, PaymentRequest) == 0
    assert await _count(live, BillCardLine) == 0
    assert patient.named("payment:requested") == []


async def test_above_the_threshold_the_server_wants_confirmed_true(live: Live) -> None:
    _, clinician, patient = await live.call_pair(language="en")
    body = {"amount": 600_000, "description": "Surgery"}
    ack = await clinician.call("payment:request", body)
    assert ack["ok"] is False and ack["error"]["code"] == "confirmation_required", ack
    assert "NOK 5,000.00" in ack["error"]["message"].replace("\xa0", " ")
    assert await _count(live, PaymentRequest) == 0
    ack = await clinician.call("payment:request", {**body, "confirmed": "yes"})
    assert ack["ok"] is False and ack["error"].get("field") == "confirmed", ack
    assert await _count(live, PaymentRequest) == 0

    ack = await clinician.call("payment:request", {**body, "confirmed": True})
    assert ack["ok"] is True, ack
    await patient.wait_for("payment:requested")
    # At or under the threshold, nothing more is asked (the contract's v1 payload still works).
    ack = await clinician.call("payment:request", {"amount": 500_000, "description": "Consultation"})
    assert ack["ok"] is True, ack


async def test_admin_sets_the_limits_with_csrf_role_and_audit(live: Live) -> None:
    clinic_id = live.demo["clinic_id"]
    page = f"/admin/clinics/{clinic_id}/client-payments"
    member = await make_user(live, "team_member")
    async with await signed_in(live, member) as browser:
        refused = await browser.post(page + "/limits", {"max_amount": "1", "confirm_above": "1"})
        assert refused.status == 403

    admin = await make_user(live, "clinic_admin")
    async with await signed_in(live, admin) as browser:
        shown = await browser.get(page)
        assert shown.status == 200 and 'data-testid="limits-now"' in shown.text
        assert (await browser.post(page + "/limits", {"max_amount": "1000", "confirm_above": "500"},
                                   csrf="forged")).status == 403
        bad = await browser.post(page + "/limits", {"max_amount": "tusen", "confirm_above": "500"}, follow=True)
        assert "Enter the amount as a number" in bad.text
        upside_down = await browser.post(page + "/limits", {"max_amount": "100", "confirm_above": "500"},
                                         follow=True)
        assert "cannot be above the maximum" in upside_down.text
        clinic = await live.scalar(select(Clinic).where(Clinic.id == clinic_id))
        assert (clinic.max_request_amount, clinic.confirm_above_amount) == (5_000_000, 500_000)

        saved = await browser.post(page + "/limits", {"max_amount": "1 000", "confirm_above": "500,50"})
        assert saved.status == 303
    clinic = await live.scalar(select(Clinic).where(Clinic.id == clinic_id))
    assert (clinic.max_request_amount, clinic.confirm_above_amount) == (100_000, 50_050)
    event = await live.scalar(select(AuditEvent).where(AuditEvent.action == "clinic.amount_limits_set"))
    assert event is not None and event.actor_id == admin.id

    _, clinician, _ = await live.call_pair(language="en")
    ack = await clinician.call("payment:request", {"amount": 100_001, "description": "x", "confirmed": True})
    assert ack["error"]["code"] == "amount_above_maximum"
    assert "NOK 1,000.00" in ack["error"]["message"].replace("\xa0", " ")
    ack = await clinician.call("payment:request", {"amount": 60_000, "description": "x"})
    assert ack["error"]["code"] == "confirmation_required"
    # The panel learns the limits on connect, to ask before it sends.
    state = clinician.named("consult:state")[-1]
    assert state["limits"] == {"max_amount": 100_000, "confirm_above": 50_050}

