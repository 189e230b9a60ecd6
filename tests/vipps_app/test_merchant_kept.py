"""A clinic's Vipps merchant is not forgotten while a payment waits in Vipps with it."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.errors import Conflict
from app.keys import SERVICES
from app.models import Payment, VippsMerchant
from tests.factories import Live
from tests.vipps_app.support import control, request_row, take_vipps


async def test_removing_or_replacing_the_merchant_waits_for_payments_in_vipps(live: Live) -> None:
    await take_vipps(live)
    org, clinic_id = live.demo["organisation_id"], live.demo["clinic_id"]
    merchants = live.app[SERVICES].vipps_merchants
    _, clinician, patient = await live.call_pair()
    ack = await clinician.call("payment:request", {"amount": 45000, "description": "Consultation"})
    request_id = ack["request"]["id"]
    chosen = await patient.call("payment:vipps", {"request_id": request_id})
    assert chosen["ok"], chosen
    row = await request_row(live, request_id)

    with pytest.raises(Conflict) as refused:
        await merchants.remove(org, clinic_id, actor_id=None)
    assert refused.value.code == "vipps_payments_waiting" and refused.value.params["requests"] == [request_id]
    with pytest.raises(Conflict):
        await merchants.save(org, clinic_id, merchant_serial_number="999123", client_id="another-client",
                             client_secret="another-secret", subscription_key="another-key", actor_id=None)
    kept = await live.scalar(select(VippsMerchant).where(VippsMerchant.clinic_id == clinic_id))
    assert kept is not None and kept.merchant_serial_number == row.vipps_msn

    # The patient approves; the payment settles with the merchant's keys; then it may go.
    await control(live, "POST", f"/payments/{row.vipps_msn}/{row.vipps_reference}/approve")
    await clinician.wait_for("payment:received", timeout=10)
    assert await live.rows(select(Payment.method, Payment.amount)) == [("vipps", 45000)]
    await merchants.remove(org, clinic_id, actor_id=None)
    assert await live.scalar(select(VippsMerchant).where(VippsMerchant.clinic_id == clinic_id)) is None
