"""Bill cards for cash desk and report tests: made over REST as an accounting system would.

Until the MediPay pipeline is part of the app, ``exported`` and
``settled_by_medipay`` move a card the way the pipeline does — through the
status table (``transitions.transition``) and the card's MediPay columns — so
the desk and the reports can be tested on every status.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.billing.transitions import transition
from app.ids import new_id
from app.keys import CLOCK, DB
from app.models import BillCard, Payment
from tests.factories import PATIENT, Live


async def new_card(live: Live, name: str, patient_amount: int, refund_amount: int = 0, *,
                   book_id: str | None = None, admin_fee: bool = True, clinic_id: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "clinic_id": clinic_id or live.demo["clinic_id"],
        "patient": {**{k: v for k, v in PATIENT.items() if k != "id"}, "name": name},
        "lines": [{"code": "K01", "description": "Konsultasjon", "patient_amount": patient_amount,
                   "refund_amount": refund_amount}],
        "admin_fee": admin_fee,
    }
    if book_id:
        body["book_id"] = book_id
    status, card = await live.api("POST", "/api/v1/bill-cards", body)
    assert status == 201, card
    return card


async def move(live: Live, card_id: str, to: str, reason: str = "test", **columns: Any) -> None:
    async with live.app[DB].write() as s:
        card = await s.get(BillCard, card_id)
        assert card is not None
        await transition(s, card, to, reason, live.app[CLOCK].now())
        for key, value in columns.items():
            setattr(card, key, value)


async def exported(live: Live, card_id: str, at: datetime, admin_fee: int = 3900) -> None:
    async with live.app[DB].read() as s:
        card = await s.get(BillCard, card_id)
        assert card is not None
        share = card.patient_share
    await move(live, card_id, "open_exported", "exported to MediPay", exported_at=at, exported_patient_share=share,
               medipay_state="sent", medipay_admin_fee=admin_fee if card.admin_fee else 0)


async def settled_by_medipay(live: Live, card_id: str, method: str, amount: int, at: datetime) -> None:
    async with live.app[DB].write() as s:
        card = await s.get(BillCard, card_id)
        assert card is not None
        s.add(Payment(id=new_id("pay"), bill_card_id=card_id, organisation_id=card.organisation_id, method=method,
                      amount=amount, currency="NOK", reference=f"mp-{card_id}-{method}", registered_at=at))
    await move(live, card_id, "paid", f"paid by {method} in MediPay Checkout", medipay_state="paid")
