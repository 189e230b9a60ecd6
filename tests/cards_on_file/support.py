"""A card saved the way a patient does it: the waiting room's Checkout in setup mode, through the sandbox."""

from __future__ import annotations

from typing import Any

from app.models import PaymentRequest
from tests.factories import Live, Peer

# Saving a card (or a declined charge), like authorising a hold, is not revenue: ``nothing_posted``.
from tests.holds.support import nothing_posted as nothing_posted
from tests.holds.support import posted_once, request_row

CARD_ON_FILE = {"kind": "card_on_file", "amount": 60000, "description": "Consultation"}
VISA = "4242 4242 4242 4242"
NEEDS_AUTHENTICATION = "4000 0027 6000 3184"  # Stripe's: authentication required on every charge
DECLINED_LATER = "4000 0000 0000 0341"  # Stripe's: attaches, every charge declined


async def saved_card(live: Live, card: str = VISA, **policy: Any) -> tuple[dict[str, Any], Peer, Peer, PaymentRequest]:
    """A consult whose patient saved a card in the waiting room; the clinician is told."""
    consult = await live.consult(payment_policy={**CARD_ON_FILE, **policy})
    gate = consult["patients"][0]["gate"]
    assert (gate["kind"], gate["status"], gate["amount"]) == ("card_on_file", "waiting", 60000)
    clinician = await live.peer(consult["clinician"]["token"])
    await clinician.wait_for("consult:state")
    patient = await live.peer(consult["patients"][0]["token"])
    await patient.wait_for("consult:state")
    ack = await patient.call("payment:checkout", {"request_id": gate["request_id"]})
    assert ack["ok"], ack
    status, final_url, page = await live.pay_on_hosted_page(ack["url"], card)
    assert status == 200 and final_url.startswith(live.url + "/checkout/return")
    # Back from Stripe, the patient reads that the card is saved and nothing was charged.
    assert 'data-outcome="card_saved"' in page
    told = await clinician.wait_for("payment:updated", lambda d: d["request"]["status"] == "card_saved")
    assert told["request"]["kind"] == "card_on_file" and told["request"]["authorised_at"]
    return consult, clinician, patient, await request_row(live, gate["request_id"])


async def charged_once(live: Live, r: PaymentRequest, amount: int) -> None:
    """One payment of ``amount`` for the saved card, its balanced journal entry, and one receipt."""
    await posted_once(live, r, amount, receipt_method="card_on_file")
