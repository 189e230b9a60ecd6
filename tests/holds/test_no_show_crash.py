"""A no-show's fee when the deciding process dies: after the decision, before Stripe heard of the capture.

The decision and the capture's amount and key are one transaction (docs/rules.md,
rule H4): the process dying after its commit leaves a stored capture, which the
``watch-holds`` job sends after the restart; the fee is charged once.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, update

from app.clock import ManualClock
from app.keys import DB, SERVICES
from app.models import AuditEvent, ConsultPatient
from app.payments.hold_service import HoldActions
from tests.factories import Live
from tests.holds.support import authorised_hold, intent_at_stripe, nothing_posted, posted_once, request_row


class Killed(BaseException):
    """The process dying where it stands: nothing after this point runs."""


async def test_killed_after_deciding_the_no_show_the_job_charges_the_fee_once(
    clocked: tuple[Live, ManualClock], monkeypatch: pytest.MonkeyPatch
) -> None:
    live, clock = clocked
    consult, clinician, patient, r = await authorised_hold(live, no_show_fee=30000)
    async with live.app[DB].write() as s:  # authorised in the waiting room, never let into the call
        await s.execute(update(ConsultPatient).where(ConsultPatient.consult_id == consult["id"])
                        .values(joined_at=None))
    services = live.app[SERVICES]
    # Never ended by the host: the consult runs out, and the no-shows job decides; its process dies
    # once the decision is committed, before Stripe is called.
    clock.advance(seconds=live.settings.consult_ttl_seconds + 60)

    def dies(*args: object) -> None:
        raise Killed

    with monkeypatch.context() as m:
        m.setattr(HoldActions, "send_capture", dies)
        with pytest.raises(Killed):
            await services.job("no-shows")()
    # Decided, and the capture stored with it; Stripe has not heard of it.
    stored = await request_row(live, r.id)
    assert (stored.status, stored.problem, stored.problem_detail, stored.description) == (
        "authorised", "capturing", "30000", "No-show fee")
    assert (await intent_at_stripe(live, stored))["status"] == "requires_capture"
    await nothing_posted(live)
    _, got = await live.api("GET", f"/api/v1/consults/{consult['id']}")
    no_show = got["patients"][0]["no_show"]
    assert (no_show["fee"], no_show["how"], no_show["request_id"]) == (30000, "hold", r.id)

    # After the restart: the no-shows job has nothing left to decide; watch-holds sends the stored capture.
    assert await services.job("no-shows")() == 0
    assert await services.job("watch-holds")() == 1
    assert await services.job("watch-holds")() == 0
    after = await request_row(live, r.id)
    assert (after.status, after.amount, after.checkout_attempt) == ("paid", 30000, stored.checkout_attempt)
    await posted_once(live, after, 30000)
    pi = await intent_at_stripe(live, after)
    assert (pi["status"], pi["amount_received"]) == ("succeeded", 30000)
    decided = await live.scalar(select(func.count()).select_from(AuditEvent)
                                .where(AuditEvent.action == "consult.no_show"))
    assert decided == 1
