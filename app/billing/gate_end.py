"""A waiting room's unpaid gate once the call is over (docs/rules.md, rule H5).

A ``before_join`` gate is what the patient pays to get into the call. If the
call ended (or ran out) with it unpaid, the patient never got in, so it is not
owed: the request is cancelled and its line on the bill card voided, so neither
the MediPay transfer (SMS, invoice) nor the bill card asks for it. Whether the
patient owes a no-show fee instead is rule H4's to decide (``app/payments/no_shows.py``).

A gate whose payment page is open (``checkout_open``) is first closed at the
provider (``PaymentService.end_open_gates``): paid meanwhile, it is settled
instead; a payment under way (a delayed method) is left to finish.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.billing.cards import finish_unpaid
from app.billing.gates import PolicyKind
from app.billing.statuses import Onward
from app.models import PaymentRequest

REASON = "consultation ended before the patient joined"


# An unpaid gate request (with the consult's id: that consult's).
UNPAID_GATE = (PaymentRequest.kind == PolicyKind.BEFORE_JOIN, PaymentRequest.status == "requested")


async def cancel_unpaid_gates(s: AsyncSession, consult_id: str, now: datetime) -> list[PaymentRequest]:
    """Cancel the consult's unpaid ``before_join`` gates (in the caller's transaction); those cancelled."""
    gates = list(await s.scalars(
        select(PaymentRequest).where(PaymentRequest.consult_id == consult_id, *UNPAID_GATE)
        .order_by(PaymentRequest.created_at).with_for_update()))
    for r in gates:
        await cancel_gate(s, r, now)
    return gates


async def cancel_gate(s: AsyncSession, r: PaymentRequest, now: datetime) -> None:
    """One unpaid gate request (locked) cancelled: its line voided, nothing collected."""
    await finish_unpaid(s, r, "cancelled", REASON, now)
    r.onward = Onward.NOT_COLLECTED
